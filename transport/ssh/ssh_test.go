package ssh_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/conntest"
	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

func TestSSHRun(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	for _, tc := range conntest.Cases() {
		t.Run(tc.Name, func(t *testing.T) { conntest.Check(t, c, tc) })
	}
}

func TestSSHRunStreams(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	var out, errw bytes.Buffer
	res, err := c.Run(context.Background(), transport.Command{Script: "echo a; echo b >&2; echo c", Stdout: &out, Stderr: &errw})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nc\n" || errw.String() != "b\n" || string(res.Stdout) != "a\nc\n" || string(res.Stderr) != "b\n" {
		t.Errorf("streamed %q %q, captured %q %q", out.String(), errw.String(), res.Stdout, res.Stderr)
	}
	// Streaming happens while the command runs, not at its end.
	pr, pw := io.Pipe()
	go c.Run(context.Background(), transport.Command{Script: "echo first; sleep 5", Stdout: pw})
	line := make([]byte, 6)
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(pr, line); done <- err }()
	select {
	case err := <-done:
		if err != nil || string(line) != "first\n" {
			t.Errorf("read %q %v", line, err)
		}
	case <-time.After(3 * time.Second):
		t.Error("output was not streamed while the command ran")
	}
}

func TestSSHCancel(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	marker := filepath.Join(t.TempDir(), "still-running")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Run(ctx, transport.Command{Script: "sleep 3; touch " + marker})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %s", d)
	}
	time.Sleep(3500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the remote command went on after the cancel")
	}
	// The connection is still good.
	if res, err := c.Run(context.Background(), transport.Command{Script: "echo ok"}); err != nil || !res.OK() {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestSSHMaxSessions(t *testing.T) {
	for _, max := range []int{10, 3} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			srv := sshtest.StartWithKeys(t, sshtest.Options{MaxSessions: max}, "host_ed25519")
			cfg := sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
			// Configured higher than the server allows when max is 3: refused channels are retried.
			cfg.MaxSessions = 10
			c := sshtest.Dial(t, cfg)
			var wg sync.WaitGroup
			var failed atomic.Int32
			for i := 0; i < 50; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := c.Run(context.Background(), transport.Command{Script: fmt.Sprintf("sleep 0.05; echo %d", i)})
					if err != nil || string(res.Stdout) != fmt.Sprintf("%d\n", i) {
						failed.Add(1)
						t.Errorf("command %d: %v %v", i, res, err)
					}
				}()
			}
			// File transfer at the same time uses the one SFTP channel.
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Upload(context.Background(), filepath.Join(t.TempDir(), "f"), strings.NewReader("x"), 0o644); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
			if srv.Logins() != 1 {
				t.Errorf("%d connections, want 1", srv.Logins())
			}
			if p := srv.PeakSessions(); p > max {
				t.Errorf("peak %d sessions, server allows %d", p, max)
			}
		})
	}
}

func TestSSHUpload(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	dir := t.TempDir()
	target := filepath.Join(dir, "motd")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		content string
		mode    os.FileMode
	}{
		{"new content\n", 0o640},
		{strings.Repeat("big ", 300000), 0o750},
		{"", 0o600},
		{"setuid", os.ModeSetuid | 0o750},
	}
	for _, tt := range tests {
		// Watch the directory while uploading: the target must only ever hold old or new content.
		stop := make(chan struct{})
		var bad atomic.Value
		var watch sync.WaitGroup
		watch.Add(1)
		go func() {
			defer watch.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := os.ReadFile(target)
				if err != nil {
					bad.Store(err.Error())
				} else if s := string(b); s != tt.content && len(s) > 0 && s != "old" && !strings.HasPrefix(s, "new") && !strings.HasPrefix(s, "big") && s != "setuid" {
					bad.Store("partial content")
				}
			}
		}()
		err := c.Upload(context.Background(), target, strings.NewReader(tt.content), tt.mode)
		close(stop)
		watch.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if v := bad.Load(); v != nil {
			t.Errorf("target seen in a bad state: %v", v)
		}
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode() & (os.ModePerm | os.ModeSetuid); got != tt.mode&(os.ModePerm|os.ModeSetuid) {
			t.Errorf("mode %v, want %v", got, tt.mode)
		}
		var back bytes.Buffer
		if err := c.Download(context.Background(), target, &back); err != nil {
			t.Fatal(err)
		}
		if back.String() != tt.content {
			t.Errorf("downloaded %d bytes, want %d", back.Len(), len(tt.content))
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := c.Upload(context.Background(), "relative/path", strings.NewReader(""), 0o644); err == nil {
		t.Error("relative path accepted")
	}
	if err := c.Upload(context.Background(), filepath.Join(dir, "missing", "f"), strings.NewReader(""), 0o644); err == nil || !strings.HasPrefix(err.Error(), "lab1: ") {
		t.Errorf("upload into a missing directory: %v", err)
	}
}

