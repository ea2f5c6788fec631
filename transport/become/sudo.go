// Package become is privilege on a connection whose login user is not root: the sudo decorator.
package become

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/run"
	"github.com/perfprov/perfprov/transport/internal/script"
)

// Sudo is the become decorator: it runs privileged commands (Command.Privileged, Command.RunAs)
// through sudo on a connection whose login user is not root, and writes files as root.
//
// It first tries `sudo -n` (no password). When sudo wants one and a password was given, commands
// run with `sudo -k -S` and an empty prompt, and the password is fed on stdin, ahead of the command's own input:
// never on the command line or in the environment, and never in an error. -k makes sudo read the
// password every time, so the line is never left over for the command to read.
type Sudo struct {
	inner     transport.Conn
	loginUser string
	password  string
	source    string // where the password came from, for messages ("$BOB_SUDO")

	mu    sync.Mutex
	modes map[string]*sudoProbe // by target user
}

var _ transport.Conn = (*Sudo)(nil)

type sudoProbe struct {
	once     sync.Once
	done     atomic.Bool // the probe ran, or a command showed it needless
	password bool
	err      error
}

// NewSudo wraps inner, whose login user is loginUser. password is the sudo password ("" for
// none); source names where it came from, for error messages (e.g. "$BOB_SUDO_PASSWORD").
func NewSudo(inner transport.Conn, loginUser, password, source string) *Sudo {
	return &Sudo{inner: inner, loginUser: loginUser, password: password, source: source, modes: map[string]*sudoProbe{}}
}

// Unwrap returns the connection as the login user.
func (s *Sudo) Unwrap() transport.Conn { return s.inner }

// Host returns the host's name in messages.
func (s *Sudo) Host() string { return s.inner.Host() }

// Close closes the connection.
func (s *Sudo) Close() error { return s.inner.Close() }

// sudoCommand returns the command line that runs text as target through sudo, under a reaper
// that ends the script's children when sudo relays a TERM. With password, sudo reads the password
// from stdin (the caller puts it there), and the command line holds no secret either way.
func sudoCommand(target string, password bool, text string) string {
	argv := []string{"sudo", "-n"}
	if password {
		argv = []string{"sudo", "-k", "-S", "-p", ""}
	}
	if target != "root" {
		argv = append(argv, "-u", target)
	}
	argv = append(argv, "--", "/bin/sh", "-c", script.QuietReaper, "perfprov", "/bin/sh", "-c", text)
	return shell.Join(argv...)
}

// Run runs cmd, through sudo when it is privileged or runs as another user.
func (s *Sudo) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	target := cmd.RunAs
	if target == "" && cmd.Privileged {
		target = "root"
	}
	cmd.Privileged, cmd.RunAs = false, ""
	if target == "" || target == s.loginUser {
		return s.inner.Run(ctx, cmd)
	}
	if !spec.ValidLoginName(target) {
		return nil, fmt.Errorf("%s: run as %q: not a valid user name", s.Host(), target)
	}
	text, err := script.WithEnv(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Host(), err)
	}
	if cmd.Quick && !cmd.Changes && cmd.Stdin == nil && s.loginUser != "root" && !s.known(target) {
		// A read goes straight to sudo -n: when sudo needs no password (the common case), that
		// saves the probe's round trip. When sudo refuses, the read did not run: probe, run again.
		res, err := s.inner.Run(ctx, sudoRun(cmd, target, false, text))
		if err != nil || !sudoRefused(res) {
			if err == nil {
				s.learn(target)
			}
			return res, err
		}
	}
	usePassword, err := s.mode(ctx, target)
	if err != nil {
		return nil, err
	}
	// sudo's command reads the script from stdin (script.StdinBoot), after the password: sudo's argv,
	// which every user of the host can read, holds no value of it.
	cmd.Env = nil
	cmd.Script = sudoCommand(target, usePassword, script.StdinBoot)
	cmd.Stdin = script.Framed(text, cmd.Stdin)
	if usePassword {
		cmd.Stdin = s.passwordStdin(cmd.Stdin)
	}
	return s.inner.Run(ctx, cmd)
}

// sudoRun is cmd (its script with its environment: text) as the command that runs it through
// sudo -n, for a read tried before the probe.
func sudoRun(cmd transport.Command, target string, password bool, text string) transport.Command {
	cmd.Env = nil
	cmd.Script = sudoCommand(target, password, script.StdinBoot)
	cmd.Stdin = script.Framed(text, nil)
	return cmd
}

// sudoRefused says whether sudo -n itself refused (a password needed, no rule, no sudo at all),
// so that the command did not run: sudo's own message, or the shell's for a missing sudo.
func sudoRefused(res *transport.Result) bool {
	return res.ExitStatus == 127 || res.ExitStatus == 1 && bytes.HasPrefix(res.Stderr, []byte("sudo: "))
}

// known says whether the probe for target has run.
func (s *Sudo) known(target string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.modes[target]
	return p != nil && p.done.Load()
}

