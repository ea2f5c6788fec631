// Package run is what every connection does around one command: stream and capture its output,
// bound it by its timeout, end it when its context ends, and refuse what needs privilege the
// connection lacks.
package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Starter starts a command and returns how to wait for it and how to stop it.
type Starter func(ctx context.Context, stdout, stderr io.Writer) (wait func() error, stop func(), err error)

// Supervise is the part of Run common to every connection: capture and stream output, apply the
// timeout, and end the command when ctx ends without waiting for a stuck remote to agree.
func Supervise(ctx context.Context, host string, cmd transport.Command, start Starter, exitStatus func(error) (int, bool)) (*transport.Result, error) {
	timeout := cmd.Timeout
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var outBuf, errBuf syncBuffer
	streamOut, streamErr := cmd.Stdout, cmd.Stderr
	if streamOut != nil && streamOut == streamErr {
		// stdout and stderr are copied by two goroutines: one shared writer needs a lock.
		l := &lockedWriter{w: streamOut}
		streamOut, streamErr = l, l
	}
	stdout, stderr := teeWriter(&outBuf, streamOut), teeWriter(&errBuf, streamErr)
	res := &transport.Result{}
	wait, stop, err := start(ctx, stdout, stderr)
	if err != nil {
		return nil, ContextError(ctx, host, timeout, err)
	}
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		stop()
		// Give the command a moment to report, so the output so far is complete; never block on it.
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
		}
		return nil, ContextError(ctx, host, timeout, ctx.Err())
	}
	res.Stdout, res.Stderr = outBuf.Bytes(), errBuf.Bytes()
	if err != nil {
		if code, ok := exitStatus(err); ok {
			res.ExitStatus = code
			return res, nil
		}
		return res, err
	}
	return res, nil
}

// ContextError names host in err, or says that ctx ended (the command's timeout, when that is why).
func ContextError(ctx context.Context, host string, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
		return fmt.Errorf("%s: command timed out after %s: %w", host, timeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", host, ctx.Err())
	}
	if strings.HasPrefix(err.Error(), host+":") {
		return err
	}
	return fmt.Errorf("%s: %w", host, err)
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine and a reader after a cancel.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// teeWriter streams to the caller's writer and captures.
func teeWriter(capture io.Writer, stream io.Writer) io.Writer {
	if stream == nil {
		return capture
	}
	return io.MultiWriter(capture, stream)
}

// CheckPrivilege refuses, on a connection without become, what needs sudo.
func CheckPrivilege(host, user string, cmd transport.Command) error {
	if cmd.RunAs != "" && cmd.RunAs != user && user == "root" {
		// Root switches users itself (see script.AsUser): no become needed.
		if !spec.ValidLoginName(cmd.RunAs) {
			return fmt.Errorf("%s: run as %q: not a valid user name", host, cmd.RunAs)
		}
		return nil
	}
	if cmd.RunAs != "" && cmd.RunAs != user {
		return fmt.Errorf("%s: running as %s needs become (the login user is %s)", host, cmd.RunAs, user)
	}
	if cmd.Privileged && user != "root" {
		return fmt.Errorf("%s: command needs root and the login user %s has no become (become = \"none\")", host, user)
	}
	return nil
}

// FirstLine is the first line of a command's stderr, for messages.
func FirstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "no message"
	}
	return s
}
