package script

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// localHelper runs Helper with this machine's /bin/sh, as a host's login shell would, or with
// another shell in its place.
type localHelper struct {
	t        *testing.T
	in       io.WriteCloser
	out, err *bufio.Reader
	outs     *HelperFrames
	errs     *HelperFrames
}

func startLocalHelper(t *testing.T, shell ...string) *localHelper {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", Helper)
	if len(shell) > 0 {
		cmd = exec.Command(shell[0], shell[1:]...)
	}
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
	if _, err := in.Write(HelperInit(marker)); err != nil {
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
	line, err := HelperShell(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.in.Write(line); err != nil {
		h.t.Fatal(err)
	}
	o, st := next(h.t, h.out, h.outs)
	e, _ := next(h.t, h.err, h.errs)
	return string(o), string(e), st
}

// helperShells are the shells a host's /bin/sh may be, those of them this machine has.
func helperShells(t *testing.T) map[string][]string {
	out := map[string][]string{"sh": nil}
	for _, sh := range [][]string{{"dash"}, {"bash"}, {"bash", "--posix"}, {"busybox", "sh"}, {"posh"}} {
		if p, err := exec.LookPath(sh[0]); err == nil {
			out[strings.Join(sh, " ")] = append([]string{p}, sh[1:]...)
		}
	}
	return out
}

func TestHelperRunsRequestsInOrder(t *testing.T) {
	for name, sh := range helperShells(t) {
		t.Run(name, func(t *testing.T) { helperRunsRequestsInOrder(t, startLocalHelper(t, sh...)) })
	}
}

func helperRunsRequestsInOrder(t *testing.T, h *localHelper) {
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
		{"a syntax error ends only its request", HelperScript("echo one\nif then fi"), "one\n", "*", -1},
		{"quotes of every kind", HelperScript(`printf '%s|' 'a'\''b' "c\"d" \$e; echo`), "a'b|c\"d|$e|\n", "", 0},
		{"the helper's variables are not the script's", HelperScript(`printf '%s' "${_pp_m-unset}${_pp_r-unset}"`), "unsetunset", "", 0},
		{"stdin ending in newlines", HelperCommand("cat", []byte("a\n\n")), "a\n\n", "", 0},
		{"a script in another locale's characters", HelperScript("printf '%s\\n' 'h\u00e9 \u2713'"), "h\u00e9 \u2713\n", "", 0},
		{"a long script", HelperScript(strings.Repeat("x=1\n", 5000) + "echo $x"), "1\n", "", 0},
		{"the stream is in step after all that", HelperScript("echo last"), "last\n", "", 0},
	}
	for _, c := range cases {
		stdout, stderr, status := h.call(c.req)
		if c.stderr == "*" { // the shell's own words, and its own status (not 0)
			stderr = c.stderr
			if status != 0 {
				status = c.status
			}
		}
		if stdout != c.stdout || stderr != c.stderr || status != c.status {
			t.Errorf("%s: got %q %q %d, want %q %q %d", c.name, stdout, stderr, status, c.stdout, c.stderr, c.status)
		}
	}
}

func TestHelperRequestsPipelined(t *testing.T) {
	for name, sh := range helperShells(t) {
		t.Run(name, func(t *testing.T) { helperRequestsPipelined(t, startLocalHelper(t, sh...)) })
	}
}

func helperRequestsPipelined(t *testing.T, h *localHelper) {
	var all bytes.Buffer
	for i := 0; i < 20; i++ {
		line, err := HelperShell(HelperScript("echo " + strings.Repeat("x", i)))
		if err != nil {
			t.Fatal(err)
		}
		all.Write(line)
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
		{"S2\na\x00", false},
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
