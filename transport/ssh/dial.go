// Package ssh is the transport over SSH: one connection per host (through its jump hosts),
// with its host key checked (package knownhosts) and its login made (Auth); commands run in
// parallel sessions on it and files go through SFTP on it.
package ssh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/knownhosts"
)

// Defaults, OpenSSH's where it has one (the connect timeout is transport.DefaultTimeout).
const (
	defaultKeepalive    = 15 * time.Second
	defaultKeepaliveMax = 3 // OpenSSH ServerAliveCountMax
	defaultMaxSessions  = 10
	defaultRetries      = 2
)

// Endpoint is one SSH server to log in to: the target, or a jump host on the way.
type Endpoint struct {
	// Address is the DNS name or IP to dial, as known_hosts names it.
	Address string
	// Port is the TCP port (0: 22).
	Port int
	// User is the login user.
	User     string
	Auth     Auth
	HostKeys knownhosts.Policy
}

// TCPPort is the port dialed: Port, or 22 when it is unset.
func (e Endpoint) TCPPort() int {
	if e.Port == 0 {
		return 22
	}
	return e.Port
}

func (e Endpoint) hostPort() string { return net.JoinHostPort(e.Address, strconv.Itoa(e.TCPPort())) }

// Config is everything needed to open one SSH connection. connect.Open builds it from the spec
// and ~/.ssh/config.
type Config struct {
	// Name is the host in messages (the spec's host name).
	Name string
	Endpoint
	// Jump lists the ProxyJump hops in order; each is logged in to and its host key checked.
	Jump []Endpoint
	// ProxyCommand, when set, is how the first hop (the first of Jump, else the target) is
	// reached: a command run by /bin/sh on this machine, its stdin and stdout the connection
	// (OpenSSH's ProxyCommand, its tokens already expanded). It is ended with the connection.
	ProxyCommand string
	// ProxyStderr receives the proxy command's stderr, line by line (nil: dropped). The last
	// line is also in the error when the command ends the connection.
	ProxyStderr func(line string)
	// Timeout bounds the TCP connect plus the SSH handshake and login, per hop and per attempt
	// (0: transport.DefaultTimeout).
	Timeout time.Duration
	// Keepalive is the interval of keepalive@openssh.com requests (0: 15s, OpenSSH's; < 0: none).
	// After KeepaliveMax (0: 3) unanswered ones the connection is closed and commands fail.
	Keepalive    time.Duration
	KeepaliveMax int
	// MaxSessions is sshd's MaxSessions: the channels open at once (0: 10, sshd's). One of them
	// is kept for SFTP; the others run commands.
	MaxSessions int
	// Retries is how many times a transient network failure of the connect is retried, with
	// backoff (0: 2; < 0: none). Login and host key failures are never retried.
	Retries int
	// DialContext dials the first hop (nil: net.Dialer). Tests use it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Log receives debug messages (a read-only command tried again, and why). nil: none.
	Log func(format string, args ...any)
}

// WithDefaults is cfg with the name, timeout and retries Dial uses when they are unset: what a
// caller that hands cfg to another process (the connection daemon) must send along.
func (cfg Config) WithDefaults() Config {
	if cfg.Name == "" {
		cfg.Name = cfg.Address
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = transport.DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = defaultRetries
	}
	return cfg
}

// Dial opens the connection (through the jump hosts), retrying transient network failures.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg = cfg.WithDefaults()
	var err error
	for attempt := 0; ; attempt++ {
		var c *Conn
		c, err = dialOnce(ctx, cfg)
		if err == nil {
			return c, nil
		}
		if attempt >= cfg.Retries || !isTransient(err) || ctx.Err() != nil {
			break
		}
		// Backoff 250ms, 500ms, 1s... with jitter, so parallel connects do not retry in step.
		d := (250 * time.Millisecond) << attempt
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(d/2)))
		select {
		case <-time.After(d + time.Duration(j.Int64())):
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
	}
	return nil, fmt.Errorf("%s: %w", cfg.Name, err)
}

