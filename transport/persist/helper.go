package persist

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/internal/script"
	"github.com/perfprov/perfprov/transport/ssh"
)

// remoteHelper is the remote helper (script.Helper) on one kept connection: a run's short
// read-only command is one request written to it and one answer read back, in order. It starts
// with the first request and lives as long as its connection, so that every later run's reads
// cost one round trip.
type remoteHelper struct {
	host string
	ch   gossh.Channel

	mu      sync.Mutex // orders the writes and the queue of answers
	pending []*helperCall
	err     error         // why the helper ended; set once
	done    chan struct{} // closed when it ended
	ready   chan struct{} // closed when it said it was ready
}

// helperCall is one request's answer.
type helperCall struct {
	stdout, stderr []byte
	status         int
	gotOut, gotErr bool
	err            error
	done           chan struct{}
}

// errHelperEnded is a helper that ended with requests unanswered (cancelled by a run, say); they
// did not run to their end, and may be sent again (they are read-only).
var errHelperEnded = errors.New("the remote helper ended before it answered")

// startHelper starts the helper on conn. The exec request wants no reply, so that the marker
// and the first request follow it at once: the start costs the channel's open, and the helper's
// "ready" comes back with its first answer. A helper that is not ready within timeout fails.
func startHelper(conn *ssh.Conn, timeout time.Duration) (*remoteHelper, error) {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ch, err := openSession(conn, timeout)
	if err != nil {
		return nil, &noHelperError{fmt.Errorf("%s: the remote helper did not start (%w)", conn.Host(), err)}
	}
	h := &remoteHelper{host: conn.Host(), ch: ch, done: make(chan struct{}), ready: make(chan struct{})}
	exec := gossh.Marshal(struct{ Command string }{script.Helper})
	if _, err := ch.SendRequest("exec", false, exec); err != nil {
		ch.Close()
		return nil, &noHelperError{fmt.Errorf("%s: the remote helper did not start (%w)", conn.Host(), err)}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	marker := "@@perfprov-helper-" + hex.EncodeToString(b[:])
	if _, err := ch.Write(script.HelperInit(marker)); err != nil {
		ch.Close()
		return nil, &noHelperError{fmt.Errorf("%s: the remote helper did not start (%w)", conn.Host(), err)}
	}
	ready := h.ready
	go h.read(marker, ch, true, ready)
	go h.read(marker, ch.Stderr(), false, ready)
	go func() {
		select {
		case <-ready:
		case <-time.After(timeout):
			h.fail(&noHelperError{fmt.Errorf("%s: the remote helper did not start within %s", h.host, timeout)})
		}
	}()
	return h, nil
}

// noHelperError is a helper that could not start on its connection: its quick commands run in
// sessions of their own (the run is told to, by QuickUnavailableRequest).
type noHelperError struct{ err error }

func (e *noHelperError) Error() string { return e.err.Error() }
func (e *noHelperError) Unwrap() error { return e.err }

// openSession opens a session channel on conn, waiting (with backoff, up to limit) while the
// host refuses it for lack of room (sshd's MaxSessions, full of the runs' own sessions).
func openSession(conn *ssh.Conn, limit time.Duration) (gossh.Channel, error) {
	deadline := time.Now().Add(limit)
	backoff := 20 * time.Millisecond
	for {
		ch, reqs, err := conn.Client().OpenChannel("session", nil)
		if err == nil {
			go gossh.DiscardRequests(reqs)
			return ch, nil
		}
		var oce *gossh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != gossh.Prohibited && oce.Reason != gossh.ResourceShortage || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// call sends req (a script.Helper request) and waits for its answer, or for ctx.
func (h *remoteHelper) call(ctx context.Context, req []byte) (*helperCall, error) {
	line, err := script.HelperShell(req)
	if err != nil {
		return nil, err
	}
	c := &helperCall{done: make(chan struct{})}
	h.mu.Lock()
	if h.err != nil {
		h.mu.Unlock()
		return nil, h.err
	}
	h.pending = append(h.pending, c)
	_, err = h.ch.Write(line)
	h.mu.Unlock()
	if err != nil {
		select {
		case <-h.ready:
			h.fail(fmt.Errorf("%s: remote helper: %w", h.host, err))
		default: // it never said it was ready: it did not start
			h.fail(&noHelperError{fmt.Errorf("%s: the remote helper did not start (%w)", h.host, err)})
		}
	}
	select {
	case <-c.done:
		return c, c.err
	case <-ctx.Done():
		// Its answer would hold up every later one: this helper goes, the next request starts
		// another (a long command is not sent to a helper).
		h.fail(errHelperEnded)
		return nil, ctx.Err()
	}
}

func (h *remoteHelper) ended() bool { return h.failure() != nil }

// failure is why the helper ended (nil while it runs).
func (h *remoteHelper) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// fail ends the helper: its channel closes and every request waiting gets err.
func (h *remoteHelper) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return
	}
	h.err = err
	close(h.done)
	h.ch.Close()
	for _, c := range h.pending {
		c.err = err
		close(c.done)
	}
	h.pending = nil
}

// read splits one of the helper's streams into answers and hands them to the calls in order.
// On stdout the helper's "ready" line comes first (ready is closed on it).
func (h *remoteHelper) read(marker string, r io.Reader, stdout bool, ready chan struct{}) {
	// Small buffers: the daemon holds a helper per kept host, a thousand of them on a big fleet
	// (answers are copied into their own slices anyway).
	br := bufio.NewReaderSize(r, 512)
	if stdout {
		line, err := br.ReadString('\n')
		if err != nil || line != marker+" ready\n" {
			h.fail(&noHelperError{fmt.Errorf("%s: the remote helper did not start (%s)", h.host, helperStartWhy(line, err))})
			return
		}
		close(ready)
	}
	frames := script.NewHelperFrames(marker, stdout)
	buf := make([]byte, 8<<10)
	for {
		n, err := br.Read(buf)
		frames.Feed(buf[:n])
		for {
			body, status, ok, ferr := frames.Next()
			if ferr != nil {
				h.fail(fmt.Errorf("%s: %w", h.host, ferr))
				return
			}
			if !ok {
				break
			}
			h.answer(body, status, stdout)
		}
		if err != nil {
			if !stdout {
				// The end of stderr before the helper said it was ready is the start's failure,
				// which stdout reports (it did not start).
				select {
				case <-ready:
				case <-h.done:
				}
			}
			h.fail(fmt.Errorf("%s: the remote helper ended (%v)", h.host, err))
			return
		}
	}
}

func helperStartWhy(line string, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("it said %q", line)
}

// answer gives one stream's part of the oldest answer still missing it, and completes the calls
// at the head of the queue that have both parts.
func (h *remoteHelper) answer(body []byte, status int, stdout bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.pending {
		if stdout && !c.gotOut {
			c.stdout, c.status, c.gotOut = body, status, true
			break
		}
		if !stdout && !c.gotErr {
			c.stderr, c.gotErr = body, true
			break
		}
	}
	for len(h.pending) > 0 && h.pending[0].gotOut && h.pending[0].gotErr {
		close(h.pending[0].done)
		h.pending = h.pending[1:]
	}
}
