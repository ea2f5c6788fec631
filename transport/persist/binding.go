package persist

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/internal/script"
	"github.com/perfprov/perfprov/transport/ssh"
)

// quickChannel is a run's short read-only command for the remote helper: the run writes one
// script.Helper request and closes its side; the daemon answers with the output (stdout, stderr)
// and an exit-status request, or an errorRequest with the reason in words, then closes.
const quickChannel = ssh.QuickChannelType

// errorRequest carries why a quick command got no answer.
const errorRequest = ssh.QuickErrorRequest

// maxQuickRequest bounds a quick command's request (its script and stdin).
const maxQuickRequest = 32 << 20

// binding is one run's hold on a kept connection. A connection the daemon already held is
// handed to the run at once, without a round trip to prove it alive first: the proof (a
// keepalive) goes out beside the run's first request, so that both cost one round trip. When
// the proof fails, the binding does what attach did before it answered: a host that does not
// answer is reported to the run (lostRequest), a connection that broke is dialed again and the
// run goes on on the new one, its first request sent again (quick requests are read-only).
type binding struct {
	d   *daemon
	req *persistRequest
	sc  *gossh.ServerConn

	mu       sync.Mutex
	u        *upstream
	changed  chan struct{} // closed when u is replaced
	probed   chan struct{} // closed once the proof is in (at once for a connection dialed now)
	released bool
	lost     sync.Once
}

func newBinding(d *daemon, req *persistRequest, sc *gossh.ServerConn, u *upstream, fresh bool) *binding {
	b := &binding{d: d, req: req, sc: sc, u: u, changed: make(chan struct{}), probed: make(chan struct{})}
	if fresh {
		close(b.probed)
	} else {
		go b.probe(u)
	}
	go b.watch()
	return b
}

func (b *binding) current() (*upstream, chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.u, b.changed
}

// probe proves u alive, or reports it, or replaces it (see binding).
func (b *binding) probe(u *upstream) {
	defer close(b.probed)
	switch err := alive(u.conn, b.req.Timeout); {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.lose(fmt.Errorf("%s: no answer within %s on its open connection (host not answering)", b.req.Name, b.req.Timeout))
	default:
		nu, _, err := b.d.attach(b.req)
		if err != nil {
			b.lose(err)
			return
		}
		b.mu.Lock()
		old := b.u
		b.u = nu
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
		b.d.drop(old)
	}
}

// watch reports the end of the run's connection to the run, unless the binding replaced it.
func (b *binding) watch() {
	scDone := waitDone(b.sc)
	for {
		u, changed := b.current()
		select {
		case <-u.conn.Done():
			<-b.probed
			if cur, _ := b.current(); cur != u {
				continue
			}
			b.lose(u.conn.Err())
			return
		case <-changed:
		case <-scDone:
			return
		}
	}
}

// lose tells the run why its connection ended (so it reports that, not a bare end of stream)
// and ends the run's connection.
func (b *binding) lose(why error) {
	b.lost.Do(func() {
		_, _, _ = b.sc.SendRequest(lostRequest, false, []byte(why.Error()))
		b.sc.Close()
	})
}

// release lets the run go of its connection (once).
func (b *binding) release() {
	b.mu.Lock()
	u, done := b.u, b.released
	b.released = true
	b.mu.Unlock()
	if !done {
		b.d.detach(u)
	}
}

// serveQuick answers one quick channel of the run.
func (b *binding) serveQuick(nch gossh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		gossh.DiscardRequests(reqs)
		cancel() // the run closed its channel: it gave up on the answer
	}()
	req, err := io.ReadAll(io.LimitReader(ch, maxQuickRequest+1))
	if err == nil && len(req) > maxQuickRequest {
		err = fmt.Errorf("quick command of more than %d bytes", maxQuickRequest)
	}
	if err == nil {
		err = script.CheckHelperRequest(req)
	}
	var res *helperCall
	if err == nil {
		res, err = b.quick(ctx, req, string(nch.ExtraData()) == ssh.QuickOnce)
	}
	var nh *noHelperError
	switch {
	case errors.As(err, &nh):
		_, _ = ch.SendRequest(ssh.QuickUnavailableRequest, false, []byte(err.Error()))
		return
	case err != nil:
		_, _ = ch.SendRequest(errorRequest, false, []byte(err.Error()))
		return
	}
	_, _ = ch.Write(res.stdout)
	_, _ = ch.Stderr().Write(res.stderr)
	_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(res.status)))
}

// quick runs req on the helper of the run's connection: again, once, when the helper ended
// under it or the connection was replaced meanwhile (see binding), unless it changes the host
// (once): a change is sent one time only, and an answer that did not come says it may have run.
func (b *binding) quick(ctx context.Context, req []byte, once bool) (*helperCall, error) {
	for attempt := 0; ; attempt++ {
		u, _ := b.current()
		h, err := u.remoteHelper(b.req.Timeout)
		var res *helperCall
		if err == nil {
			res, err = h.call(ctx, req)
		}
		var nh *noHelperError
		if err != nil && once && !errors.As(err, &nh) && ctx.Err() == nil {
			return nil, fmt.Errorf("%w; the command may have run in part or whole", err)
		}
		if err == nil || ctx.Err() != nil || attempt > 0 {
			return res, err
		}
		<-b.probed
		if cur, _ := b.current(); cur == u && u.conn.Err() != nil {
			return nil, u.conn.Err()
		}
		if cur, _ := b.current(); cur == u && !errors.Is(err, errHelperEnded) {
			return nil, err
		}
	}
}

// remoteHelper returns u's helper, started now if it has none (or its last one ended).
func (u *upstream) remoteHelper(timeout time.Duration) (*remoteHelper, error) {
	u.helperMu.Lock()
	defer u.helperMu.Unlock()
	if u.helper != nil && !u.helper.ended() {
		return u.helper, nil
	}
	var nh *noHelperError
	if u.helper != nil {
		if err := u.helper.failure(); errors.As(err, &nh) {
			return nil, err // it did not start on this connection: it will not
		}
	}
	h, err := startHelper(u.conn, timeout)
	if err != nil {
		return nil, err
	}
	u.helper = h
	return h, nil
}