// learn records that sudo -n runs commands as target: no probe is needed.
func (s *Sudo) learn(target string) {
	s.mu.Lock()
	p := s.modes[target]
	if p == nil {
		p = &sudoProbe{}
		s.modes[target] = p
	}
	s.mu.Unlock()
	p.once.Do(func() {})
	p.done.Store(true)
}

// passwordStdin is the password line, then the command's own input.
func (s *Sudo) passwordStdin(rest io.Reader) io.Reader {
	pw := strings.NewReader(s.password + "\n")
	if rest == nil {
		return pw
	}
	return io.MultiReader(pw, rest)
}

// mode finds, once per target user, whether sudo runs without a password or with ours.
func (s *Sudo) mode(ctx context.Context, target string) (bool, error) {
	if s.loginUser == "root" {
		return false, nil
	}
	s.mu.Lock()
	p := s.modes[target]
	if p == nil {
		p = &sudoProbe{}
		s.modes[target] = p
	}
	s.mu.Unlock()
	p.once.Do(func() { p.password, p.err = s.probe(ctx, target) })
	p.done.Store(p.err == nil)
	if p.err != nil {
		// Probe again next time if it failed for a reason that may pass (a cancelled context).
		if ctx.Err() != nil {
			s.mu.Lock()
			delete(s.modes, target)
			s.mu.Unlock()
		}
		return false, p.err
	}
	return p.password, nil
}

func (s *Sudo) probe(ctx context.Context, target string) (bool, error) {
	host := s.Host()
	res, err := s.inner.Run(ctx, transport.Command{Script: sudoCommand(target, false, "true")})
	if err != nil {
		return false, err
	}
	if res.OK() {
		return false, nil
	}
	msg := run.FirstLine(res.Stderr)
	switch {
	case res.ExitStatus == 127:
		return false, fmt.Errorf("%s: become: sudo is not installed (login user %s)", host, s.loginUser)
	case !bytes.Contains(res.Stderr, []byte("password")):
		return false, fmt.Errorf("%s: become: sudo refused %s: %s", host, s.loginUser, msg)
	case s.password == "":
		return false, fmt.Errorf("%s: become: sudo needs a password for %s: run with -ask-become-pass to type it, or set become_password_env to the name of an environment variable that holds it", host, s.loginUser)
	}
	res, err = s.inner.Run(ctx, transport.Command{Script: sudoCommand(target, true, "true"), Stdin: s.passwordStdin(nil)})
	if err != nil {
		return false, err
	}
	if !res.OK() {
		if bytes.Contains(res.Stderr, []byte("not in the sudoers")) || bytes.Contains(res.Stderr, []byte("not allowed to")) {
			// sudo asks for the password before it looks up the rules: this is no rule, not a bad password.
			return false, fmt.Errorf("%s: become: sudo refused %s, who has no sudo rule for this: %s", host, s.loginUser, run.FirstLine(res.Stderr))
		}
		from := ""
		if s.source != "" {
			from = " from " + s.source
		}
		return false, fmt.Errorf("%s: become: sudo refused the password%s for %s: %s", host, from, s.loginUser, run.FirstLine(res.Stderr))
	}
	return true, nil
}

// Upload writes a root-owned file: the content goes as the login user to a private directory
// (mktemp -d, 0700), then root copies it to a temporary name beside path, sets the mode, and
// renames it into place, so the file appears whole and with its mode or not at all.
func (s *Sudo) Upload(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error {
	if s.loginUser == "root" {
		return s.inner.Upload(ctx, path, content, mode)
	}
	host := s.Host()
	if err := script.CheckPath(host, path); err != nil {
		return err
	}
	res, err := s.inner.Run(ctx, transport.Command{Script: "mktemp -d"})
	if err != nil {
		return err
	}
	dir := strings.TrimSpace(string(res.Stdout))
	if !res.OK() || script.CheckPath(host, dir) != nil {
		return fmt.Errorf("%s: upload %s: mktemp -d: %s", host, path, run.FirstLine(res.Stderr))
	}
	defer func() {
		// Clean up even if ctx ended: a new short context.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), transport.DefaultTimeout)
		defer cancel()
		_, _ = s.inner.Run(cctx, transport.Command{Script: shell.Join("rm", "-rf", "--", dir)})
	}()
	staged := dir + "/content"
	if err := s.inner.Upload(ctx, staged, content, 0o600); err != nil {
		return err
	}
	res, err = s.Run(ctx, transport.Command{Script: script.AtomicWrite(staged, path, mode), Privileged: true})
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("%s: upload %s as root: %s", host, path, run.FirstLine(res.Stderr))
	}
	return nil
}

// Download reads the file as root.
func (s *Sudo) Download(ctx context.Context, path string, w io.Writer) error {
	if s.loginUser == "root" {
		return s.inner.Download(ctx, path, w)
	}
	res, err := s.Run(ctx, transport.Command{Script: shell.Join("cat", "--", path), Privileged: true, Stdout: w})
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("%s: download %s as root: %s", s.Host(), path, run.FirstLine(res.Stderr))
	}
	return nil
}
