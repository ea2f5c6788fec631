// Package persist keeps SSH connections open between runs, in a daemon of the controller user
// (see Dialer and Serve).
package persist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/ssh"
)

// Dialer keeps SSH connections open after a run, for the next run to use: the idea of
// OpenSSH's ControlPersist (which Ansible turns on for 60 s by default). A run then costs one
// round trip per host instead of a login. The connections live in a small daemon of the
// controller user (see Serve); a run reaches it over a Unix socket in a private directory and
// speaks SSH to it, so every command and SFTP transfer works as on a direct connection. The zero
// Dialer keeps nothing: it dials directly.
//
// What a kept connection keeps is its login: the host key was checked when it was opened (it is
// opened again when a known_hosts file changes), and the login user's groups are those of that
// login. A run that changed a host therefore lets its connection go (Forget).
type Dialer struct {
	// Idle is how long an unused connection stays open; 0 keeps nothing.
	Idle time.Duration
	// Dir is the controller user's private directory (mode 0700) of the daemon's socket.
	Dir string
	// Daemon is the command that starts a daemon; the directory is appended as its last argument.
	Daemon []string
	// DaemonEnv is the daemon's whole environment (nil: an empty one). It needs none: what it
	// dials with comes in each request, so a secret in perfprov's environment (a password_env
	// variable) does not live on in a long-lived process.
	DaemonEnv []string
	// Warn, when set, is told in words why kept connections were refused for this run (a
	// directory or daemon that is not the caller's own: see persistDir), before the run connects
	// directly. It may be called once per host dialed; WarnOnce prints the first only.
	Warn func(msg string)
}

// WarnOnce is a Dialer.Warn that writes the first message it is given to w as one line, and
// drops the rest: every host of a run meets the same refusal, the user needs to read it once.
func WarnOnce(w io.Writer) func(msg string) {
	var once sync.Once
	return func(msg string) { once.Do(func() { fmt.Fprintf(w, "perfprov: %s\n", msg) }) }
}

// DefaultIdle is how long a connection outlives its run unless the spec says otherwise.
const DefaultIdle = 60 * time.Second

// Dial opens cfg's connection: from the daemon (started when none runs) when d keeps connections
// and cfg's can be kept, directly otherwise, and directly too when no daemon is to be had.
func (d Dialer) Dial(ctx context.Context, cfg ssh.Config) (*ssh.Conn, error) {
	cfg = cfg.WithDefaults()
	if d.canKeep(cfg) {
		c, err := d.dialKept(ctx, cfg)
		var nd *errNoDaemon
		if !errors.As(err, &nd) {
			return c, err
		}
		// No daemon to be had (a full /tmp, say): this run connects on its own.
	}
	return ssh.Dial(ctx, cfg)
}

// canKeep says whether cfg's connection may go through the daemon: not with a dialer of the
// caller's own (tests) or a passphrase callback (it cannot travel), nor through a proxy command
// (it runs in the run's environment, with its credentials, and its stderr is the run's).
func (d Dialer) canKeep(cfg ssh.Config) bool {
	if d.Idle <= 0 || d.Dir == "" || len(d.Daemon) == 0 || cfg.DialContext != nil || cfg.ProxyCommand != "" {
		return false
	}
	for _, e := range append([]ssh.Endpoint{cfg.Endpoint}, cfg.Jump...) {
		if e.Auth.Passphrase != nil {
			return false
		}
	}
	return true
}

// errNoDaemon is a daemon that could not be reached or started: the run connects directly.
type errNoDaemon struct{ err error }

func (e *errNoDaemon) Error() string { return "connection daemon: " + e.err.Error() }
func (e *errNoDaemon) Unwrap() error { return e.err }

// refusedError is kept connections turned down because the directory, a file in it or the daemon
// is not the caller's own: someone else may be listening there. Unlike a daemon that would not
// start, the user is told (Dialer.Warn): it may be an attack, and it costs every run its logins.
type refusedError struct{ what, why string }

func (e *refusedError) Error() string { return e.what + " " + e.why }

func refusedDaemon(err error) bool {
	var r *refusedError
	return errors.As(err, &r)
}

// dialKept gets cfg's connection from the daemon, starting the daemon if none runs, and says
// why (Dialer.Warn) when it refuses the daemon's directory or the daemon itself.
func (d Dialer) dialKept(ctx context.Context, cfg ssh.Config) (*ssh.Conn, error) {
	c, err := d.dialThroughDaemon(ctx, cfg)
	var refused *refusedError
	if errors.As(err, &refused) && d.Warn != nil {
		d.Warn("not keeping connections: " + refused.Error() + "; connecting directly")
	}
	return c, err
}