func TestSSHAuth(t *testing.T) {
	tests := []struct {
		name     string
		auth     ssh.Auth
		password map[string]string
		wantErr  []string
	}{
		{name: "ed25519", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_ed25519")}}},
		{name: "second key works", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_rsa"), sshtest.KeyFile(t, "client_ed25519")}}},
		{name: "password", auth: ssh.Auth{Password: "pw"}, password: map[string]string{"alice": "pw"}},
		{name: "wrong key", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_ecdsa")}},
			wantErr: []string{"ssh: login as alice@[127.0.0.1]:", " failed: tried publickey (client_ecdsa)"}},
		{name: "wrong key and password", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_rsa")}, Password: "nope"}, password: map[string]string{"alice": "pw"},
			wantErr: []string{"failed: tried publickey (client_rsa), password"}},
		{name: "nothing to offer", wantErr: []string{"failed: tried no method"}},
		{name: "encrypted key", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_encrypted")}},
			wantErr: []string{"client_encrypted is encrypted and there is no passphrase source", "ssh-add"}},
		{name: "encrypted default key skipped", auth: ssh.Auth{DefaultIdentityFiles: []string{sshtest.KeyFile(t, "client_encrypted"), filepath.Join(t.TempDir(), "missing")}},
			wantErr: []string{"tried publickey (client_encrypted skipped: encrypted)"}},
		{name: "encrypted key with passphrase", auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_encrypted")},
			Passphrase: func(string) ([]byte, error) { return []byte("secret passphrase"), nil }},
			wantErr: []string{"tried publickey (client_encrypted)"}},
		{name: "missing key file", auth: ssh.Auth{IdentityFiles: []string{filepath.Join(t.TempDir(), "missing")}}, wantErr: []string{"identity file", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sshtest.StartWithKeys(t, sshtest.Options{Passwords: tt.password}, "host_ed25519")
			cfg := sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
			cfg.Auth = tt.auth
			c, err := ssh.Dial(context.Background(), cfg)
			if err == nil {
				c.Close()
			}
			sshtest.CheckErr(t, err, tt.wantErr...)
			if err != nil && tt.auth.Password != "" && strings.Contains(err.Error(), tt.auth.Password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestSSHAgent: the agent's key logs in where the identity files cannot. An encrypted default key
// the agent does not hold is skipped (so the login is the agent's); named in IdentityFiles, the
// same key is an error before any login, agent or not.
func TestSSHAgent(t *testing.T) {
	ctx := context.Background()
	sock := sshtest.Agent(t, "client_ed25519")
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
	// The encrypted file's key is not the one the server knows; the agent's is.
	encrypted := sshtest.KeyFile(t, "client_encrypted")
	cfg.Auth = ssh.Auth{AgentSocket: sock, DefaultIdentityFiles: []string{encrypted}}
	c := sshtest.Dial(t, cfg)
	if res, err := c.Run(ctx, transport.Command{Script: "echo ok"}); err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("run through the agent's login: %v %v", res, err)
	}
	c.Close()
	if n := srv.Logins(); n != 1 {
		t.Errorf("%d logins, want 1", n)
	}

	// Without the agent the same files do not log in: the login above was the agent's key.
	cfg.Auth = ssh.Auth{DefaultIdentityFiles: []string{encrypted}}
	_, err := ssh.Dial(ctx, cfg)
	sshtest.CheckErr(t, err, "failed: tried publickey (client_encrypted skipped: encrypted)")

	// Named explicitly, an encrypted key the agent does not hold is an error, agent or not.
	cfg.Auth = ssh.Auth{AgentSocket: sock, IdentityFiles: []string{encrypted}}
	_, err = ssh.Dial(ctx, cfg)
	var enc *ssh.EncryptedKeyError
	if !errors.As(err, &enc) || enc.File != encrypted {
		t.Errorf("encrypted identity file with an agent that lacks it: %v, want an EncryptedKeyError for %s", err, encrypted)
	}
	if n := srv.Logins(); n != 1 {
		t.Errorf("%d logins after the failed ones, want 1", n)
	}
}

func TestHandshakeDeadline(t *testing.T) {
	// A listener that accepts and never speaks: TCP connects, SSH never starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	cfg := ssh.Config{Name: "lab1", Endpoint: ssh.Endpoint{Address: "127.0.0.1", Port: addr.Port, User: "alice"}, Timeout: 500 * time.Millisecond}
	start := time.Now()
	_, err = ssh.Dial(context.Background(), cfg)
	d := time.Since(start)
	sshtest.CheckErr(t, err, "lab1: ", "no SSH handshake within 500ms")
	if d < 450*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("gave up after %s, want about 500ms (no retry for a silent host)", d)
	}
}

func TestConnectRetries(t *testing.T) {
	// A port nobody listens on: refused, which is transient, retried, then reported.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var dials atomic.Int32
	cfg := ssh.Config{Name: "lab1", Endpoint: ssh.Endpoint{Address: "127.0.0.1", Port: port, User: "alice"}, Timeout: time.Second, Retries: 2,
		DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, n, a)
		}}
	_, err := ssh.Dial(context.Background(), cfg)
	sshtest.CheckErr(t, err, "lab1: connect to 127.0.0.1:", "connection refused")
	if dials.Load() != 3 {
		t.Errorf("%d dials, want 3", dials.Load())
	}
	// Auth failures are never retried.
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	dials.Store(0)
	cfg = sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
	cfg.Auth = ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_rsa")}}
	cfg.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, n, a)
	}
	_, err = ssh.Dial(context.Background(), cfg)
	sshtest.CheckErr(t, err, "login as alice")
	if dials.Load() != 1 {
		t.Errorf("auth failure dialled %d times", dials.Load())
	}
	// Nor host key failures.
	dials.Store(0)
	cfg.Auth = ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_ed25519")}}
	cfg.HostKeys.Files = []string{sshtest.KnownHosts(t, "changed", srv)}
	_, err = ssh.Dial(context.Background(), cfg)
	sshtest.CheckErr(t, err, "CHANGED")
	if dials.Load() != 1 {
		t.Errorf("host key failure dialled %d times", dials.Load())
	}
}

