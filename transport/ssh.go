package transport

import (
	"bytes"
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/transport/knownhosts"
)

// Defaults, OpenSSH's where it has one.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultKeepalive    = 15 * time.Second
	DefaultKeepaliveMax = 3 // OpenSSH ServerAliveCountMax
	DefaultMaxSessions  = 10
	DefaultRetries      = 2
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

func (e Endpoint) port() int {
	if e.Port == 0 {
		return 22
	}
	return e.Port
}

func (e Endpoint) hostPort() string { return net.JoinHostPort(e.Address, strconv.Itoa(e.port())) }

// SSHConfig is everything needed to open one SSH connection. connect.Open builds it from the spec
// and ~/.ssh/config.
type SSHConfig struct {
	// Name is the host in messages (the spec's host name).
	Name string
	Endpoint
	// Jump lists the ProxyJump hops in order; each is logged in to and its host key checked.
	Jump []Endpoint
	// Timeout bounds the TCP connect plus the SSH handshake and login, per hop and per attempt
	// (0: DefaultTimeout).
	Timeout time.Duration
	// Keepalive is the interval of keepalive@openssh.com requests (0: DefaultKeepalive; < 0: none).
	// After KeepaliveMax unanswered ones the connection is closed and commands fail.
	Keepalive    time.Duration
	KeepaliveMax int
	// MaxSessions is sshd's MaxSessions: the channels open at once (0: DefaultMaxSessions). One of
	// them is kept for SFTP; the others run commands.
	MaxSessions int
	// Retries is how many times a transient network failure of the connect is retried, with
	// backoff (0: DefaultRetries; < 0: none). Login and host key failures are never retried.
	Retries int
	// DialContext dials the first hop (nil: net.Dialer). Tests use it.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Persist keeps the connection open for later runs (zero: closed with the run).
	Persist Persist
	// Log receives debug messages (a read-only command tried again, and why). nil: none.
	Log func(format string, args ...any)
}

// SSHConn is a Conn over one SSH connection.
type SSHConn struct {
	name   string
	user   string
	client *ssh.Client
	chain  []*ssh.Client // jump hosts, first hop first; closed after client
	limit  *sessionLimiter
	// persisted: client is the connection daemon's, which holds the login (see Persist).
	persisted bool
	endpoint  Endpoint // the target, for CheckKeptHostKeys
	log       func(format string, args ...any)

	sftpMu sync.Mutex
	sftp   *sftp.Client

	dead      atomic.Pointer[error] // why the connection ended, when it did
	closed    chan struct{}
	closeOnce sync.Once
	// kills are the cancelled commands being ended from a second session: Close waits for them,
	// or a process that exits right after a cancel would leave them running on the host.
	kills sync.WaitGroup
}

var _ Conn = (*SSHConn)(nil)

