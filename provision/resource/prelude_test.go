package resource

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/prelude"
)

// recordingPath is a PATH whose first directory holds, for each command a read may start, a
// wrapper that writes the command's name to the returned log before it runs the real one: what
// a read starts, by name, is in the log (builtins and the shell's own forks are not).
func recordingPath(t *testing.T) (path, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	for _, name := range []string{"stat", "awk", "getent", "id", "sha256sum", "getcap", "setcap", "readlink", "od", "sed", "tr", "cat", "head", "ls"} {
		real, err := exec.LookPath(name)
		if err != nil {
			for _, d := range []string{"/usr/sbin", "/sbin"} {
				if _, err := os.Stat(filepath.Join(d, name)); err == nil {
					real = filepath.Join(d, name)
				}
			}
		}
		if real == "" {
			continue
		}
		script := fmt.Sprintf("#!/bin/sh\necho %s >> %s\nexec %s \"$@\"\n", name, log, real)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir + ":" + os.Getenv("PATH"), log
}

// batchRead runs the snippets in one shell after the prelude of their resources, each framed (as
// the engine's batch does, in that shell), and returns each one's output and what was started.
func batchRead(t *testing.T, sh []string, rs []Resource, withPrelude bool) (outs [][]byte, started []string) {
	t.Helper()
	path, log := recordingPath(t)
	var plan prelude.Plan
	var b strings.Builder
	for _, r := range rs {
		if p, ok := r.(Preluder); ok {
			plan.Add(p.Prelude())
		}
	}
	if withPrelude {
		b.WriteString(prelude.Script(plan))
	}
	for i, r := range rs {
		fmt.Fprintf(&b, "printf '\\n@@B %d\\n'\n{\n%s\n} </dev/null\ncd / ; printf '\\n@@E %d\\n'\n", i, r.ReadScript(), i)
	}
	cmd := exec.Command(sh[0], append(sh[1:], "-c", b.String())...)
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("batch: %v\n%s", err, out)
	}
	for i := range rs {
		_, rest, _ := bytes.Cut(out, []byte(fmt.Sprintf("\n@@B %d\n", i)))
		body, _, _ := bytes.Cut(rest, []byte(fmt.Sprintf("\n@@E %d\n", i)))
		outs = append(outs, body)
	}
	l, _ := os.ReadFile(log)
	started = strings.Fields(string(l))
	sort.Strings(started)
	return outs, started
}

// readResources are resources of every type whose read can use the prelude, on paths of this
// machine that a test may read (nothing is applied).
func readResources(t *testing.T) []Resource {
	t.Helper()
	dir := trustedTempDir(t)
	odd := filepath.Join(dir, "a |b c")
	os.WriteFile(odd, []byte("x"), 0o640)
	os.Mkdir(filepath.Join(dir, "d"), 0o750)
	os.Symlink(odd, filepath.Join(dir, "link"))
	elf := filepath.Join(dir, "elf")
	b, _ := os.ReadFile("/bin/true")
	os.WriteFile(elf, b, 0o750)
	os.WriteFile(filepath.Join(dir, "script"), []byte("#!/bin/sh\n"), 0o750)
	rootGroup := "root"
	if _, err := os.Stat("/etc/group"); err != nil {
		t.Fatal(err)
	}
	var all []Resource
	for i, p := range []string{odd, filepath.Join(dir, "d"), filepath.Join(dir, "link"), filepath.Join(dir, "missing"), elf, filepath.Join(dir, "script")} {
		attrs := map[string]cty.Value{"path": s(p)}
		n := fmt.Sprint(i)
		all = append(all,
			mustNew(t, mkres("directory", "d"+n, attrs), nil),
			mustNew(t, mkres("permissions", "p"+n, attrs), nil),
			mustNew(t, mkres("file", "f"+n, map[string]cty.Value{"path": s(p), "content": s("x")}), nil),
			mustNew(t, mkres("capabilities", "c"+n, map[string]cty.Value{"path": s(p), "caps": list("cap_perfmon"), "follow_symlinks": cty.True}), nil))
	}
	return append(all,
		mustNew(t, mkres("group", "root", nil), nil),
		mustNew(t, mkres("user", "root", map[string]cty.Value{"groups": list(rootGroup)}), nil),
		mustNew(t, mkres("sysctl", "ostype", map[string]cty.Value{"name": s("kernel.ostype"), "value": s("Linux")}), nil),
		mustNew(t, mkres("sysctl", "pid_max", map[string]cty.Value{"name": s("kernel.pid_max"), "value": s("32768"), "persist": cty.False}), nil))
}

// TestPreludeReadsAsAlone: a read snippet finds the same state whether it runs alone (doing its
// own work) or after the batch's prelude (one stat, one awk), and after the prelude, with the
// memos of an earlier read, the snippets start nothing at all.
func TestPreludeReadsAsAlone(t *testing.T) {
	for _, sh := range [][]string{{"sh"}, {"dash"}, {"bash", "--posix"}, {"busybox", "sh"}, {"posh"}} {
		if _, err := exec.LookPath(sh[0]); err != nil {
			continue
		}
		t.Run(strings.Join(sh, " "), func(t *testing.T) { preludeReadsAsAlone(t, sh) })
	}
}

func preludeReadsAsAlone(t *testing.T, sh []string) {
	rs := readResources(t)
	alone, _ := batchRead(t, sh, rs, false)
	first, started := batchRead(t, sh, rs, true)
	for i, r := range rs {
		a, err := r.Parse(Section{Stdout: alone[i]})
		if err != nil {
			t.Fatalf("%s alone: %v\n%s", r.Meta().Addr, err, alone[i])
		}
		b, err := r.Parse(Section{Stdout: first[i]})
		if err != nil {
			t.Fatalf("%s after the prelude: %v\n%s", r.Meta().Addr, err, first[i])
		}
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Errorf("%s: alone %+v\n%s\nafter the prelude %+v\n%s", r.Meta().Addr, a, alone[i], b, first[i])
		}
		if m, ok := r.(Memoizer); ok {
			if memo, ok := ParseMemo(first[i]); ok && m.KeepMemo(memo.Lines) {
				m.UseMemo(memo)
			}
		}
	}
	for _, cmd := range started {
		if !slices.Contains([]string{"stat", "awk", "sha256sum", "getcap", "od", "readlink"}, cmd) {
			t.Errorf("after the prelude, a read started %s (all: %v)", cmd, started)
		}
	}
	// A capability on a symlink (follow_symlinks) is the exception: readlink -f finds its real
	// path, whose directories its own stat then checks.
	again, started := batchRead(t, sh, rs, true)
	if want := []string{"awk", "readlink", "stat", "stat"}; !slices.Equal(started, want) {
		t.Errorf("with memos, the read started %v, want %v (the prelude's, and the symlink's)", started, want)
	}
	var plain []Resource
	for _, r := range rs {
		if c, ok := r.(*capabilities); !ok || !strings.HasSuffix(c.path, "/link") {
			plain = append(plain, r)
		}
	}
	if _, started := batchRead(t, sh, plain, true); !slices.Equal(started, []string{"awk", "stat"}) {
		t.Errorf("with memos, and no symlink, the read started %v, want the prelude's stat and awk", started)
	}
	for i, r := range rs {
		a, _ := r.Parse(Section{Stdout: first[i]})
		b, err := r.Parse(Section{Stdout: again[i]})
		if err != nil || fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Errorf("%s: with its memo %+v (%v)\n%s\nwithout %+v", r.Meta().Addr, b, err, again[i], a)
		}
	}
}
