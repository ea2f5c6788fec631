package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (for the live view, prompts and colour).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// passwordTerminal is the terminal -ask-become-pass asks on: the process's controlling terminal
// (/dev/tty, so that stdin and stdout may be pipes or a -json stream), or a fake in tests.
type passwordTerminal interface {
	// Prompt writes the question.
	Prompt(s string) error
	// ReadPassword reads one line with echo off and puts the terminal back as it was.
	ReadPassword() ([]byte, error)
	// Restore puts the terminal back as it was found (after a SIGINT interrupted ReadPassword).
	Restore()
	Close() error
}

// devTTY is the controlling terminal.
type devTTY struct {
	f     *os.File
	state *term.State
}

// openDevTTY opens the controlling terminal; a process without one (cron, CI, ssh without -t)
// gets an error that says what to do instead.
func openDevTTY() (passwordTerminal, error) {
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("-ask-become-pass: no terminal to ask on (%w): for a run without one, set the connection's become_password_env to the name of an environment variable that holds the password", err)
	}
	fd := int(f.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("-ask-become-pass: /dev/tty is not a terminal (%w): for a run without one, set the connection's become_password_env instead", err)
	}
	return &devTTY{f: f, state: state}, nil
}

func (t *devTTY) Prompt(s string) error         { _, err := t.f.WriteString(s); return err }
func (t *devTTY) ReadPassword() ([]byte, error) { return term.ReadPassword(int(t.f.Fd())) }
func (t *devTTY) Restore()                      { _ = term.Restore(int(t.f.Fd()), t.state) }
func (t *devTTY) Close() error                  { return t.f.Close() }

// becomePrompt is Ansible's -K prompt.
const becomePrompt = "BECOME password: "

// askBecomePassword asks once, on the terminal and without echo, for the sudo password of
// -ask-become-pass. The answer stays in this process's memory: connect hands it to sudo on its
// standard input. SIGINT while it waits ends the run (the terminal's echo put back first).
func askBecomePassword(env *cliEnv) (string, error) {
	open := env.openTerminal
	if open == nil {
		open = openDevTTY
	}
	tty, err := open()
	if err != nil {
		return "", err
	}
	defer tty.Close()
	if err := tty.Prompt(becomePrompt); err != nil {
		return "", fmt.Errorf("-ask-become-pass: %w", err)
	}
	type answer struct {
		pw  []byte
		err error
	}
	got := make(chan answer, 1)
	go func() {
		pw, err := tty.ReadPassword()
		got <- answer{pw, err}
	}()
	select {
	case a := <-got:
		_ = tty.Prompt("\n") // echo was off: the Enter did not move to the next line
		if a.err != nil {
			return "", fmt.Errorf("-ask-become-pass: reading the password: %w", a.err)
		}
		pw := strings.TrimRight(string(a.pw), "\r\n")
		if pw == "" {
			return "", errors.New("-ask-become-pass: no password was typed")
		}
		return pw, nil
	case <-env.interrupted:
		tty.Restore()
		_ = tty.Prompt("\n")
		return "", errInterrupted
	}
}
