// Package sshtest is an SSH server in the test process, on 127.0.0.1, for the transport's unit
// tests: it runs exec requests with the local /bin/sh, serves SFTP, forwards direct-tcpip to
// loopback (for jump host tests), answers keepalives, limits sessions like sshd's MaxSessions, and
// can be frozen to look like a host that stopped answering. With it come the fixtures of the tests
// that dial one (fixtures.go): keys, known_hosts templates, a Config and Dial for them.
package sshtest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Options configure a Server.
type Options struct {
	// HostKeys are the server's host keys (default: one new ed25519 key).
	HostKeys []ssh.Signer
	// AuthorizedKeys may log in as any user.
	AuthorizedKeys []ssh.PublicKey
	// Passwords maps user to password for password login.
	Passwords map[string]string
	// MaxSessions limits the session channels open at once per connection (0: no limit).
	MaxSessions int
	// Env is added to the environment of commands.
	Env []string
	// Names maps "host:port" of direct-tcpip requests to a loopback address, so that a target
	// is reachable only through this server as a jump host (under a name the controller cannot
	// resolve).
	Names map[string]string
	// NoSFTP refuses the sftp subsystem, like an sshd without Subsystem sftp.
	NoSFTP bool
	// InstantExit answers every exec request, sends exit status 0 and closes the channel at once,
	// running nothing: the tightest order a fast command gives on a real sshd (its reply, exit
	// status and close in one burst), which a relay must keep.
	InstantExit bool
	// DropExec is how many exec requests, the first ones, close their channel without an answer:
	// a channel that breaks between the command's request and its confirmation.
	DropExec int
}

// Server is a running in-process SSH server.
type Server struct {
	Addr string // 127.0.0.1:PORT
	Host string // 127.0.0.1
	Port int
	// HostKeys the server presents.
	HostKeys []ssh.Signer

	opts   Options
	config *ssh.ServerConfig
	ln     net.Listener

	frozen    atomic.Bool
	thaw      chan struct{}
	mu        sync.Mutex
	conns     []net.Conn
	peak      atomic.Int64
	logins    atomic.Int64
	Keepalive atomic.Int64 // keepalive requests received
	Execs     atomic.Int64 // exec requests received
	dropped   atomic.Int64
}

