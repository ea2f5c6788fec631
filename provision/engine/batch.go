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
// costs one round trip. Each snippet runs in its own subshell (an exit or a failing command ends
// only its section), with stdin closed and its stderr kept apart. Sections are framed by lines
// that carry a random marker, so no snippet output can forge a frame:
//
//	\n<marker> BEGIN <i>\n  stdout  \n<marker> ERR <i>\n  stderr  \n<marker> END <i> <status>\n

// newMarker returns a fresh frame marker.
func newMarker() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "@@perfprov-" + hex.EncodeToString(b[:])
}

// batchScript joins snippets into one script framed with marker.
func batchScript(marker string, snippets []string) string {
	var b strings.Builder
	b.WriteString("t=$(mktemp) || exit 97\ntrap 'rm -f \"$t\"' EXIT\n")
	for i, s := range snippets {
		fmt.Fprintf(&b, "printf '\\n%s BEGIN %d\\n'\n(\n%s\n) </dev/null 2>\"$t\"\nrc=$?\nprintf '\\n%s ERR %d\\n'\ncat \"$t\"\nprintf '\\n%s END %d %%d\\n' \"$rc\"\n",
			marker, i, s, marker, i, marker, i)
	}
	return b.String()
}

// parseBatch splits the output of batchScript into n sections. A section whose frame is missing
// (the script was cut short) is an error for that section only.
func parseBatch(out []byte, marker string, n int) ([]resource.Section, []error) {
	secs := make([]resource.Section, n)
	errs := make([]error, n)
	for i := range errs {
		errs[i] = fmt.Errorf("the read of this resource did not complete")
	}
	m := []byte("\n" + marker + " ")
	rest := append([]byte("\n"), out...)
	for {
		start := bytes.Index(rest, m)
		if start < 0 {
			break
		}
		rest = rest[start+len(m):]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			break
		}
		head := strings.Fields(string(rest[:nl]))
		rest = rest[nl+1:]
		if len(head) < 2 || head[0] != "BEGIN" {
			continue
		}
		i, err := strconv.Atoi(head[1])
		if err != nil || i < 0 || i >= n {
			continue
		}
		errFrame := []byte(fmt.Sprintf("\n%s ERR %d\n", marker, i))
		endFrame := []byte(fmt.Sprintf("\n%s END %d ", marker, i))
		e := bytes.Index(rest, errFrame)
		if e < 0 {
			break
		}
		stdout := rest[:e]
		rest = rest[e+len(errFrame):]
		f := bytes.Index(rest, endFrame)
		if f < 0 {
			break
		}
		stderr := rest[:f]
		rest = rest[f+len(endFrame):]
		nl = bytes.IndexByte(rest, '\n')
		if nl < 0 {
			nl = len(rest)
		}
		status, err := strconv.Atoi(strings.TrimSpace(string(rest[:nl])))
		if err != nil {
			continue
		}
		rest = rest[nl:]
		secs[i] = resource.Section{Stdout: append([]byte(nil), stdout...), Stderr: append([]byte(nil), stderr...), Status: status}
		errs[i] = nil
	}
	return secs, errs
}
