package engine

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/provision/resource"
)

// The batched read: every resource's read snippet in one script, so that reading a whole host
// costs one round trip. A snippet runs in its own subshell (an exit or a failing command ends
// only its section), or, when its resource says it may (resource.InShellReader), in the script's
// own shell, which saves a fork: on hosts where a process costs milliseconds, forks are most of a
// no-op run. Either way stdin is closed. Frames are written to stdout and to stderr alike, so each
// stream splits into sections by itself: no temporary file, and no process beyond the snippets'
// own (printf is a shell builtin). A prelude runs first in the script's own shell: one stat for
// every path the snippets need and one awk for the lines of files they need (package prelude),
// which they look up with builtins; after the facts script it is already done. Frames
// carry a random marker, so no snippet output can forge one:
//
//	stdout: \n<marker> BEGIN <i>\n ... \n<marker> END <i> <status>\n
//	stderr: \n<marker> BEGIN <i>\n ... \n<marker> END <i>\n

// newMarker returns a fresh frame marker.
func newMarker() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "@@perfprov-" + hex.EncodeToString(b[:])
}

// batchScript joins snippets into one script framed with marker, after prelude: shell text run in
// the script's own shell, whose variables the snippets read (prelude.Script). inShell[i]
// runs snippet i in the script's shell, after which the script goes back to its directory.
func batchScript(marker, prelude string, snippets []string, inShell []bool) string {
	var b strings.Builder
	// The C locale: the snippets parse what stat, id and getcap print, and stat's %F ("regular
	// file") is translated in other locales.
	b.WriteString("LC_ALL=C; export LC_ALL\n_pp_wd=$PWD\n")
	b.WriteString(sectionsFrom(marker, 0, prelude, snippets, inShell))
	return b.String()
}

// sectionsFrom is prelude and then the framed sections of snippets, numbered from first: the
// body of batchScript, and the second part of a wave's script (waveScript).
func sectionsFrom(marker string, first int, prelude string, snippets []string, inShell []bool) string {
	var b strings.Builder
	b.WriteString(prelude)
	for k, s := range snippets {
		i := first + k
		open, close := "(", ")"
		if k < len(inShell) && inShell[k] {
			open, close = "{", "}"
		}
		fmt.Fprintf(&b, "printf '\\n%[1]s BEGIN %[2]d\\n'; printf '\\n%[1]s BEGIN %[2]d\\n' >&2\n%[4]s\n%[3]s\n%[5]s </dev/null\nrc=$?\n",
			marker, i, s, open, close)
		if open == "{" {
			b.WriteString("cd \"$_pp_wd\" 2>/dev/null\n")
		}
		fmt.Fprintf(&b, "printf '\\n%[1]s END %[2]d %%d\\n' \"$rc\"; printf '\\n%[1]s END %[2]d\\n' >&2\n", marker, i)
	}
	return b.String()
}

// splitFrames splits one stream into sections by index. withStatus: END lines carry the status.
func splitFrames(out []byte, marker string, n int, withStatus bool) (bodies [][]byte, status []int, ok []bool) {
	bodies, status, ok = make([][]byte, n), make([]int, n), make([]bool, n)
	m := []byte("\n" + marker + " ")
	rest := append([]byte("\n"), out...)
	for {
		start := bytes.Index(rest, m)
		if start < 0 {
			return
		}
		rest = rest[start+len(m):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return
		}
		head := strings.Fields(string(rest[:nl]))
		rest = rest[nl+1:]
		if len(head) != 2 || head[0] != "BEGIN" {
			continue
		}
		i, err := strconv.Atoi(head[1])
		if err != nil || i < 0 || i >= n {
			continue
		}
		end := []byte(fmt.Sprintf("\n%s END %d", marker, i))
		e := bytes.Index(rest, end)
		if e < 0 {
			return
		}
		body := rest[:e]
		rest = rest[e+len(end):]
		nl = bytes.IndexByte(rest, '\n')
		if nl < 0 {
			nl = len(rest)
		}
		tail := strings.TrimSpace(string(rest[:nl]))
		rest = rest[nl:]
		if withStatus {
			st, err := strconv.Atoi(tail)
			if err != nil {
				continue
			}
			status[i] = st
		}
		bodies[i] = append([]byte(nil), body...)
		ok[i] = true
	}
}

// parseBatch splits the output of batchScript into n sections. A section whose frame is missing
// (the script was cut short) is an error for that section only.
func parseBatch(stdout, stderr []byte, marker string, n int) ([]resource.Section, []error) {
	secs := make([]resource.Section, n)
	errs := make([]error, n)
	outs, status, ok := splitFrames(stdout, marker, n, true)
	errOuts, _, _ := splitFrames(stderr, marker, n, false)
	for i := range secs {
		if !ok[i] {
			errs[i] = fmt.Errorf("the read of this resource did not complete")
			continue
		}
		secs[i] = resource.Section{Stdout: outs[i], Stderr: errOuts[i], Status: status[i]}
	}
	return secs, errs
}
