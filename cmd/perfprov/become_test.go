package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// fakeTerminal is a terminal where the user types answer (or reading fails with err), or never
// answers (block).
type fakeTerminal struct {
	answer   string
	err      error
	block    chan struct{}
	written  strings.Builder
	restored bool
	closed   bool
}

func (f *fakeTerminal) Prompt(s string) error { f.written.WriteString(s); return nil }
func (f *fakeTerminal) ReadPassword() ([]byte, error) {
	if f.block != nil {
		<-f.block
	}
	return []byte(f.answer), f.err
}
func (f *fakeTerminal) Restore()     { f.restored = true }
func (f *fakeTerminal) Close() error { f.closed = true; return nil }

// TestAskBecomePassword: the prompt is Ansible's, on the terminal, with the line ended after the
// unechoed answer; an empty answer, a failed read, no terminal and a SIGINT are each an error
// (the SIGINT puts the terminal back first).
func TestAskBecomePassword(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tty     *fakeTerminal
		openErr error
		sigint  bool
		want    string // the password, or the error's text
	}{
		{name: "typed", tty: &fakeTerminal{answer: "s3cret pw"}, want: "s3cret pw"},
		{name: "empty", tty: &fakeTerminal{answer: ""}, want: "-ask-become-pass: no password was typed"},
		{name: "read fails", tty: &fakeTerminal{err: errors.New("EOF")}, want: "-ask-become-pass: reading the password: EOF"},
		{name: "no terminal", openErr: errors.New("-ask-become-pass: no terminal to ask on"), want: "-ask-become-pass: no terminal to ask on"},
		{name: "sigint", tty: &fakeTerminal{block: make(chan struct{})}, sigint: true, want: errInterrupted.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := testEnv()
			interrupted := make(chan struct{})
			env.interrupted = interrupted
			env.openTerminal = func() (passwordTerminal, error) {
				if tc.openErr != nil {
					return nil, tc.openErr
				}
				return tc.tty, nil
			}
			if tc.sigint {
				close(interrupted)
				defer close(tc.tty.block)
			}
			pw, err := askBecomePassword(env)
			got := pw
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if tc.tty == nil {
				return
			}
			if w := tc.tty.written.String(); w != "BECOME password: \n" {
				t.Errorf("the terminal shows %q", w)
			}
			if !tc.tty.closed || tc.tty.restored != tc.sigint {
				t.Errorf("closed %v, restored %v", tc.tty.closed, tc.tty.restored)
			}
		})
	}
}

// TestAskBecomePassReachesEveryHost: bench -ask-become-pass asks once, whatever the number of
// hosts, and every host's connection gets the typed password; without the flag nothing is asked
// and no password is given; without a terminal the run stops before any connection.
func TestAskBecomePassReachesEveryHost(t *testing.T) {
	sp, hist := benchDirs(t)
	for _, tc := range []struct {
		name   string
		flag   string
		noTTY  bool
		asked  int
		passed string
		code   int
	}{
		{name: "asked", flag: "-ask-become-pass", asked: 1, passed: "typed-pw", code: exitFailure},
		{name: "-K", flag: "-K", asked: 1, passed: "typed-pw", code: exitFailure},
		{name: "not asked", asked: 0, passed: "", code: exitFailure},
		{name: "no terminal", flag: "-K", noTTY: true, asked: 1, code: exitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fk := withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "good"})
			var mu sync.Mutex
			got := map[string]string{}
			open := fk.open
			fk.open = func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error) {
				mu.Lock()
				got[h.Name] = opts.BecomePassword
				mu.Unlock()
				return open(ctx, h, opts)
			}
			env, _, stderr := benchEnv(fk)
			asked := 0
			env.openTerminal = func() (passwordTerminal, error) {
				asked++
				if tc.noTTY {
					return nil, errors.New("-ask-become-pass: no terminal to ask on (open /dev/tty: no such device or address)")
				}
				return &fakeTerminal{answer: "typed-pw"}, nil
			}
			args := []string{"-no-save", "-history", hist, sp}
			if tc.flag != "" {
				args = append([]string{tc.flag}, args...)
			}
			code := exitCode(runBench(context.Background(), env, args), env.stderr, "bench")
			if code != tc.code || asked != tc.asked {
				t.Errorf("exit %d (want %d), asked %d times (want %d); stderr:\n%s", code, tc.code, asked, tc.asked, stderr)
			}
			if tc.noTTY {
				if len(got) > 0 || !strings.Contains(stderr.String(), "perfprov bench: -ask-become-pass: no terminal to ask on") {
					t.Errorf("without a terminal: connected to %v; stderr:\n%s", got, stderr)
				}
				return
			}
			if len(got) != 4 {
				t.Errorf("connected to %v, want the 4 hosts", got)
			}
			for h, pw := range got {
				if pw != tc.passed {
					t.Errorf("%s got the password %q, want %q", h, pw, tc.passed)
				}
			}
			if strings.Contains(stderr.String(), "typed-pw") {
				t.Errorf("the password is in the output:\n%s", stderr)
			}
		})
	}
}

// TestAskBecomePassNotOffline: plan -offline connects to nothing, so -ask-become-pass there is a
// usage error rather than a question whose answer goes nowhere.
func TestAskBecomePassNotOffline(t *testing.T) {
	sp, _ := benchDirs(t)
	env, _, stderr := testEnv()
	env.openTerminal = func() (passwordTerminal, error) { return nil, fmt.Errorf("asked") }
	code := exitCode(runPlan(context.Background(), env, []string{"-offline", "-ask-become-pass", sp}), env.stderr, "plan")
	if code != exitUsage || !strings.Contains(stderr.String(), "-ask-become-pass needs an online plan") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