// NewKey returns a new key of type "ed25519", "ecdsa" or "rsa".
func NewKey(t testing.TB, typ string) ssh.Signer {
	t.Helper()
	var k any
	var err error
	switch typ {
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("key type %q", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Start starts a server; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if len(opts.HostKeys) == 0 {
		opts.HostKeys = []ssh.Signer{NewKey(t, "ed25519")}
	}
	s := &Server{opts: opts, HostKeys: opts.HostKeys, thaw: make(chan struct{})}
	s.config = &ssh.ServerConfig{
		// Counted before the server sends its success, so that a client that has logged in
		// always sees its login counted (counting after NewServerConn races with the client).
		AuthLogCallback: func(_ ssh.ConnMetadata, _ string, err error) {
			if err == nil {
				s.logins.Add(1)
			}
		},
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range opts.AuthorizedKeys {
				if string(k.Marshal()) == string(key.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("unknown key")
		},
	}
	if opts.Passwords != nil {
		s.config.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if want, ok := opts.Passwords[c.User()]; ok && want == string(pw) {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	for _, k := range opts.HostKeys {
		s.config.AddHostKey(k)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	host, port, _ := net.SplitHostPort(s.Addr)
	s.Host = host
	s.Port, _ = strconv.Atoi(port)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and drops its connections.
func (s *Server) Close() {
	s.ln.Close()
	s.Thaw()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// Freeze makes the server stop reading from its connections, as a SIGSTOPped sshd would.
func (s *Server) Freeze() { s.frozen.Store(true) }

// Thaw undoes Freeze.
func (s *Server) Thaw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frozen.CompareAndSwap(true, false) {
		close(s.thaw)
		s.thaw = make(chan struct{})
	}
}

// PeakSessions is the most session channels that were open at once on one connection.
func (s *Server) PeakSessions() int { return int(s.peak.Load()) }

// Logins counts the completed SSH logins (connections).
func (s *Server) Logins() int { return int(s.logins.Load()) }

// freezable blocks reads while the server is frozen.
type freezable struct {
	net.Conn
	s *Server
}

func (f freezable) Read(p []byte) (int, error) {
	f.wait()
	n, err := f.Conn.Read(p)
	f.wait() // what arrived while frozen waits for the thaw, as it would for a stopped process
	return n, err
}

func (f freezable) wait() {
	for f.s.frozen.Load() {
		f.s.mu.Lock()
		ch := f.s.thaw
		f.s.mu.Unlock()
		<-ch
	}
}

func (s *Server) serve() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		go s.handle(freezable{nc, s})
	}
}

func (s *Server) handle(nc net.Conn) {
	defer nc.Close()
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.config)
	if err != nil {
		return
	}
	defer conn.Close()
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" {
				s.Keepalive.Add(1)
			}
			// OpenSSH answers unknown global requests, keepalives included, with failure.
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	var open atomic.Int64
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			n := open.Add(1)
			if s.opts.MaxSessions > 0 && n > int64(s.opts.MaxSessions) {
				open.Add(-1)
				nch.Reject(ssh.Prohibited, "open failed")
				continue
			}
			for {
				p := s.peak.Load()
				if n <= p || s.peak.CompareAndSwap(p, n) {
					break
				}
			}
			ch, creqs, err := nch.Accept()
			if err != nil {
				open.Add(-1)
				continue
			}
			go func() {
				defer open.Add(-1)
				s.session(ch, creqs)
			}()
		case "direct-tcpip":
			s.forward(nch)
		default:
			nch.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (s *Server) forward(nch ssh.NewChannel) {
	var req struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	dest := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	if a, ok := s.opts.Names[dest]; ok {
		dest = a
	}
	host, _, _ := net.SplitHostPort(dest)
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		// Tests talk to loopback only.
		nch.Reject(ssh.Prohibited, "loopback only")
		return
	}
	tc, err := net.Dial("tcp", dest)
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		tc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() { io.Copy(ch, tc); ch.CloseWrite(); ch.Close() }()
	go func() { io.Copy(tc, ch); tc.(*net.TCPConn).CloseWrite() }()
}

var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var cmd *exec.Cmd
	done := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			if cmd != nil {
				r.Reply(false, nil)
				continue
			}
			var p struct{ Command string }
			if err := ssh.Unmarshal(r.Payload, &p); err != nil {
				r.Reply(false, nil)
				continue
			}
			s.Execs.Add(1)
			if s.dropped.Add(1) <= int64(s.opts.DropExec) {
				return
			}
			if s.opts.InstantExit {
				r.Reply(true, nil)
				ch.SendRequest("exit-status", false, []byte{0, 0, 0, 0})
				ch.CloseWrite()
				return
			}
			// sshd runs the command with the login shell's -c.
			cmd = exec.Command("/bin/sh", "-c", p.Command)
			cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + os.TempDir()}, s.opts.Env...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = 2 * time.Second
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				return
			}
			r.Reply(true, nil)
			go func(cmd *exec.Cmd) {
				err := cmd.Wait()
				code := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitCode()
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						code = 128 + int(ws.Signal())
					}
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(code))
				ch.SendRequest("exit-status", false, b[:])
				close(done)
				ch.Close()
			}(cmd)
		case "subsystem":
			var p struct{ Name string }
			if err := ssh.Unmarshal(r.Payload, &p); err != nil || p.Name != "sftp" || s.opts.NoSFTP {
				r.Reply(false, nil)
				continue
			}
			r.Reply(true, nil)
			srv, err := sftp.NewServer(ch)
			if err != nil {
				return
			}
			go func() {
				for r := range reqs {
					if r.WantReply {
						r.Reply(false, nil)
					}
				}
			}()
			srv.Serve()
			return
		case "signal":
			var p struct{ Signal string }
			ssh.Unmarshal(r.Payload, &p)
			if sig, ok := signals[p.Signal]; ok && cmd != nil && cmd.Process != nil {
				syscall.Kill(-cmd.Process.Pid, sig)
			}
			if r.WantReply {
				r.Reply(true, nil)
			}
		case "env", "pty-req":
			r.Reply(false, nil)
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
	// The client closed the channel: like sshd, end what still runs.
	if cmd != nil && cmd.Process != nil {
		select {
		case <-done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
		}
	}
}

// String names the server for messages.
func (s *Server) String() string { return fmt.Sprintf("sshtest server %s", s.Addr) }
