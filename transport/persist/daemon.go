package persist

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh"
)

// Serve is the connection daemon (see Dialer): it listens on the socket in the directory
// at path (checked as a run checks it: see persistDir), opens or reuses the SSH connection a run
// asks for, and relays the run's channels to it. A connection closes when it has been unused for
// its idle time, when its host stops answering, or when a run forgets it; the daemon ends when
// it holds no connection. It writes "ready" on fd 3, if open, once it listens.
func Serve(ctx context.Context, path string) error {
	dir, err := openPersistDir(path)
	if err != nil {
		return err
	}
	defer dir.Close()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	// The key before the socket: a run that reaches the socket finds the key it must prove.
	if err := dir.writePrivate(keyName, gossh.MarshalAuthorizedKey(signer.PublicKey())); err != nil {
		return err
	}
	if err := dir.remove(socketName); err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: dir.at(socketName), Net: "unix"})
	if err != nil {
		return err
	}
	ln.SetUnlinkOnClose(false)
	if err := syscall.Fchmodat(int(dir.f.Fd()), socketName, 0o600, 0); err != nil {
		ln.Close()
		return fmt.Errorf("chmod %s: %w", socketPath(path), err)
	}
	d := &daemon{
		conns:  map[string]*upstream{},
		server: &gossh.ServerConfig{NoClientAuth: true},
		dir:    dir,
		ln:     ln,
	}
	d.server.AddHostKey(signer)
	if ready := os.NewFile(3, "ready"); ready != nil {
		_, _ = ready.Write([]byte("ready\n"))
		ready.Close()
	}
	d.mu.Lock()
	d.checkIdle()
	d.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { d.shutdown() })
	defer stop()
	for {
		nc, err := ln.AcceptUnix()
		if err != nil {
			d.shutdown()
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go d.serve(nc)
	}
}

type daemon struct {
	mu      sync.Mutex
	conns   map[string]*upstream
	clients int
	idle    *time.Timer // ends the daemon when it holds nothing
	server  *gossh.ServerConfig
	dir     *persistDir
	ln      *net.UnixListener
	closing bool
}

// upstream is one SSH connection the daemon holds for runs.
type upstream struct {
	key    string
	ready  chan struct{} // closed once dialed (or failed)
	conn   *ssh.Conn
	err    error
	users  int           // runs attached now
	idle   time.Duration // how long it stays open unused
	timer  *time.Timer
	forget bool // a run asked that it close when unused

	helperMu sync.Mutex
	helper   *remoteHelper // the remote helper of quick commands, once one ran
}

// daemonGrace is how long the daemon waits, holding nothing, before it ends: long enough for a
// run that started it to attach.
const daemonGrace = 5 * time.Second

// checkIdle ends the daemon when it holds neither connections nor runs. Called with mu held.
func (d *daemon) checkIdle() {
	if len(d.conns) > 0 || d.clients > 0 || d.closing {
		if d.idle != nil {
			d.idle.Stop()
			d.idle = nil
		}
		return
	}
	if d.idle == nil {
		d.idle = time.AfterFunc(daemonGrace, func() {
			d.mu.Lock()
			empty := len(d.conns) == 0 && d.clients == 0
			d.mu.Unlock()
			if empty {
				d.shutdown()
			}
		})
	}
}

// shutdown stops listening (the socket goes first, so no run attaches to a daemon that is
// leaving) and closes every connection.
func (d *daemon) shutdown() {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return
	}
	d.closing = true
	_ = d.dir.remove(socketName)
	d.ln.Close()
	conns := d.conns
	d.conns = map[string]*upstream{}
	d.mu.Unlock()
	for _, u := range conns {
		<-u.ready
		if u.conn != nil {
			u.conn.Close()
		}
	}
}

// serve handles one run's connection: check who it is, prove this daemon's key to it (the SSH
// handshake), get the connection its request asks for, then relay its channels to that one.
func (d *daemon) serve(nc *net.UnixConn) {
	defer nc.Close()
	if !sameUser(nc) {
		return
	}
	d.mu.Lock()
	d.clients++
	d.checkIdle()
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.clients--
		d.checkIdle()
		d.mu.Unlock()
	}()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := gossh.NewServerConn(nc, d.server)
	if err != nil {
		return
	}
	defer sc.Close()
	_ = nc.SetDeadline(time.Time{})
	b, err := d.awaitAttach(reqs, sc)
	if err != nil {
		return
	}
	defer b.release()
	go func() {
		for r := range reqs {
			switch r.Type {
			case forgetRequest:
				// Out of the map at once, so that the next run logs in again even if it comes
				// before this one's close; the connection closes when its last run lets go.
				u, _ := b.current()
				d.mu.Lock()
				u.forget = true
				if d.conns[u.key] == u {
					delete(d.conns, u.key)
				}
				d.mu.Unlock()
				_ = r.Reply(true, nil)
			case "keepalive@openssh.com":
				_ = r.Reply(true, nil)
			default:
				_ = r.Reply(false, nil)
			}
		}
	}()
	// The run's channels end with the run, or all at once when the host's connection does (the
	// binding tells the run why first).
	var wg sync.WaitGroup
	for ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ch.ChannelType() == quickChannel {
				b.serveQuick(ch)
				return
			}
			u, _ := b.current()
			relayChannel(u.conn, ch)
		}()
	}
	wg.Wait()
}