func (d Dialer) dialThroughDaemon(ctx context.Context, cfg ssh.Config) (*ssh.Conn, error) {
	dir, err := openPersistDir(d.Dir)
	if err != nil {
		return nil, &errNoDaemon{err}
	}
	defer dir.Close()
	nc, err := dir.dial(ctx)
	if err != nil && !refusedDaemon(err) {
		if err = d.startDaemon(ctx, dir); err == nil {
			nc, err = dir.dial(ctx)
		}
	}
	if err != nil {
		return nil, &errNoDaemon{err}
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	sc, chans, reqs, err := dir.handshake(nc)
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
		return nil, &errNoDaemon{err}
	}
	requests, lost := lostNotice(reqs)
	// The daemon answers within its own dial's time (timeout per attempt, retries, backoff);
	// a daemon that does not is given up on, and this run connects on its own.
	retries := max(cfg.Retries, 0)
	_ = nc.SetDeadline(time.Now().Add(time.Duration(retries+1)*(cfg.Timeout+2*time.Second) + 5*time.Second))
	resp, err := sendAttach(sc, newPersistRequest(cfg, d.Idle))
	if err != nil {
		sc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
		return nil, &errNoDaemon{err}
	}
	if resp.Error != "" {
		sc.Close()
		return nil, errors.New(resp.Error)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewRelayedConn(cfg, gossh.NewClient(sc, chans, requests), lost), nil
}

// handshake authenticates the daemon on nc: it must prove the key it wrote in the directory.
// Nothing of the run's (no request, no password) has been sent yet.
func (d *persistDir) handshake(nc net.Conn) (gossh.Conn, <-chan gossh.NewChannel, <-chan *gossh.Request, error) {
	pub, err := d.daemonKey()
	if err != nil {
		return nil, nil, nil, err
	}
	// A callback of its own rather than gossh.FixedHostKey: its error is known for what it is,
	// whatever the handshake wraps it in.
	var mismatch error
	check := func(_ string, _ net.Addr, key gossh.PublicKey) error {
		if !bytes.Equal(key.Marshal(), pub.Marshal()) {
			mismatch = &refusedError{"the connection daemon at " + filepath.Join(d.path, socketName),
				"did not prove the key in " + keyName + " (it presented " + gossh.FingerprintSHA256(key) + ")"}
			return mismatch
		}
		return nil
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := gossh.NewClientConn(nc, "perfprov-daemon", &gossh.ClientConfig{
		User: "perfprov", HostKeyCallback: check, HostKeyAlgorithms: []string{pub.Type()},
	})
	if mismatch != nil {
		return nil, nil, nil, mismatch
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("handshake with the connection daemon: %w", err)
	}
	return sc, chans, reqs, nil
}

// sendAttach asks the authenticated daemon for req's connection.
func sendAttach(sc gossh.Conn, req *persistRequest) (persistResponse, error) {
	var resp persistResponse
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	ok, payload, err := sc.SendRequest(attachRequest, true, b)
	if err != nil {
		return resp, fmt.Errorf("request to the connection daemon: %w", err)
	}
	if !ok {
		return resp, errors.New("the connection daemon refused the request")
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return resp, fmt.Errorf("the connection daemon's answer: %w", err)
	}
	return resp, nil
}

// lostNotice takes the daemon's lostRequest out of reqs; lost gives its reason (or nil) once
// reqs ends.
func lostNotice(reqs <-chan *gossh.Request) (<-chan *gossh.Request, <-chan error) {
	rest := make(chan *gossh.Request)
	lost := make(chan error, 1)
	go func() {
		defer close(rest)
		var why error
		for r := range reqs {
			if r.Type == lostRequest {
				why = errors.New(string(r.Payload))
				continue
			}
			rest <- r
		}
		lost <- why
	}()
	return rest, lost
}

// startDaemon starts the daemon unless another process did meanwhile (a lock file orders them),
// and waits until it listens. The daemon gets a session of its own, so that the terminal's
// Ctrl-C does not reach it, and none of the caller's streams, so that a pipe reading perfprov's
// output ends when perfprov does.
func (p Dialer) startDaemon(ctx context.Context, dir *persistDir) error {
	lock, err := dir.open("lock", syscall.O_CREAT|syscall.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if nc, err := dir.dial(ctx); err == nil || refusedDaemon(err) {
		if nc != nil {
			nc.Close()
		}
		return err
	}
	if err := dir.remove(socketName); err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := dir.open("daemon.log", syscall.O_CREAT|syscall.O_WRONLY|syscall.O_TRUNC, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.Daemon[0], append(append([]string(nil), p.Daemon[1:]...), p.Dir)...)
	cmd.Env = append([]string{}, p.DaemonEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3: "ready" once it listens
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	go cmd.Wait() // reap it if it ends while this process runs
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("%s did not start (%v); see %s", p.Daemon[0], err, logf.Name())
	}
	return nil
}