// dialError marks the failures worth retrying: the network, not the server's answer.
type dialError struct {
	transient bool
	err       error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isTransient(err error) bool {
	var d *dialError
	return errors.As(err, &d) && d.transient
}

// transientNet says whether a dial or pre-login error is one that may pass: refused (sshd not up
// yet), reset or EOF before the banner (sshd's MaxStartups), a TCP connect timeout.
func transientNet(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func dialOnce(ctx context.Context, cfg Config) (*Conn, error) {
	hops := append(append([]Endpoint{}, cfg.Jump...), cfg.Endpoint)
	var chain []*gossh.Client
	var proxy *proxyConn
	closeAll := func() {
		for i := len(chain) - 1; i >= 0; i-- {
			chain[i].Close()
		}
	}
	for i, hop := range hops {
		what := hop.hostPort()
		if i < len(hops)-1 {
			what = "jump host " + what
		}
		dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		var nc net.Conn
		var err error
		switch {
		case i == 0 && cfg.ProxyCommand != "":
			if cfg.Log != nil {
				cfg.Log("%s: proxy command for %s: %s", cfg.Name, hop.hostPort(), cfg.ProxyCommand)
			}
			proxy, err = startProxy(cfg.ProxyCommand, cfg.ProxyStderr)
			if err != nil {
				cancel()
				return nil, &dialError{err: err}
			}
			nc = proxy
		case i == 0:
			dial := cfg.DialContext
			if dial == nil {
				dial = (&net.Dialer{}).DialContext
			}
			nc, err = dial(dctx, "tcp", hop.hostPort())
		default:
			nc, err = chain[i-1].DialContext(dctx, "tcp", hop.hostPort())
		}
		cancel()
		if err != nil {
			closeAll()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no TCP connection within %s", cfg.Timeout)
				return nil, &dialError{transient: true, err: fmt.Errorf("connect to %s: %w", what, err)}
			}
			return nil, &dialError{transient: transientNet(err), err: fmt.Errorf("connect to %s: %w", what, err)}
		}
		client, err := handshake(ctx, nc, hop, cfg.Timeout, what)
		if err != nil {
			closeAll()
			if i == 0 && proxy != nil && proxy.ended() && ctx.Err() == nil {
				// The command ended the stream: what it said is the cause, not the EOF.
				if perr := proxy.failure(proxyGrace, "before the SSH handshake"); perr != nil {
					return nil, &dialError{err: fmt.Errorf("%s: %w", what, perr)}
				}
			}
			return nil, err
		}
		chain = append(chain, client)
	}
	target := chain[len(chain)-1]
	c := newConn(cfg, target, chain[:len(chain)-1], nil, proxy)
	return c, nil
}

// connectionLost says in words why a connection ended: x/crypto reports a peer that closed the
// TCP connection (sshd killed, the host gone, the link reset) as a bare EOF.
func connectionLost(host string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("connection to %s lost: closed by the host or the network", host)
	}
	return fmt.Errorf("connection to %s lost: %w", host, err)
}

// handshake runs the SSH handshake and login on nc within timeout. x/crypto's ClientConfig.Timeout
// bounds only its own TCP dial, and a server that accepts and then says nothing (a frozen host, a
// full listen queue) would hang NewClientConn forever: so a deadline on the connection covers the
// handshake, and for channels of a jump host (which have no deadlines) a timer closes it.
func handshake(ctx context.Context, nc net.Conn, hop Endpoint, timeout time.Duration, what string) (*gossh.Client, error) {
	callback, algos, err := hop.HostKeys.Checker(hop.Address, hop.TCPPort())
	if err != nil {
		nc.Close()
		return nil, &dialError{err: fmt.Errorf("%s: %w", what, err)}
	}
	auth, err := hop.Auth.load()
	if err != nil {
		nc.Close()
		return nil, &dialError{err: err}
	}
	defer auth.close()
	var hostKeyErr error
	config := &gossh.ClientConfig{
		User: hop.User,
		Auth: auth.methods,
		HostKeyCallback: func(h string, r net.Addr, k gossh.PublicKey) error {
			hostKeyErr = callback(h, r, k)
			return hostKeyErr
		},
		HostKeyAlgorithms: algos,
		Timeout:           timeout,
	}

	_ = nc.SetDeadline(time.Now().Add(timeout)) // channels of jump hosts refuse: the timer covers them
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { timedOut.Store(true); nc.Close() })
	stopCtx := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := gossh.NewClientConn(nc, hop.hostPort(), config)
	timerFired := !timer.Stop()
	ctxFired := !stopCtx()
	if err == nil && (timerFired || ctxFired) {
		sc.Close()
		err = os.ErrDeadlineExceeded
	}
	if err != nil {
		nc.Close()
		switch {
		case hostKeyErr != nil:
			return nil, &dialError{err: hostKeyErr}
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case timedOut.Load() || errors.Is(err, os.ErrDeadlineExceeded):
			return nil, &dialError{err: fmt.Errorf("%s: no SSH handshake within %s (host not answering)", what, timeout)}
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, &dialError{err: fmt.Errorf("ssh: login as %s@%s failed: tried %s", hop.User, knownhosts.Name(hop.Address, hop.TCPPort()), auth.attempt)}
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, &dialError{err: fmt.Errorf("%s: the server offers none of the host key types known_hosts holds for %s (%s): its host key has changed or was replaced; verify it before editing known_hosts",
				what, knownhosts.Name(hop.Address, hop.TCPPort()), strings.Join(algos, ", "))}
		default:
			return nil, &dialError{transient: transientNet(err), err: fmt.Errorf("%s: %w", what, err)}
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return gossh.NewClient(sc, chans, reqs), nil
}
