package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/perfprov/perfprov/provision/connect"
)

// TestNoColorFlagOnEveryCommand: every command takes -no-color (a script passes it to any).
func TestNoColorFlagOnEveryCommand(t *testing.T) {
	for name, c := range commands {
		if c.hidden {
			continue
		}
		code, _, errs := applyCLI(t, name, "-no-color", "-help")
		if code != exitOK || !strings.Contains(errs, "-no-color") {
			t.Errorf("%s -no-color -help: exit %d\n%s", name, code, errs)
		}
	}
}

// openPTY opens a pseudo-terminal: what is written to tty the test reads from the returned
// function once tty is closed (read as it comes, so that the terminal's buffer never fills).
func openPTY(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&buf, m) // ends with EIO once the terminal's side is closed
	}()
	return s, func() string {
		s.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the pseudo-terminal's output did not end")
		}
		return buf.String()
	}
}

// TestColorOnATerminal: on a real (pseudo-)terminal, diagnostics on stderr and the plan on
// stdout are coloured, unless -no-color, NO_COLOR or TERM=dumb says not to.
func TestColorOnATerminal(t *testing.T) {
	invalid := filepath.Join(repoRoot, "hcl", "testdata", "invalid", "cycle.hcl")
	type where int
	const (
		onStderr where = iota
		onStdout
	)
	cases := []struct {
		name  string
		args  []string
		where where
	}{
		{"validate diagnostics", []string{"validate", invalid}, onStderr},
		{"plan -offline diagnostics", []string{"plan", "-offline", invalid}, onStderr},
	}
	if !testing.Short() {
		cases = append(cases, struct {
			name  string
			args  []string
			where where
		}{"plan on stdout", []string{"plan", localSpec(t, t.TempDir())}, onStdout})
	}
	for _, c := range cases {
		for _, tc := range []struct {
			how   string
			flags []string
			env   map[string]string
			color bool
		}{
			{"a terminal", nil, map[string]string{"TERM": "xterm-256color"}, true},
			{"-no-color", []string{"-no-color"}, map[string]string{"TERM": "xterm-256color"}, false},
			{"NO_COLOR=1", nil, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"}, false},
			{"TERM=dumb", nil, map[string]string{"TERM": "dumb"}, false},
		} {
			t.Run(c.name+", "+tc.how, func(t *testing.T) {
				tty, output := openPTY(t)
				var other bytes.Buffer
				env := &cliEnv{stdout: &other, stderr: tty, stdin: strings.NewReader(""), getenv: func(k string) string { return tc.env[k] },
					interrupted: make(chan struct{}), open: connect.Open, now: time.Now}
				if c.where == onStdout {
					env.stdout, env.stderr = tty, &other
				}
				args := append(append([]string{}, tc.flags...), c.args[1:]...)
				cmd := commands[c.args[0]]
				exitCode(cmd.run(context.Background(), env, args), env.stderr, cmd.name)
				got := output()
				if strings.TrimSpace(got) == "" {
					t.Fatalf("nothing on the terminal; the other stream:\n%s", other.String())
				}
				if has := strings.Contains(got, "\x1b["); has != tc.color {
					t.Errorf("colour %v, want %v:\n%q", has, tc.color, got)
				}
			})
		}
	}
}
