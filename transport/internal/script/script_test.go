package script

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/transport"
)

func TestPIDFilter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		pid    int
		out    string
	}{
		{"one write", []string{"perfprov-pid:123\nerr\n"}, 123, "err\n"},
		{"split", []string{"perf", "prov-pid:4", "56\n", "a", "b"}, 456, "ab"},
		{"no pid line", []string{"plain error\n"}, 0, "plain error\n"},
		{"long first line", []string{strings.Repeat("x", 100)}, 0, strings.Repeat("x", 100)},
		{"only pid", []string{"perfprov-pid:9\n"}, 9, ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		f := NewPIDFilter(&b)
		for _, w := range tt.writes {
			if n, err := f.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: write %d %v", tt.name, n, err)
			}
		}
		if f.WaitPID(0) != tt.pid || b.String() != tt.out {
			t.Errorf("%s: pid %d out %q, want %d %q", tt.name, f.WaitPID(0), b.String(), tt.pid, tt.out)
		}
	}
}

// TestShellScriptRoundTrip: values of every kind reach the script intact through the quoting of
// the environment, the script and the reaper, run by a real /bin/sh as sshd would.
func TestShellScriptRoundTrip(t *testing.T) {
	values := []string{"", "plain", "a b", "it's", `"dq"`, "$HOME", "`id`", "\\", "new\nline", "tab\t", "*?[a]", "-n", "é ü 日本", "!x", "a'b'c"}
	for _, v := range values {
		script, err := WithEnv(transport.Command{Script: `printf '%s' "$V"`, Env: map[string]string{"V": v}})
		if err != nil {
			t.Fatal(err)
		}
		for _, quick := range []bool{false, true} {
			c := exec.Command("/bin/sh", "-c", ShCommand(StdinBoot, quick))
			c.Stdin = Framed(script, nil)
			out, err := c.Output()
			if err != nil {
				t.Fatalf("%q (quick %v): %v", v, quick, err)
			}
			if string(out) != v {
				t.Errorf("%q came back as %q (quick %v)", v, out, quick)
			}
		}
	}
}

// TestFramedStdin: the script comes on stdin, its exit status and last newline are kept, and
// the rest of stdin is the command's own input; the command line holds none of its text.
func TestFramedStdin(t *testing.T) {
	tests := []struct {
		name, script, rest, out string
		status                  int
	}{
		{"plain", "echo hi", "", "hi\n", 0},
		{"exit status", "echo a; exit 7", "", "a\n", 7},
		{"last command's status", "false", "", "", 1},
		{"reads the rest", "read x; echo \"got $x\"; cat", "line1\nline2\n", "got line1\nline2\n", 0},
		{"here document at the end", "cat <<'EOF'\nbody\nEOF", "", "body\n", 0},
		{"no leftover variables", `echo "[${_pp_n-unset}${_pp_s-unset}]"`, "", "[unsetunset]\n", 0},
		{"syntax error", "if then", "", "", 2},
	}
	for _, tt := range tests {
		for _, quick := range []bool{false, true} {
			line := ShCommand(AsUser("root", "", StdinBoot), quick)
			if strings.Contains(line, tt.script) {
				t.Fatalf("%s: the command line holds the script: %s", tt.name, line)
			}
			var rest io.Reader
			if tt.rest != "" {
				rest = strings.NewReader(tt.rest)
			}
			c := exec.Command("/bin/sh", "-c", line)
			c.Stdin = Framed(tt.script, rest)
			var out bytes.Buffer
			c.Stdout = &out
			err := c.Run()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.out || status != tt.status {
				t.Errorf("%s (quick %v): out %q status %d, want %q %d", tt.name, quick, out.String(), status, tt.out, tt.status)
			}
		}
	}
}
