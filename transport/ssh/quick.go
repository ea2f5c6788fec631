package ssh

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/run"
	"github.com/perfprov/perfprov/transport/internal/script"
)

// QuickChannelType is the channel a relayed connection opens for a short read-only command
// (transport.Command.Quick): the connection daemon runs it on the remote helper it keeps on the
// host's connection (see package persist), one round trip where a session costs two or three.
// The run writes one request (script.HelperScript, script.HelperCommand) and closes its side; the
// daemon answers with the output, then an exit-status request, or QuickErrorRequest with the
// reason in words.
const QuickChannelType = "quick@perfprov"

// QuickErrorRequest carries why a quick command got no answer.
const QuickErrorRequest = "error@perfprov"

// QuickOnce is the extra data of a quick channel whose command changes the host
// (transport.Command.Changes): the daemon sends it to the helper once, never again.
const QuickOnce = "once"

// QuickUnavailableRequest says the host has no remote helper (it did not start there): the
// command did not run, and the run's quick commands go in sessions of their own from then on.
const QuickUnavailableRequest = "nohelper@perfprov"

// errNoHelper is a quick command the daemon could not run on a helper: it did not run.
type errNoHelper struct{ why string }

func (e *errNoHelper) Error() string { return e.why }

// quickRequest is cmd as a remote helper request: its script with no stdin when that is all it
// is (the common read), else the command line and the whole stdin.
// stdin is cmd's own stdin as read (nil when it has none), for a session to run it instead.
func quickRequest(login string, cmd transport.Command, text string) (req, stdin []byte, err error) {
	boot := script.AsUser(login, cmd.RunAs, script.StdinBoot)
	if cmd.Stdin == nil && boot == script.StdinBoot {
		return script.HelperScript(text), nil, nil
	}
	if cmd.Stdin != nil {
		if stdin, err = io.ReadAll(cmd.Stdin); err != nil {
			return nil, nil, err
		}
	}
	framed, err := io.ReadAll(script.Framed(text, bytes.NewReader(stdin)))
	if err != nil {
		return nil, nil, err
	}
	return script.HelperCommand(boot, framed), stdin, nil
}

// quickExit is a quick command's non-zero exit status.
type quickExit struct{ status int }

func (e *quickExit) Error() string { return fmt.Sprintf("exited %d", e.status) }

// startQuick runs req on the daemon's remote helper (a run.Starter's body).
func (c *Conn) startQuick(req []byte, changes bool, stdout, stderr io.Writer) (func() error, func(), error) {
	var extra []byte
	if changes {
		extra = []byte(QuickOnce)
	}
	t0 := time.Now()
	ch, reqs, err := c.client.OpenChannel(QuickChannelType, extra)
	if c.log != nil {
		c.log("%s: channel %s (the remote helper): opened in %.3fs%s", c.name, QuickChannelType, time.Since(t0).Seconds(), errSuffix(err))
	}
	if err != nil {
		c.settle()
		if d := c.deadErr(); d != nil {
			return nil, nil, &startError{err: d}
		}
		return nil, nil, &startError{err: fmt.Errorf("%s: quick command: %w", c.name, err)}
	}
	go func() {
		_, _ = ch.Write(req)
		_ = ch.CloseWrite()
	}()
	var output sync.WaitGroup
	output.Add(2)
	go func() { _, _ = io.Copy(stdout, ch); output.Done() }()
	go func() { _, _ = io.Copy(stderr, ch.Stderr()); output.Done() }()
	var status *int
	var failure error
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for r := range reqs {
			switch {
			case r.Type == "exit-status" && len(r.Payload) == 4:
				st := int(binary.BigEndian.Uint32(r.Payload))
				status = &st
			case r.Type == QuickErrorRequest:
				failure = errors.New(string(r.Payload))
			case r.Type == QuickUnavailableRequest:
				failure = &errNoHelper{string(r.Payload)}
			}
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}()
	wait := func() error {
		output.Wait()
		<-answered
		ch.Close()
		switch {
		case failure != nil:
			var nh *errNoHelper
			if errors.As(failure, &nh) {
				return failure
			}
			return fmt.Errorf("%s: %w", c.name, failure)
		case status == nil:
			c.settle()
			// A quick read: whether it ran in part matters to no one. A change: it may have.
			d := c.deadErr()
			switch {
			case d != nil && changes:
				return fmt.Errorf("%w (the command may have run in part or whole)", d)
			case d != nil:
				return d
			case changes:
				return fmt.Errorf("%s: command ended without an exit status (connection lost?); it may have run in part or whole", c.name)
			}
			return fmt.Errorf("%s: command ended without an exit status (connection lost?)", c.name)
		case *status != 0:
			return &quickExit{*status}
		}
		return nil
	}
	return wait, func() { ch.Close() }, nil
}

// runQuick runs cmd (text is its script with its environment) on the daemon's remote helper,
// or, when the host has none, in a session as any command (and every later quick command too).
func (c *Conn) runQuick(ctx context.Context, cmd transport.Command, text string) (*transport.Result, error) {
	req, stdin, err := quickRequest(c.user, cmd, text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	res, err := run.Supervise(ctx, c.name, cmd, func(_ context.Context, stdout, stderr io.Writer) (func() error, func(), error) {
		return c.startQuick(req, cmd.Changes, stdout, stderr)
	}, exitStatus)
	var nh *errNoHelper
	if !errors.As(err, &nh) {
		return res, err
	}
	c.noHelper.Store(true)
	if c.log != nil {
		c.log("%s: %s; its quick commands run in sessions of their own", c.name, strings.TrimPrefix(nh.why, c.name+": "))
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return c.runSession(ctx, cmd, text)
}
