package transport

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/knownhosts"
)

// ServePersist is the connection daemon (see Persist): it listens on the socket in the directory
// at path (checked as a run checks it: see persistDir), opens or reuses the SSH connection a run
// asks for, and relays the run's channels to it. A connection closes when it has been unused for
// its idle time, when its host stops answering, or when a run forgets it; the daemon ends when
// it holds no connection. It writes "ready" on fd 3, if open, once it listens.
func ServePersist(ctx context.Context, path string) error {
	dir, err := openPersistDir(path)
	if err != nil {
		return err
	}
	defer dir.Close()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	// The key before the socket: a run that reaches the socket finds the key it must prove.
	if err := dir.writePrivate(keyName, ssh.MarshalAuthorizedKey(signer.PublicKey())); err != nil {
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
		server: &ssh.ServerConfig{NoClientAuth: true},
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

// writePrivate writes name (mode 0600) whole or not at all: a run never reads half a key.
func (d *persistDir) writePrivate(name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := d.open(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if err := syscall.Renameat(int(d.f.Fd()), tmp, int(d.f.Fd()), name); err != nil {
		return fmt.Errorf("rename %s: %w", f.Name(), err)
	}
	return nil
}

// key names the connection a request may share: every setting of the login, none of the timings.
func (r *persistRequest) key() string {
	k := *r
	k.Timeout, k.Keepalive, k.KeepaliveMax, k.Retries, k.Idle, k.MaxSessions = 0, 0, 0, 0, 0, 0
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *persistRequest) config() SSHConfig {
	ep := func(p persistEndpoint) Endpoint {
		return Endpoint{Address: p.Address, Port: p.Port, User: p.User,
			Auth: Auth{AgentSocket: p.AgentSocket, IdentityFiles: p.IdentityFiles,
				DefaultIdentityFiles: p.DefaultIdentityFiles, Password: p.Password},
			HostKeys: knownhosts.Policy{Files: p.KnownHosts, Mode: p.HostKeyMode, HashNames: p.HashNames}}
	}
	cfg := SSHConfig{Name: r.Name, Endpoint: ep(r.Target), Timeout: r.Timeout, Keepalive: r.Keepalive,
		KeepaliveMax: r.KeepaliveMax, MaxSessions: r.MaxSessions, Retries: r.Retries}
	for _, j := range r.Jump {
		cfg.Jump = append(cfg.Jump, ep(j))
	}
	return cfg
}

// startDaemon starts the daemon unless another process did meanwhile (a lock file orders them),
// and waits until it listens. The daemon gets a session of its own, so that the terminal's
// Ctrl-C does not reach it, and none of the caller's streams, so that a pipe reading perfprov's
// output ends when perfprov does.
func startDaemon(ctx context.Context, p Persist, dir *persistDir) error {
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

type daemon struct {
	mu      sync.Mutex
	conns   map[string]*upstream
	clients int
	idle    *time.Timer // ends the daemon when it holds nothing
	server  *ssh.ServerConfig
	dir     *persistDir
	ln      *net.UnixListener
	closing bool
}

// upstream is one SSH connection the daemon holds for runs.
type upstream struct {
	key    string
	ready  chan struct{} // closed once dialed (or failed)
	conn   *SSHConn
	err    error
	users  int           // runs attached now
	idle   time.Duration // how long it stays open unused
	timer  *time.Timer
	forget bool // a run asked that it close when unused
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
	sc, chans, reqs, err := ssh.NewServerConn(nc, d.server)
	if err != nil {
		return
	}
	defer sc.Close()
	_ = nc.SetDeadline(time.Time{})
	u, err := d.awaitAttach(reqs)
	if err != nil {
		return
	}
	defer d.detach(u)
	go func() {
		for r := range reqs {
			switch r.Type {
			case forgetRequest:
				// Out of the map at once, so that the next run logs in again even if it comes
				// before this one's close; the connection closes when its last run lets go.
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
	// The run's channels end with the run, or all at once when the host's connection does.
	go func() {
		select {
		case <-u.conn.closed:
			// The reason first, so the run reports why (the host stopped answering, say).
			_, _, _ = sc.SendRequest(lostRequest, false, []byte(u.conn.deadErr().Error()))
			sc.Close()
		case <-waitDone(sc):
		}
	}()
	var wg sync.WaitGroup
	for ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			relayChannel(u.conn, ch)
		}()
	}
	wg.Wait()
}

// awaitAttach takes the run's first request, which must be attachRequest, and answers it with
// the connection it asks for (the error in words when there is none).
func (d *daemon) awaitAttach(reqs <-chan *ssh.Request) (*upstream, error) {
	var r *ssh.Request
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
	u, err := d.attach(&req)
	if err != nil {
		_ = answer(persistResponse{Error: err.Error()})
		return nil, err
	}
	if err := answer(persistResponse{}); err != nil {
		d.detach(u)
		return nil, err
	}
	return u, nil
}

func waitDone(sc *ssh.ServerConn) <-chan struct{} {
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

// attach returns the connection for req, opened now or earlier. One that is open is first asked
// for a keepalive reply within req's timeout: a host that stopped answering is reported as such
// (not waited on twice), one whose connection broke is dialed again.
func (d *daemon) attach(req *persistRequest) (*upstream, error) {
	key := req.key()
	for attempt := 0; attempt < 2; attempt++ {
		d.mu.Lock()
		if d.closing {
			d.mu.Unlock()
			return nil, errors.New("connection daemon is shutting down")
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
			u.conn, u.err = DialSSH(context.Background(), req.config())
			close(u.ready)
			if u.err == nil {
				go d.dropWhenClosed(u)
			}
		}
		<-u.ready
		if u.err != nil {
			d.drop(u)
			return nil, u.err
		}
		if fresh {
			return u, nil
		}
		switch err := alive(u.conn, req.Timeout); {
		case err == nil:
			return u, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			d.drop(u)
			return nil, fmt.Errorf("%s: no answer within %s on its open connection (host not answering)", req.Name, req.Timeout)
		default:
			d.drop(u) // broken: dial again
		}
	}
	return nil, fmt.Errorf("%s: the connection broke as it was opened", req.Name)
}

// dropWhenClosed forgets u as soon as its connection ends (the host went away, its keepalives
// went unanswered) while no run uses it, so that a daemon does not hold dead connections until
// their idle time. A run that uses it lets go of it when its commands fail.
func (d *daemon) dropWhenClosed(u *upstream) {
	<-u.conn.closed
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
func alive(c *SSHConn, timeout time.Duration) error {
	if err := c.deadErr(); err != nil {
		return err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
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
	if d.conns[u.key] != u || u.forget || u.idle <= 0 || u.conn.deadErr() != nil {
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

// relayChannel opens the run's channel on the host's connection and relays both ways: data,
// stderr, EOF and requests (exec, subsystem, signal, exit-status...). The host's answers go to the
// run in the order the host gave them: the reply to a request (exec's, above all) before the
// command's exit status and the channel's close, and the exit status after all of the output, as
// OpenSSH sends them. A quick command's reply, exit status and close come in one burst; relayed
// by two goroutines without that order, the run would see its channel close before exec's reply
// ("start command: EOF") for a command that did run.
func relayChannel(up *SSHConn, nch ssh.NewChannel) {
	uch, ureqs, err := up.client.OpenChannel(nch.ChannelType(), nch.ExtraData())
	if err != nil {
		rejectChannel(up, nch, err)
		return
	}
	lch, lreqs, err := nch.Accept()
	if err != nil {
		uch.Close()
		return
	}
	var output sync.WaitGroup
	output.Add(2)
	go func() { _, _ = io.Copy(lch, uch); output.Done() }()
	go func() { _, _ = io.Copy(lch.Stderr(), uch.Stderr()); output.Done() }()
	go func() { output.Wait(); _ = lch.CloseWrite() }()
	go func() {
		_, _ = io.Copy(uch, lch)
		_ = uch.CloseWrite()
	}()
	// answering is held while a request of the run waits for the host's answer. The host
	// answered it before it ended the command (the request was sent first), so taking answering
	// before passing on the end waits for that answer to reach the run.
	var answering sync.Mutex
	go func() {
		for r := range lreqs {
			if !r.WantReply {
				_, _ = uch.SendRequest(r.Type, false, r.Payload)
				continue
			}
			answering.Lock()
			ok, err := uch.SendRequest(r.Type, true, r.Payload)
			if err == nil {
				_ = r.Reply(ok, nil)
			} // else the host's channel closed unanswered: so does the run's, below, as it would direct
			answering.Unlock()
		}
		uch.Close() // the run closed its channel
	}()
	answered := func() { answering.Lock(); answering.Unlock() }
	for r := range ureqs {
		if r.Type == "exit-status" || r.Type == "exit-signal" {
			answered()
			output.Wait()
		}
		ok, err := lch.SendRequest(r.Type, r.WantReply, r.Payload)
		if r.WantReply {
			_ = r.Reply(ok && err == nil, nil)
		}
	}
	answered()
	output.Wait()
	lch.Close()
}

// rejectChannel passes on why the host's connection did not open a channel: the host's own
// reason when it refused it (for lack of room: the run waits and tries again, as it does on a
// direct connection), or the connection's end in words when there is no connection any more.
func rejectChannel(up *SSHConn, nch ssh.NewChannel, err error) {
	var oce *ssh.OpenChannelError
	switch {
	case errors.As(err, &oce):
		_ = nch.Reject(oce.Reason, oce.Message)
	case up.deadErr() != nil:
		_ = nch.Reject(ssh.ConnectionFailed, up.deadErr().Error())
	default:
		_ = nch.Reject(ssh.ConnectionFailed, fmt.Sprintf("the connection to %s closed before the channel opened (%v)", up.name, err))
	}
}
