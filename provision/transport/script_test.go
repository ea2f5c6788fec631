package transport

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
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
		f := newPIDFilter(&b)
		for _, w := range tt.writes {
			if n, err := f.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("%s: write %d %v", tt.name, n, err)
			}
		}
		if f.waitPID(0) != tt.pid || b.String() != tt.out {
			t.Errorf("%s: pid %d out %q, want %d %q", tt.name, f.waitPID(0), b.String(), tt.pid, tt.out)
		}
	}
}

// TestShellScriptRoundTrip: values of every kind reach the script intact through the quoting of
// the environment, the script and the reaper, run by a real /bin/sh as sshd would.
func TestShellScriptRoundTrip(t *testing.T) {
	values := []string{"", "plain", "a b", "it's", `"dq"`, "$HOME", "`id`", "\\", "new\nline", "tab\t", "*?[a]", "-n", "é ü 日本", "!x", "a'b'c"}
	for _, v := range values {
		script, err := ShellScript(Command{Script: `printf '%s' "$V"`, Env: map[string]string{"V": v}})
		if err != nil {
			t.Fatal(err)
		}
		for _, quick := range []bool{false, true} {
			out, err := exec.Command("/bin/sh", "-c", shCommand(script, quick)).Output()
			if err != nil {
				t.Fatalf("%q (quick %v): %v", v, quick, err)
			}
			if string(out) != v {
				t.Errorf("%q came back as %q (quick %v)", v, out, quick)
			}
		}
	}
}
