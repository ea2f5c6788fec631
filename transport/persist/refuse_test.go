package persist

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// nobody is the uid (and gid) the tests give to what is not the test's own.
const nobody = 65534

// testPassword is the login password the tests watch for: it must not reach a daemon the run
// has not authenticated.
const testPassword = "correct-horse-battery-staple"

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: files and processes of another uid")
	}
}

// refusingConfig is persistConfig with a password to watch for and the warnings in warned.
func refusingConfig(t *testing.T, srv *sshtest.Server, warned *bytes.Buffer) keptConfig {
	t.Helper()
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
	cfg.Endpoint.Auth.Password = testPassword
	var mu sync.Mutex
	warn := WarnOnce(warned)
	cfg.Persist.Warn = func(msg string) { mu.Lock(); defer mu.Unlock(); warn(msg) }
	return cfg
}

// dialDirect dials cfg twice (as two hosts of one run would) and checks each connection is a
// direct one and the run was told why once, in want's words.
func dialDirect(t *testing.T, cfg keptConfig, warned *bytes.Buffer, want string) {
	t.Helper()
	for i := 0; i < 2; i++ {
		if c := dial(t, cfg); c.Relayed() {
			t.Fatalf("dial %d went through the daemon", i+1)
		}
	}
	if got := warned.String(); got != want {
		t.Errorf("stderr:\n got %q\nwant %q", got, want)
	}
}

func TestPersistRefusesADirectoryNotYourOwn(t *testing.T) {
	needRoot(t)
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		why   string // what the message says of the directory
	}{
		{"world-writable", func(t *testing.T, dir string) {
			mustDo(t, os.Mkdir(dir, 0o700), os.Chmod(dir, 0o777))
		}, "has mode 0777, want 0700 (others could reach the socket of your SSH logins in it)"},
		{"group-readable", func(t *testing.T, dir string) {
			mustDo(t, os.Mkdir(dir, 0o700), os.Chmod(dir, 0o750))
		}, "has mode 0750, want 0700 (others could reach the socket of your SSH logins in it)"},
		{"another user's", func(t *testing.T, dir string) {
			mustDo(t, os.Mkdir(dir, 0o700), os.Chown(dir, nobody, nobody))
		}, fmt.Sprintf("is owned by uid %d, not by you (uid 0)", nobody)},
		{"a symbolic link to a directory of your own", func(t *testing.T, dir string) {
			real := filepath.Join(t.TempDir(), "real")
			mustDo(t, os.Mkdir(real, 0o700), os.Symlink(real, dir))
		}, "is a symbolic link, not a directory of your own"},
		{"a dangling symbolic link", func(t *testing.T, dir string) {
			mustDo(t, os.Symlink(filepath.Join(t.TempDir(), "none"), dir))
		}, "is a symbolic link, not a directory of your own"},
		{"a file", func(t *testing.T, dir string) {
			mustDo(t, os.WriteFile(dir, nil, 0o600))
		}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warned bytes.Buffer
			cfg := refusingConfig(t, srv, &warned)
			tc.setup(t, cfg.Persist.Dir)
			want := "perfprov: not keeping connections: " + cfg.Persist.Dir + " " + tc.why + "; connecting directly\n"
			dialDirect(t, cfg, &warned, want)
			if pid := testDaemonPID(cfg.Persist.Dir); pid != 0 {
				t.Errorf("a daemon (pid %d) was started for a refused directory", pid)
			}
			if _, err := os.Stat(socketPath(cfg.Persist.Dir)); err == nil {
				t.Error("a socket was made in a refused directory")
			}
		})
	}
}

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// fakeDaemonEnv makes the daemon helper (runDaemonHelper) a fake daemon: it listens on the socket
// in its directory, prints "ready", then for each connection the number of bytes it was sent.
const fakeDaemonEnv = "PERFPROV_TEST_FAKE_DAEMON"

func runFakeDaemon(dir string) int {
	ln, err := net.Listen("unix", filepath.Join(dir, socketName))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("ready")
	for {
		nc, err := ln.Accept()
		if err != nil {
			fmt.Println(err)
			return 1
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(nc)
		fmt.Printf("got %d bytes (%v)\n", len(b), err)
		nc.Close()
	}
}

// TestPersistRefusesAnotherUsersDaemon: a socket in the directory that another uid listens on
// (moved there: the uid could not have made it there) is refused before a byte is sent to it.
func TestPersistRefusesAnotherUsersDaemon(t *testing.T) {
	needRoot(t)
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	var warned bytes.Buffer
	cfg := refusingConfig(t, srv, &warned)
	mustDo(t, os.Mkdir(cfg.Persist.Dir, 0o700))

	// The fake runs as nobody from a copy of the test binary that nobody may run.
	pub, err := os.MkdirTemp("", "perfprov-fake-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pub) })
	exe, sockDir := filepath.Join(pub, "fake"), filepath.Join(pub, "sock")
	bin, err := os.ReadFile(os.Args[0])
	mustDo(t, err, os.Chmod(pub, 0o755), os.WriteFile(exe, bin, 0o755), os.Mkdir(sockDir, 0o700), os.Chown(sockDir, nobody, nobody))
	fake := exec.Command(exe)
	fake.Env = []string{daemonHelperEnv + "=" + sockDir, fakeDaemonEnv + "=1"}
	fake.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := fake.StdoutPipe()
	mustDo(t, err, fake.Start())
	t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("fake daemon: %q %v", lines.Text(), lines.Err())
	}
	mustDo(t, os.Rename(filepath.Join(sockDir, socketName), socketPath(cfg.Persist.Dir)))
	writeDaemonKey(t, cfg.Persist.Dir, sshtest.NewKey(t, "ed25519").PublicKey())

	want := fmt.Sprintf("perfprov: not keeping connections: the connection daemon at %s runs as uid %d, not as you (uid 0); connecting directly\n",
		socketPath(cfg.Persist.Dir), nobody)
	dialDirect(t, cfg, &warned, want)
	for i := 0; i < 2; i++ { // a line for each dial
		if !lines.Scan() || !strings.HasPrefix(lines.Text(), "got 0 bytes") {
			t.Errorf("fake daemon: %q %v, want nothing sent to it", lines.Text(), lines.Err())
		}
	}
}

func writeDaemonKey(t *testing.T, dir string, pub gossh.PublicKey) {
	t.Helper()
	mustDo(t, os.WriteFile(filepath.Join(dir, keyName), gossh.MarshalAuthorizedKey(pub), 0o600))
}

// recorder keeps every byte read from a connection.
type recorder struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.got = append(r.got, b[:n]...)
	r.mu.Unlock()
	return n, err
}

