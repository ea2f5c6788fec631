// Package conntest holds the cases every connection must run alike (SSH and local), for their
// tests.
package conntest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
)

// Case is one command and what it must leave.
type Case struct {
	Name       string
	Cmd        transport.Command
	WantStatus int
	WantOut    string
	WantErr    string
}

// Cases returns fresh cases: their stdin readers are used up by a run.
func Cases() []Case {
	return []Case{
		{Name: "exit 0", Cmd: transport.Command{Script: "true"}},
		{Name: "exit 3", Cmd: transport.Command{Script: "exit 3"}, WantStatus: 3},
		{Name: "killed by signal", Cmd: transport.Command{Script: "kill -TERM $$"}, WantStatus: 128 + 15},
		{Name: "stdout and stderr", Cmd: transport.Command{Script: "echo out; echo err >&2"}, WantOut: "out\n|err\n"},
		{Name: "stdin", Cmd: transport.Command{Script: "tr a-z A-Z", Stdin: strings.NewReader("hello\n")}, WantOut: "HELLO\n|"},
		{Name: "no stdin reads EOF", Cmd: transport.Command{Script: "cat; echo done"}, WantOut: "done\n|"},
		{Name: "env", Cmd: transport.Command{Script: `printf '%s|%s' "$A" "$B_2"`, Env: map[string]string{"A": "it's $HOME `x`", "B_2": "two\nlines"}},
			WantOut: "it's $HOME `x`|two\nlines|"},
		{Name: "bad env name", Cmd: transport.Command{Script: "true", Env: map[string]string{"A-B": "x"}}, WantErr: "not a shell name"},
		{Name: "posix sh", Cmd: transport.Command{Script: `set -eu; x=$(printf '%s' "a b"); [ "$x" = "a b" ] && echo yes`}, WantOut: "yes\n|"},
		{Name: "quotes in script", Cmd: transport.Command{Script: `echo "double" 'single' \$ ; echo 'it'\''s'`}, WantOut: "double single $\nit's\n|"},
		{Name: "timeout", Cmd: transport.Command{Script: "sleep 10", Timeout: 200 * time.Millisecond}, WantErr: "timed out after 200ms"},
		{Name: "privileged without become", Cmd: transport.Command{Script: "true", RunAs: "nobody"}, WantErr: "needs become"},
		{Name: "long script via stdin", Cmd: transport.Command{Script: "x='" + strings.Repeat("a", 150*1024) + "'; echo ${#x}"}, WantOut: "153600\n|"},
	}
}

// Check runs tc on c and fails t unless it leaves what tc wants.
func Check(t *testing.T, c transport.Conn, tc Case) {
	t.Helper()
	start := time.Now()
	res, err := c.Run(context.Background(), tc.Cmd)
	if tc.WantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
			t.Fatalf("error %v, want %q", err, tc.WantErr)
		}
		if !strings.HasPrefix(err.Error(), c.Host()+": ") {
			t.Errorf("error does not name the host: %v", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != tc.WantStatus {
		t.Errorf("exit status %d, want %d", res.ExitStatus, tc.WantStatus)
	}
	if tc.WantOut != "" {
		if got := string(res.Stdout) + "|" + string(res.Stderr); got != tc.WantOut {
			t.Errorf("output %q, want %q", got, tc.WantOut)
		}
	}
}
