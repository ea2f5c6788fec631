package script

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// localHelper runs Helper with this machine's /bin/sh, as a host's login shell would.
type localHelper struct {
	t        *testing.T
	in       io.WriteCloser
	out, err *bufio.Reader
	outs     *HelperFrames
	errs     *HelperFrames
}

func startLocalHelper(t *testing.T) *localHelper {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", Helper)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	errp, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	const marker = "@@test-marker-0123"
	h := &localHelper{t: t, in: in, out: bufio.NewReader(out), err: bufio.NewReader(errp),
		outs: NewHelperFrames(marker, true), errs: NewHelperFrames(marker, false)}
	if _, err := io.WriteString(in, marker+"\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := h.out.ReadString('\n'); err != nil || line != marker+" ready\n" {
		t.Fatalf("ready line %q, %v", line, err)
	}
	return h
}

func next(t *testing.T, r *bufio.Reader, f *HelperFrames) ([]byte, int) {
	t.Helper()
	buf := make([]byte, 4096)
	for {
		body, st, ok, err := f.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return body, st
		}
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("helper stream ended: %v", err)
		}
		f.Feed(buf[:n])
	}
}

func (h *localHelper) call(req []byte) (stdout, stderr string, status int) {
	h.t.Helper()
	if err := CheckHelperRequest(req); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.in.Write(req); err != nil {
		h.t.Fatal(err)
	}
	o, st := next(h.t, h.out, h.outs)
	e, _ := next(h.t, h.err, h.errs)
	return string(o), string(e), st
}

func TestHelperRunsRequestsInOrder(t *testing.T) {
	h := startLocalHelper(t)
	cases := []struct {
		name           string
		req            []byte
		stdout, stderr string
		status         int
	}{
		{"output and status", HelperScript("echo out; echo err >&2; exit 3"), "out\n", "err\n", 3},
		{"no final newline", HelperScript("printf abc"), "abc", "", 0},
		{"a here document keeps its last line", HelperScript("cat <<'E'\nx\nE"), "x\n", "", 0},
		{"cd and variables end with the request", HelperScript("cd /; X=1; export Y=2"), "", "", 0},
		{"... as seen by the next", HelperScript(`printf '%s|%s|%s' "$X" "$Y" "$_pp_m"; [ "$PWD" != / ]`), "||", "", 0},
		{"stdin for a command", HelperCommand(StdinBoot, framed("cat", "line one\nline two")), "line one\nline two", "", 0},
		{"stdin not read to its end", HelperCommand("head -c 1", []byte("abcdef\n")), "a", "", 0},
		{"the stream is still in step", HelperScript("echo after"), "after\n", "", 0},
		{"output that looks like a frame", HelperScript(`printf '\n@@test-marker-01 0\n'`), "\n@@test-marker-01 0\n", "", 0},
		{"stdin of a script is empty", HelperScript("cat; echo done"), "done\n", "", 0},
		{"exit in a sourced function", HelperScript("f() { exit 9; }; f; echo never"), "", "", 9},
	}
	for _, c := range cases {
		stdout, stderr, status := h.call(c.req)
		if stdout != c.stdout || stderr != c.stderr || status != c.status {
			t.Errorf("%s: got %q %q %d, want %q %q %d", c.name, stdout, stderr, status, c.stdout, c.stderr, c.status)
		}
	}
}

func TestHelperRequestsPipelined(t *testing.T) {
	h := startLocalHelper(t)
	var all bytes.Buffer
	for i := 0; i < 20; i++ {
		all.Write(HelperScript("echo " + strings.Repeat("x", i)))
	}
	if _, err := h.in.Write(all.Bytes()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		o, st := next(t, h.out, h.outs)
		next(t, h.err, h.errs)
		if string(o) != strings.Repeat("x", i)+"\n" || st != 0 {
			t.Fatalf("answer %d: %q %d", i, o, st)
		}
	}
}

func TestCheckHelperRequest(t *testing.T) {
	cases := []struct {
		req string
		ok  bool
	}{
		{string(HelperScript("true")), true},
		{string(HelperCommand("cat", []byte("in"))), true},
		{"S3\nab", false},
		{"S2\nabc", false},
		{"S\n", false},
		{"G1\nab", false},
		{"G1 x\nab", false},
		{"X1\na", false},
		{"", false},
		{"S-1\n", false},
	}
	for _, c := range cases {
		if err := CheckHelperRequest([]byte(c.req)); (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.req, err, c.ok)
		}
	}
}

func framed(script, rest string) []byte {
	b, _ := io.ReadAll(Framed(script, strings.NewReader(rest)))
	return b
}