// awaitAttach takes the run's first request, which must be attachRequest, and answers it with
// the connection it asks for (the error in words when there is none).
func (d *daemon) awaitAttach(reqs <-chan *gossh.Request, sc *gossh.ServerConn) (*binding, error) {
	var r *gossh.Request
	select {
	case r = <-reqs:
	case <-time.After(10 * time.Second):
		return nil, errors.New("no request")
	}
	if r == nil {
		return nil, errors.New("closed before its request")
	}
	if r.Type != attachRequest {
		_ = r.Reply(false, nil)
		return nil, fmt.Errorf("%s before %s", r.Type, attachRequest)
	}
	answer := func(resp persistResponse) error {
		b, _ := json.Marshal(resp)
		return r.Reply(true, b)
	}
	var req persistRequest
	if err := json.Unmarshal(r.Payload, &req); err != nil {
		_ = answer(persistResponse{Error: "connection daemon: bad request: " + err.Error()})
		return nil, err
	}
	if req.Version != persistVersion {
		err := fmt.Errorf("connection daemon speaks version %d, not %d", persistVersion, req.Version)
		_ = answer(persistResponse{Error: err.Error()})
		return nil, err
	}
	u, fresh, err := d.attach(&req)
	if err != nil {
		_ = answer(persistResponse{Error: err.Error()})
		return nil, err
	}
	if err := answer(persistResponse{}); err != nil {
		d.detach(u)
		return nil, err
	}
	return newBinding(d, &req, sc, u, fresh), nil
}

func waitDone(sc *gossh.ServerConn) <-chan struct{} {
	done := make(chan struct{})
	go func() { _ = sc.Wait(); close(done) }()
	return done
}

// sameUser checks the peer of the socket is this daemon's user (or root): the directory's mode
// already says so; this says it again at the door.
func sameUser(nc *net.UnixConn) bool {
	cred, err := peerCred(nc)
	return err == nil && (int(cred.Uid) == os.Geteuid() || cred.Uid == 0)
}

// attach returns the connection for req, opened now (fresh) or earlier. One that is open is not
// proven alive here: the run's binding proves it beside the run's first request (see binding).
// One whose connection ended is dialed again.
func (d *daemon) attach(req *persistRequest) (u *upstream, fresh bool, err error) {
	key := req.key()
	for attempt := 0; attempt < 2; attempt++ {
		d.mu.Lock()
		if d.closing {
			d.mu.Unlock()
			return nil, false, errors.New("connection daemon is shutting down")
		}
		u := d.conns[key]
		fresh := u == nil
		if fresh {
			u = &upstream{key: key, ready: make(chan struct{})}
			d.conns[key] = u
		}
		u.users++
		u.idle = req.Idle
		if u.timer != nil {
			u.timer.Stop()
			u.timer = nil
		}
		d.checkIdle()
		d.mu.Unlock()
		if fresh {
			u.conn, u.err = ssh.Dial(context.Background(), req.config())
			close(u.ready)
			if u.err == nil {
				go d.dropWhenClosed(u)
			}
		}
		<-u.ready
		if u.err != nil {
			d.drop(u)
			return nil, false, u.err
		}
		if fresh || u.conn.Err() == nil {
			return u, fresh, nil
		}
		d.drop(u) // broken: dial again
	}
	return nil, false, fmt.Errorf("%s: the connection broke as it was opened", req.Name)
}

// dropWhenClosed forgets u as soon as its connection ends (the host went away, its keepalives
// went unanswered) while no run uses it, so that a daemon does not hold dead connections until
// their idle time. A run that uses it lets go of it when its commands fail.
func (d *daemon) dropWhenClosed(u *upstream) {
	<-u.conn.Done()
	d.mu.Lock()
	defer d.mu.Unlock()
	if u.users == 0 && d.conns[u.key] == u {
		delete(d.conns, u.key)
		if u.timer != nil {
			u.timer.Stop()
		}
		d.checkIdle()
	}
}

// alive sends a keepalive and waits up to timeout for any reply.
func alive(c *ssh.Conn, timeout time.Duration) error {
	if err := c.Err(); err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = transport.DefaultTimeout
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Client().SendRequest("keepalive@openssh.com", true, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return os.ErrDeadlineExceeded
	}
}

// drop lets a run go of u and closes u at once.
func (d *daemon) drop(u *upstream) {
	d.mu.Lock()
	u.users--
	if d.conns[u.key] == u {
		delete(d.conns, u.key)
	}
	d.checkIdle()
	d.mu.Unlock()
	if u.conn != nil {
		u.conn.Close()
	}
}

// detach lets a run go of u; unused, u closes after its idle time, or at once when it was
// forgotten or dropped.
func (d *daemon) detach(u *upstream) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.users--
	if u.users > 0 {
		return
	}
	if d.conns[u.key] != u || u.forget || u.idle <= 0 || u.conn.Err() != nil {
		if d.conns[u.key] == u {
			delete(d.conns, u.key)
		}
		d.checkIdle()
		go u.conn.Close()
		return
	}
	u.timer = time.AfterFunc(u.idle, func() {
		d.mu.Lock()
		if u.users > 0 || d.conns[u.key] != u {
			d.mu.Unlock()
			return
		}
		delete(d.conns, u.key)
		d.checkIdle()
		d.mu.Unlock()
		u.conn.Close()
	})
}
