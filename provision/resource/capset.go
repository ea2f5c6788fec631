package resource

import (
	"fmt"
	"strings"

	"github.com/perfprov/perfprov/internal/linuxcap"
)

// ParseGetcap parses one line of getcap output for path, in either libcap format:
//
//	/usr/bin/perf = cap_sys_ptrace,cap_syslog,38+ep    (libcap < 2.41)
//	/usr/bin/perf cap_sys_ptrace,cap_syslog,cap_perfmon=ep    (libcap >= 2.41)
//
// A trailing " [rootid=N]" (namespaced file caps) is ignored. Empty output is the empty set.
func ParseGetcap(line, path string) (linuxcap.Set, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return linuxcap.Set{}, nil
	}
	if !strings.HasPrefix(line, path) {
		return linuxcap.Set{}, fmt.Errorf("getcap output %q does not start with %s", line, path)
	}
	rest := strings.TrimSpace(line[len(path):])
	if i := strings.Index(rest, "["); i >= 0 {
		rest = strings.TrimSpace(rest[:i])
	}
	return linuxcap.ParseText(rest)
}
