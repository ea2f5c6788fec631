package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

// Conn is a transport.Conn over one SSH connection: commands run in sessions of their own on it,
// files go through the one SFTP channel kept on it.
type Conn struct {
	name   string
	user   string
	client *gossh.Client
	chain  []*gossh.Client // jump hosts, first hop first; closed after client
	limit  *sessionLimiter
	// relayed: client is a relay to a connection another process holds the login of (the
	// connection daemon's: see NewRelayedConn).
	relayed  bool
	endpoint Endpoint // the target, for a relayed connection's host key check
	// noHelper: the daemon has no remote helper on this host; quick commands run in sessions.
	noHelper atomic.Bool
	log      func(format string, args ...any)

	sftpMu sync.Mutex
	sftp   *sftp.Client

	dead      atomic.Pointer[error] // why the connection ended, when it did
	closed    chan struct{}
	closeOnce sync.Once
	// kills are the cancelled commands being ended from a second session: Close waits for them,
	// or a process that exits right after a cancel would leave them running on the host.
	kills sync.WaitGroup
}

// NewRelayedConn is a Conn over client, a relay to an SSH connection that another process holds
// (the connection daemon: see package persist). That process logged in and sends the keepalives;
// lost gives its reason when it ended the connection (or nil) once the connection is over, so
// that commands report that and not a bare end of stream. cfg names the host and its limits.
func NewRelayedConn(cfg Config, client *gossh.Client, lost <-chan error) *Conn {
	return newConn(cfg.WithDefaults(), client, nil, lost, nil)
}

// newConn wraps the logged-in client: a session budget, and a watch that marks it dead when
// the connection ends; keepalives unless it is relayed (lost is then not nil: see NewRelayedConn).
func newConn(cfg Config, target *gossh.Client, jumps []*gossh.Client, lost <-chan error, proxy *proxyConn) *Conn {
	relayed := lost != nil
	sessions := cfg.MaxSessions
	if sessions <= 0 {
		sessions = defaultMaxSessions
	}
	if sessions > 1 {
		sessions-- // one channel is SFTP's
	}
	c := &Conn{
		name:     cfg.Name,
		user:     cfg.User,
		client:   target,
		chain:    jumps,
		limit:    newSessionLimiter(sessions),
		relayed:  relayed,
		endpoint: cfg.Endpoint,
		log:      cfg.Log,
		closed:   make(chan struct{}),
	}
	go func() {
		err := target.Wait()
		if proxy != nil && proxy.ended() {
			// The proxy command ended the connection: its exit and last words say why.
			if why := proxy.failure(time.Second, ""); why != nil {
				c.markDead(fmt.Errorf("connection to %s lost: %w", c.name, why))
			}
		}
		if lost != nil {
			if why := <-lost; why != nil {
				c.markDead(why)
			}
		}
		c.markDead(connectionLost(c.name, err))
		c.Close()
	}()
	ka := cfg.Keepalive
	if ka == 0 {
		ka = defaultKeepalive
	}
	if ka > 0 && !relayed {
		max := cfg.KeepaliveMax
		if max <= 0 {
			max = defaultKeepaliveMax
		}
		go c.keepalive(ka, max)
	}
	return c
}

// keepalive sends keepalive@openssh.com every interval; when max in a row go unanswered the host
// is declared dead and the connection closed, so every command on it fails at once.
func (c *Conn) keepalive(interval time.Duration, max int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending atomic.Bool
	missed := 0
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		if pending.Load() {
			missed++
			if missed >= max {
				c.markDead(fmt.Errorf("host %s stopped answering (%d keepalives over %s unanswered)", c.name, missed, time.Duration(missed)*interval))
				c.Close()
				return
			}
			continue
		}
		missed = 0
		pending.Store(true)
		go func() {
			// Any reply, failure included (OpenSSH answers failure), proves the host alive.
			if _, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil); err == nil {
				pending.Store(false)
			}
		}()
	}
}

func (c *Conn) markDead(err error) {
	c.dead.CompareAndSwap(nil, &err)
}

// settle gives a relayed connection a moment to learn why it ended, when a channel of it ended
// unexpectedly: the holder's word on the host's connection and the channel's close race on the way
// here, and the reason is what the user needs.
func (c *Conn) settle() {
	if !c.relayed || c.deadErr() != nil {
		return
	}
	select {
	case <-c.closed:
	case <-time.After(300 * time.Millisecond):
	}
}

func (c *Conn) deadErr() error {
	if p := c.dead.Load(); p != nil {
		return *p
	}
	return nil
}

// Host returns the host's name in messages.
func (c *Conn) Host() string { return c.name }

// User returns the login user.
func (c *Conn) User() string { return c.user }

// Relayed reports whether c is a relay to a connection another process holds (NewRelayedConn).
func (c *Conn) Relayed() bool { return c.relayed }

// Endpoint is the target c logged in to.
func (c *Conn) Endpoint() Endpoint { return c.endpoint }

// Client is the SSH client under c, for requests and channels of the caller's own (the daemon
// relays a run's channels on it).
func (c *Conn) Client() *gossh.Client { return c.client }

// Done is closed once the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err says why the connection ended, or nil while it is open.
func (c *Conn) Err() error { return c.deadErr() }

// Close ends the connection and every command running on it.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.kills.Wait() // each is bounded by its own timeout
		c.markDead(fmt.Errorf("connection to %s closed", c.name))
		close(c.closed)
		c.sftpMu.Lock()
		if c.sftp != nil {
			c.sftp.Close()
		}
		c.sftpMu.Unlock()
		err = c.client.Close()
		for i := len(c.chain) - 1; i >= 0; i-- {
			c.chain[i].Close()
		}
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// session opens a channel within the MaxSessions budget. A server whose limit is lower than
// configured refuses the channel: the limiter learns the real limit and the command waits for a
// slot (a session another user of the account holds can also be refused: then retry with backoff).
func (c *Conn) session(ctx context.Context) (*gossh.Session, func(), error) {
	backoff := 20 * time.Millisecond
	for {
		if err := c.limit.acquire(ctx, c.closed); err != nil {
			if d := c.deadErr(); d != nil && ctx.Err() == nil {
				return nil, nil, d
			}
			return nil, nil, err
		}
		t0 := time.Now()
		s, err := c.client.NewSession()
		if c.log != nil {
			c.log("%s: channel session: opened in %.3fs%s", c.name, time.Since(t0).Seconds(), errSuffix(err))
		}
		if err == nil {
			var once sync.Once
			return s, func() { once.Do(c.limit.release) }, nil
		}
		if !isRefused(err) {
			c.limit.release()
			c.settle() // a relayed connection: the holder's reason may be on its way
			if d := c.deadErr(); d != nil {
				return nil, nil, d
			}
			return nil, nil, fmt.Errorf("%s: open session: %w", c.name, err)
		}
		c.limit.refused()
		c.limit.release()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// isRefused reports a channel refused for lack of room (sshd's MaxSessions), not for good.
func isRefused(err error) bool {
	var oce *gossh.OpenChannelError
	return errors.As(err, &oce) && (oce.Reason == gossh.Prohibited || oce.Reason == gossh.ResourceShortage)
}

// errSuffix is ", error: ERR" for a debug line, or nothing.
func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ", error: " + err.Error()
}
