package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// quickAttempts bounds how often a read-only (Quick) command is tried when its channel failed
// before the command ran or was confirmed.
const quickAttempts = 4

// Run runs cmd with /bin/sh -c as the login user. A Quick command (read-only by its contract)
// whose channel was refused or closed before the host confirmed it is tried again, with backoff,
// up to quickAttempts times; any other command is never tried twice: its error says whether it
// may have run.
func (c *SSHConn) Run(ctx context.Context, cmd Command) (*Result, error) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		res, err := c.runOnce(ctx, cmd)
		var se *startError
		if err == nil || !cmd.Quick || cmd.Stdin != nil || !errors.As(err, &se) ||
			attempt == quickAttempts || ctx.Err() != nil || c.deadErr() != nil {
			return res, err
		}
		if c.log != nil {
			c.log("%s: read-only command not started: %v; trying again in %s (attempt %d of %d)", c.name, se.err, backoff, attempt+1, quickAttempts)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctxError(ctx, c.name, cmd.Timeout, ctx.Err())
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
