package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/run"
	"github.com/perfprov/perfprov/transport/internal/script"
)

// quickAttempts bounds how often a read-only (Quick) command is tried when its channel failed
// before the command ran or was confirmed.
const quickAttempts = 4

// Run runs cmd with /bin/sh -c as the login user. A Quick command (read-only by its contract)
// whose channel was refused or closed before the host confirmed it is tried again, with backoff,
// up to quickAttempts times; any other command is never tried twice: its error says whether it
// may have run.
func (c *Conn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := c.runOnce(ctx, cmd)
		var se *startError
		if err == nil || !cmd.Quick || cmd.Stdin != nil || !errors.As(err, &se) || cmd.Changes && se.mayHaveRun ||
			attempt == quickAttempts || ctx.Err() != nil || c.deadErr() != nil {
			return res, err
		}
		if c.log != nil {
			c.log("%s: read-only command not started: %v; trying again in %s (attempt %d of %d)", c.name, se.err, backoff, attempt+1, quickAttempts)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, run.ContextError(ctx, c.name, cmd.Timeout, ctx.Err())
		}
		backoff *= 2
	}
}

// startError is a command that failed before the host confirmed it started.
type startError struct {
	err        error
	mayHaveRun bool // the exec request went out: the host may have run it
}

func (e *startError) Error() string {
	if e.mayHaveRun {
		return e.err.Error() + " (it may have run)"
	}
	return e.err.Error() + " (it did not run)"
}

func (e *startError) Unwrap() error { return e.err }

// startFailed says why s.Start failed: the connection ended (dead) or the channel closed before
// the host's answer came (the host may have run it either way), or the host refused the command.
func startFailed(host string, err, dead error) error {
	switch {
	case dead != nil:
		return &startError{err: fmt.Errorf("%w, before the host confirmed the command", dead), mayHaveRun: true}
	case errors.Is(err, io.EOF):
		return &startError{err: fmt.Errorf("%s: the channel closed before the host confirmed the command", host), mayHaveRun: true}
	}
	// x/crypto's error for a refused exec quotes the whole command line: not for messages.
	return &startError{err: fmt.Errorf("%s: the host refused to start the command", host)}
}

// runOnce runs cmd once (Run decides whether to try again).
func (c *Conn) runOnce(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if err := run.CheckPrivilege(c.name, c.user, cmd); err != nil {
		return nil, err
	}
	text, err := script.WithEnv(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	if c.relayed && cmd.Quick && !c.noHelper.Load() {
		return c.runQuick(ctx, cmd, text)
	}
	return c.runSession(ctx, cmd, text)
}

// runSession runs cmd (text is its script with its environment) in a session of its own.
func (c *Conn) runSession(ctx context.Context, cmd transport.Command, text string) (*transport.Result, error) {
	line := script.ShCommand(script.AsUser(c.user, cmd.RunAs, script.StdinBoot), cmd.Quick)
	stdin := script.Framed(text, cmd.Stdin)
	return run.Supervise(ctx, c.name, cmd, func(ctx context.Context, stdout, stderr io.Writer) (func() error, func(), error) {
		return c.start(ctx, line, stdin, !cmd.Quick, stdout, stderr)
	}, exitStatus)
}

// exitStatus is the command's exit status in a session's Wait error, if that is what it is.
func exitStatus(err error) (int, bool) {
	var exit *gossh.ExitError
	if errors.As(err, &exit) {
		return exit.ExitStatus(), true
	}
	var quick *quickExit
	if errors.As(err, &quick) {
		return quick.status, true
	}
	return 0, false
}

// start runs line in a new session with stdin copied to it, and returns how to wait for it and
// how to stop it (a run.Starter). reaped says line runs under the reaper, whose PID line it takes
// out of stderr so that a stop can signal it.
func (c *Conn) start(ctx context.Context, line string, stdin io.Reader, reaped bool, stdout, stderr io.Writer) (func() error, func(), error) {
	s, release, err := c.session(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		return nil, nil, &startError{err: err}
	}
	// Stdin is copied here, not by the session: a command may end before it read all of it
	// (it failed, or exited at once), and the session would report that write as an error
	// (EOF) of a command that ran and exited with a status.
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		release()
		return nil, nil, fmt.Errorf("%s: %w", c.name, err)
	}
	s.Stdout, s.Stderr = stdout, stderr
	var pids *script.PIDFilter // the reaper's PID line, when there is a reaper
	if reaped {
		pids = script.NewPIDFilter(stderr)
		s.Stderr = pids
	}
	if err := s.Start(line); err != nil {
		s.Close()
		release()
		c.settle()
		return nil, nil, startFailed(c.name, err, c.deadErr())
	}
	go func() { _, _ = io.Copy(in, stdin); _ = in.Close() }()
	wait := func() error {
		defer release()
		defer s.Close()
		return c.waitError(s.Wait())
	}
	return wait, func() { c.stop(s, pids) }, nil
}

// waitError is what a run reports for err, a session's Wait error: the exit status as it is
// (Supervise reads it), otherwise why the command ended without one.
func (c *Conn) waitError(err error) error {
	var exit *gossh.ExitError
	if err != nil && !errors.As(err, &exit) {
		c.settle()
	}
	switch {
	case err == nil, errors.As(err, &exit):
		return err
	case c.deadErr() != nil:
		return fmt.Errorf("%w, while the command ran (it may have run in part or whole)", c.deadErr())
	default:
		var missing *gossh.ExitMissingError
		if errors.As(err, &missing) {
			return fmt.Errorf("%s: command ended without an exit status (connection lost?); it may have run", c.name)
		}
		return fmt.Errorf("%s: %w", c.name, err)
	}
}

// stop ends the command of session s: TERM through the protocol (sshd forwards it for non-root
// logins), then close the channel, and signal the reaper (pids, nil when there is none) from a
// second session, which works for root too.
func (c *Conn) stop(s *gossh.Session, pids *script.PIDFilter) {
	_ = s.Signal(gossh.SIGTERM)
	s.Close()
	if pids == nil {
		return
	}
	c.kills.Add(1)
	go func() {
		defer c.kills.Done()
		// A command cancelled right after it started may not have said its PID yet.
		if pid := pids.WaitPID(2 * time.Second); pid > 0 {
			c.kill(pid)
		}
	}()
}

// kill ends the reaper with PID pid (and so its process group), from a new session: TERM, then
// KILL for what is left a second later.
func (c *Conn) kill(pid int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := strconv.Itoa(pid)
	kill := "kill -TERM -- -" + p + " 2>/dev/null || kill -TERM " + p + " 2>/dev/null || exit 0\n" +
		"sleep 1\nkill -KILL -- -" + p + " 2>/dev/null; exit 0"
	s, release, err := c.session(ctx)
	if err != nil {
		return
	}
	defer release()
	defer s.Close()
	_ = s.Run("/bin/sh -c " + shell.Quote(kill))
}