func TestKeepaliveDeath(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
	cfg.Keepalive = 100 * time.Millisecond
	cfg.KeepaliveMax = 3
	c := sshtest.Dial(t, cfg)
	time.Sleep(350 * time.Millisecond)
	if srv.Keepalive.Load() == 0 {
		t.Fatal("no keepalive sent")
	}
	if res, err := c.Run(context.Background(), transport.Command{Script: "echo alive"}); err != nil || !res.OK() {
		t.Fatalf("before freeze: %v", err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), transport.Command{Script: "sleep 30"})
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	srv.Freeze()
	start := time.Now()
	select {
	case err := <-errc:
		sshtest.CheckErr(t, err, "host lab1 stopped answering")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("detected after %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a frozen host was not declared dead")
	}
	// Later commands fail at once with the same reason.
	_, err := c.Run(context.Background(), transport.Command{Script: "true"})
	sshtest.CheckErr(t, err, "stopped answering")
}

func TestJumpHosts(t *testing.T) {
	jump1 := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ecdsa")
	jump2 := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	target := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := func(s *sshtest.Server, key string) string {
		return knownhosts.Name(s.Host, s.Port) + " " + string(gossh.MarshalAuthorizedKey(sshtest.PublicKey(t, key)))
	}
	os.WriteFile(kh, []byte(line(jump1, "host_ecdsa")+line(jump2, "host_ed25519")+line(target, "host_ed25519")), 0o600)
	hop := func(s *sshtest.Server, files ...string) ssh.Endpoint {
		return ssh.Endpoint{Address: s.Host, Port: s.Port, User: "jumper", Auth: ssh.Auth{IdentityFiles: []string{sshtest.KeyFile(t, "client_ed25519")}}, HostKeys: knownhosts.Policy{Files: files}}
	}
	cfg := sshtest.Config(t, target, kh)
	cfg.Jump = []ssh.Endpoint{hop(jump1, kh), hop(jump2, kh)}
	c := sshtest.Dial(t, cfg)
	res, err := c.Run(context.Background(), transport.Command{Script: "echo via jumps"})
	if err != nil || string(res.Stdout) != "via jumps\n" {
		t.Fatal(res, err)
	}
	if jump1.Logins() != 1 || jump2.Logins() != 1 || target.Logins() != 1 {
		t.Errorf("logins %d %d %d", jump1.Logins(), jump2.Logins(), target.Logins())
	}
	c.Close()

	// The second hop's key is checked too.
	bad := sshtest.KnownHosts(t, "changed", jump2)
	cfg.Jump = []ssh.Endpoint{hop(jump1, kh), hop(jump2, bad)}
	_, err = ssh.Dial(context.Background(), cfg)
	sshtest.CheckErr(t, err, "lab1: ", "CHANGED", fmt.Sprintf("[127.0.0.1]:%d", jump2.Port))
}