// DialSSH opens the connection (through the jump hosts), retrying transient network failures.
func DialSSH(ctx context.Context, cfg SSHConfig) (*SSHConn, error) {
	if cfg.Name == "" {
		cfg.Name = cfg.Address
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if canPersist(cfg) {
		c, err := dialPersisted(ctx, cfg)
		var nd *errNoDaemon
		if !errors.As(err, &nd) {
			return c, err
		}
		// No daemon to be had (a full /tmp, say): this run connects on its own.
	}
	var err error
	for attempt := 0; ; attempt++ {
		var c *SSHConn
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

func dialOnce(ctx context.Context, cfg SSHConfig) (*SSHConn, error) {
	hops := append(append([]Endpoint{}, cfg.Jump...), cfg.Endpoint)
	var chain []*ssh.Client
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
		if i == 0 {
			dial := cfg.DialContext
			if dial == nil {
				dial = (&net.Dialer{}).DialContext
			}
			nc, err = dial(dctx, "tcp", hop.hostPort())
		} else {
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
			return nil, err
		}
		chain = append(chain, client)
	}
	target := chain[len(chain)-1]
	return newSSHConn(cfg, target, chain[:len(chain)-1], nil), nil
}

// newSSHConn wraps the logged-in client: a session budget, and a watch that marks it dead when
// the connection ends; keepalives unless it is the daemon's (the daemon sends those on its side).
// lost, for the daemon's connections, gives the daemon's reason when it ended the connection (or
// nil) once the connection is over.
func newSSHConn(cfg SSHConfig, target *ssh.Client, jumps []*ssh.Client, lost <-chan error) *SSHConn {
	persisted := lost != nil
	sessions := cfg.MaxSessions
	if sessions <= 0 {
		sessions = DefaultMaxSessions
	}
	if sessions > 1 {
		sessions-- // one channel is SFTP's
	}
	c := &SSHConn{
		name:      cfg.Name,
		user:      cfg.User,
		client:    target,
		chain:     jumps,
		limit:     newSessionLimiter(sessions),
		persisted: persisted,
		endpoint:  cfg.Endpoint,
		log:       cfg.Log,
		closed:    make(chan struct{}),
	}
	go func() {
		err := target.Wait()
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
		ka = DefaultKeepalive
	}
	if ka > 0 && !persisted {
		max := cfg.KeepaliveMax
		if max <= 0 {
			max = DefaultKeepaliveMax
		}
		go c.keepalive(ka, max)
	}
	return c
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
func handshake(ctx context.Context, nc net.Conn, hop Endpoint, timeout time.Duration, what string) (*ssh.Client, error) {
	callback, algos, err := hop.HostKeys.Checker(hop.Address, hop.port())
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
	config := &ssh.ClientConfig{
		User: hop.User,
		Auth: auth.methods,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
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
	sc, chans, reqs, err := ssh.NewClientConn(nc, hop.hostPort(), config)
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
			return nil, &dialError{err: fmt.Errorf("ssh: login as %s@%s failed: tried %s", hop.User, knownhosts.Name(hop.Address, hop.port()), auth.attempt)}
		case strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, &dialError{err: fmt.Errorf("%s: the server offers none of the host key types known_hosts holds for %s (%s): its host key has changed or was replaced; verify it before editing known_hosts",
				what, knownhosts.Name(hop.Address, hop.port()), strings.Join(algos, ", "))}
		default:
			return nil, &dialError{transient: transientNet(err), err: fmt.Errorf("%s: %w", what, err)}
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// keepalive sends keepalive@openssh.com every interval; when max in a row go unanswered the host
// is declared dead and the connection closed, so every command on it fails at once.
func (c *SSHConn) keepalive(interval time.Duration, max int) {
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

func (c *SSHConn) markDead(err error) {
	c.dead.CompareAndSwap(nil, &err)
}

// settle gives a kept connection a moment to learn why it ended, when a channel of it ended
// unexpectedly: the daemon's word on the host's connection (lost@perfprov) and the channel's close
// race on the way here, and the reason is what the user needs.
func (c *SSHConn) settle() {
	if !c.persisted || c.deadErr() != nil {
		return
	}
	select {
	case <-c.closed:
	case <-time.After(300 * time.Millisecond):
	}
}

func (c *SSHConn) deadErr() error {
	if p := c.dead.Load(); p != nil {
		return *p
	}
	return nil
}

// Host returns the host's name in messages.
func (c *SSHConn) Host() string { return c.name }

// User returns the login user.
func (c *SSHConn) User() string { return c.user }

// Close ends the connection and every command running on it.
func (c *SSHConn) Close() error {
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
func (c *SSHConn) session(ctx context.Context) (*ssh.Session, func(), error) {
	backoff := 20 * time.Millisecond
	for {
		if err := c.limit.acquire(ctx, c.closed); err != nil {
			if d := c.deadErr(); d != nil && ctx.Err() == nil {
				return nil, nil, d
			}
			return nil, nil, err
		}
		s, err := c.client.NewSession()
		if err == nil {
			var once sync.Once
			return s, func() { once.Do(c.limit.release) }, nil
		}
		if !isRefused(err) {
			c.limit.release()
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
	var oce *ssh.OpenChannelError
	return errors.As(err, &oce) && (oce.Reason == ssh.Prohibited || oce.Reason == ssh.ResourceShortage)
}

// runOnce runs cmd once (Run decides whether to try again).
func (c *SSHConn) runOnce(ctx context.Context, cmd Command) (*Result, error) {
	if err := checkPrivilege(c.name, c.user, cmd); err != nil {
		return nil, err
	}
	script, err := ShellScript(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	line := shCommand(asUser(c.user, cmd.RunAs, stdinBoot), cmd.Quick)
	stdin := framedStdin(script, cmd.Stdin)
	return runCommand(ctx, c.name, cmd, func(ctx context.Context, stdout, stderr io.Writer) (func() error, func(), error) {
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
		var pids *pidFilter // the reaper's PID line, when there is a reaper
		if !cmd.Quick {
			pids = newPIDFilter(stderr)
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
			err := s.Wait()
			var exit *ssh.ExitError
			if err != nil && !errors.As(err, &exit) {
				c.settle()
			}
			switch {
			case err == nil, errors.As(err, &exit):
				return err
			case c.deadErr() != nil:
				return fmt.Errorf("%w, while the command ran (it may have run in part or whole)", c.deadErr())
			default:
				var missing *ssh.ExitMissingError
				if errors.As(err, &missing) {
					return fmt.Errorf("%s: command ended without an exit status (connection lost?); it may have run", c.name)
				}
				return fmt.Errorf("%s: %w", c.name, err)
			}
		}
		stop := func() {
			// TERM through the protocol (sshd forwards it for non-root logins), then close the
			// channel, and signal the reaper from a second session (which works for root too).
			_ = s.Signal(ssh.SIGTERM)
			s.Close()
			if pids == nil {
				return
			}
			c.kills.Add(1)
			go func() {
				defer c.kills.Done()
				// A command cancelled right after it started may not have said its PID yet.
				if pid := pids.waitPID(2 * time.Second); pid > 0 {
					c.kill(pid)
				}
			}()
		}
		return wait, stop, nil
	}, func(err error) (int, bool) {
		var exit *ssh.ExitError
		if errors.As(err, &exit) {
			return exit.ExitStatus(), true
		}
		return 0, false
	})
}

// kill ends the reaper with PID pid (and so its process group), from a new session: TERM, then
// KILL for what is left a second later.
func (c *SSHConn) kill(pid int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := strconv.Itoa(pid)
	script := "kill -TERM -- -" + p + " 2>/dev/null || kill -TERM " + p + " 2>/dev/null || exit 0\n" +
		"sleep 1\nkill -KILL -- -" + p + " 2>/dev/null; exit 0"
	s, release, err := c.session(ctx)
	if err != nil {
		return
	}
	defer release()
	defer s.Close()
	_ = s.Run("/bin/sh -c " + shell.Quote(script))
}

// starter starts a command and returns how to wait for it and how to stop it.
type starter func(ctx context.Context, stdout, stderr io.Writer) (wait func() error, stop func(), err error)

// runCommand is the part of Run common to SSH and local: capture and stream output, apply the
// timeout, and end the command when ctx ends without waiting for a stuck remote to agree.
func runCommand(ctx context.Context, host string, cmd Command, start starter, exitStatus func(error) (int, bool)) (*Result, error) {
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
	res := &Result{}
	wait, stop, err := start(ctx, stdout, stderr)
	if err != nil {
		return nil, ctxError(ctx, host, timeout, err)
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
		return nil, ctxError(ctx, host, timeout, ctx.Err())
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

func ctxError(ctx context.Context, host string, timeout time.Duration, err error) error {
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

// checkPrivilege refuses, on an undecorated connection, what needs sudo.
func checkPrivilege(host, user string, cmd Command) error {
	if cmd.RunAs != "" && cmd.RunAs != user && user == "root" {
		// Root switches users itself (see asUser): no become needed.
		if !ValidUserName(cmd.RunAs) {
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