// TestPersistAuthenticatesTheDaemon: a daemon of the user's uid that does not hold the key in
// the directory (the key file replaced, say) never sees the request; one that does sees it, and
// the password in it, only inside the SSH connection it authenticated.
func TestPersistAuthenticatesTheDaemon(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	for _, tc := range []struct {
		name    string
		matches bool
	}{{"another key", false}, {"the key in the directory", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var warned bytes.Buffer
			cfg := refusingConfig(t, srv, &warned)
			mustDo(t, os.Mkdir(cfg.Persist.Dir, 0o700))
			hostKey := sshtest.NewKey(t, "ed25519")
			filed := sshtest.NewKey(t, "ed25519").PublicKey()
			if tc.matches {
				filed = hostKey.PublicKey()
			}
			writeDaemonKey(t, cfg.Persist.Dir, filed)
			ln, err := net.Listen("unix", socketPath(cfg.Persist.Dir))
			mustDo(t, err)
			t.Cleanup(func() { ln.Close() })
			type seen struct {
				raw     []byte
				request []byte // the payload of the first request
				err     error
			}
			result := make(chan seen, 1)
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					result <- seen{err: err}
					return
				}
				defer nc.Close()
				rec := &recorder{Conn: nc}
				server := &gossh.ServerConfig{NoClientAuth: true}
				server.AddHostKey(hostKey)
				_, _, reqs, err := gossh.NewServerConn(rec, server)
				var s seen
				if s.err = err; err == nil {
					if r := <-reqs; r != nil {
						s.request = r.Payload
						_ = r.Reply(false, nil) // no connection for it: the run connects directly
					}
				}
				_, _ = io.Copy(io.Discard, rec)
				rec.mu.Lock()
				s.raw = rec.got
				rec.mu.Unlock()
				result <- s
			}()
			if c := dial(t, cfg); c.Relayed() {
				t.Fatal("went through the fake daemon")
			}
			s := <-result
			if bytes.Contains(s.raw, []byte(testPassword)) {
				t.Error("the password went over the socket in the clear")
			}
			if !tc.matches {
				want := fmt.Sprintf("perfprov: not keeping connections: the connection daemon at %s did not prove the key in %s (it presented %s); connecting directly\n",
					socketPath(cfg.Persist.Dir), keyName, gossh.FingerprintSHA256(hostKey.PublicKey()))
				if s.err == nil || s.request != nil || warned.String() != want {
					t.Errorf("handshake %v, request %q, stderr:\n got %q\nwant %q", s.err, s.request, warned.String(), want)
				}
				return
			}
			if s.err != nil || !bytes.Contains(s.request, []byte(testPassword)) || warned.Len() != 0 {
				t.Errorf("authenticated daemon: handshake %v, request %q, stderr %q", s.err, s.request, warned.String())
			}
		})
	}
}

func TestDefaultPersistDir(t *testing.T) {
	needRoot(t)
	own := t.TempDir()
	others := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	mustDo(t, os.Chown(others, nobody, nobody), os.Symlink(own, link))
	for _, tc := range []struct{ xdg, want string }{
		{"", "/run/perfprov"},
		{"relative", "/run/perfprov"},
		{own, filepath.Join(own, "perfprov")},
		{others, "/run/perfprov"}, // root keeping a user's environment (sudo -E)
		{link, "/run/perfprov"},
		{filepath.Join(own, "run"), filepath.Join(own, "run", "perfprov")}, // made as needed
		{filepath.Join(others, "run"), "/run/perfprov"},
		{"/tmp/perfprov-test-none", "/run/perfprov"}, // /tmp: others may write there
	} {
		getenv := func(k string) string {
			if k == "XDG_RUNTIME_DIR" {
				return tc.xdg
			}
			return ""
		}
		if got := DefaultDir(getenv); got != tc.want {
			t.Errorf("XDG_RUNTIME_DIR=%q: %s, want %s", tc.xdg, got, tc.want)
		}
	}
}

// TestPersistLongDirectory: the socket is reached through the directory's descriptor, so a
// directory path longer than a socket address may be (107 bytes) still works.
func TestPersistLongDirectory(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60), "persist")
	cfg.Persist.Dir = long
	cfg.Persist.DaemonEnv = []string{daemonHelperEnv + "=" + long}
	t.Cleanup(func() { stopTestDaemon(long) })
	for run := 1; run <= 2; run++ {
		c := dial(t, cfg)
		if !c.Relayed() {
			t.Fatalf("run %d: not through the daemon", run)
		}
		runOut(t, c, "true", "")
		c.Close()
	}
	if n := srv.Logins(); n != 1 {
		t.Errorf("2 runs logged in %d times, want 1", n)
	}
}