func TestCloseEndsCommands(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), transport.Command{Script: "sleep 30"})
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		sshtest.CheckErr(t, err, "lab1")
	case <-time.After(3 * time.Second):
		t.Fatal("Close left a command running")
	}
}

func TestSSHUploadWithoutSFTP(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{NoSFTP: true})
	dir := t.TempDir()
	target := filepath.Join(dir, "it's here")
	for _, mode := range []os.FileMode{0o600, 0o755 | os.ModeSetgid} {
		if err := c.Upload(context.Background(), target, strings.NewReader("line\n"), mode); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("mode %v, want %v", st.Mode(), mode)
		}
		var b bytes.Buffer
		if err := c.Download(context.Background(), target, &b); err != nil || b.String() != "line\n" {
			t.Errorf("download %q %v", b.String(), err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestDialCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err = ssh.Dial(ctx, ssh.Config{Name: "lab1", Endpoint: ssh.Endpoint{Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "alice"}, Timeout: 10 * time.Second})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "lab1: ") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %s", d)
	}
}

func TestQuickCommandRunsWithoutReaper(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	// No reaper: the shell that runs the script is the session's own, and stderr is the script's.
	res, err := c.Run(context.Background(), transport.Command{Script: `printf 'perfprov-pid:7\nrest\n' >&2; echo "$0"`, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stderr) != "perfprov-pid:7\nrest\n" || string(res.Stdout) != "/bin/sh\n" {
		t.Errorf("stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Run(ctx, transport.Command{Script: "sleep 5", Quick: true}); err == nil {
		t.Error("a cancelled quick command succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cancelled quick command returned after %v", d)
	}
}
