package persist

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/become"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// daemonHelperEnv makes the test binary the connection daemon (see TestMain): the daemon is a
// process of its own, as in production, started by the code under test.
const daemonHelperEnv = "PERFPROV_TEST_PERSIST_DAEMON"

func TestMain(m *testing.M) {
	if dir := os.Getenv(daemonHelperEnv); dir != "" {
		os.Exit(runDaemonHelper(dir))
	}
	os.Exit(m.Run())
}

func runDaemonHelper(dir string) int {
	if os.Getenv(fakeDaemonEnv) != "" {
		return runFakeDaemon(dir)
	}
	if err := Serve(context.Background(), dir); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

// keptConfig is a connection's settings and the Dialer that keeps it, as connect.Open holds them
// (a zero Persist dials directly).
type keptConfig struct {
	ssh.Config
	Persist Dialer
}

// dial connects through cfg.Persist and closes the connection at the end of the test.
func dial(t testing.TB, cfg keptConfig) *ssh.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := cfg.Persist.Dial(ctx, cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// persistConfig is sshtest.Config(srv) with connections kept for idle in a new private directory.
func persistConfig(t *testing.T, srv *sshtest.Server, knownHosts string, idle time.Duration) keptConfig {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "persist")
	cfg := keptConfig{Config: sshtest.Config(t, srv, knownHosts)}
	cfg.Persist = Dialer{Idle: idle, Dir: dir, Daemon: []string{os.Args[0]}, DaemonEnv: []string{daemonHelperEnv + "=" + dir}}
	t.Cleanup(func() {
		stopTestDaemon(dir)
		// The daemon reports nothing when all goes well (a race or a panic would be here).
		if b, err := os.ReadFile(filepath.Join(dir, "daemon.log")); err == nil && len(b) > 0 {
			t.Errorf("daemon.log:\n%s", b)
		}
	})
	return cfg
}

// testDaemonPID finds the daemon serving dir (0: none).
func testDaemonPID(dir string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmd, []byte(os.Args[0]+"\x00")) || !bytes.HasSuffix(cmd, []byte("\x00"+dir+"\x00")) {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid); err == nil {
			return pid
		}
	}
	return 0
}

// stopTestDaemon ends the daemon of dir, if one runs.
func stopTestDaemon(dir string) {
	if pid := testDaemonPID(dir); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func runOut(t *testing.T, c *ssh.Conn, script string, stdin string) *transport.Result {
	t.Helper()
	cmd := transport.Command{Script: script}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	res, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPersistReusesTheLogin(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	kh := sshtest.KnownHosts(t, "plain", srv)
	cfg := persistConfig(t, srv, kh, time.Minute)

	for run := 1; run <= 3; run++ {
		c := dial(t, cfg)
		if !c.Relayed() {
			t.Fatalf("run %d: the connection did not go through the daemon", run)
		}
		// Everything a direct connection does: stdin, stdout, stderr, exit status, SFTP.
		res := runOut(t, c, `cat; echo out; echo err >&2; exit 3`, "in\n")
		if string(res.Stdout) != "in\nout\n" || string(res.Stderr) != "err\n" || res.ExitStatus != 3 {
			t.Errorf("run %d: got %q %q %d", run, res.Stdout, res.Stderr, res.ExitStatus)
		}
		path := filepath.Join(t.TempDir(), "f")
		if err := c.Upload(context.Background(), path, strings.NewReader("content"), 0o640); err != nil {
			t.Fatalf("run %d: upload: %v", run, err)
		}
		var got bytes.Buffer
		if err := c.Download(context.Background(), path, &got); err != nil || got.String() != "content" {
			t.Errorf("run %d: download %q, %v", run, got.String(), err)
		}
		c.Close()
	}
	if n := srv.Logins(); n != 1 {
		t.Errorf("3 runs logged in %d times, want 1", n)
	}
	fi, err := os.Stat(socketPath(cfg.Persist.Dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v %v", fi, err)
	}
	// The daemon outlives the run: it must not carry the run's environment (secrets included).
	pid := testDaemonPID(cfg.Persist.Dir)
	if pid == 0 {
		t.Fatal("no daemon process found")
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || string(environ) != daemonHelperEnv+"="+cfg.Persist.Dir+"\x00" {
		t.Errorf("daemon environment %q (%v), want only the test's marker", environ, err)
	}
}

func TestPersistLogsInAgain(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	kh := sshtest.KnownHosts(t, "plain", srv)

	t.Run("after a run forgot it", func(t *testing.T) {
		cfg := persistConfig(t, srv, kh, time.Minute)
		before := srv.Logins()
		c := dial(t, cfg)
		Forget(become.NewSudo(c, "alice", "", "")) // through the decorator, as the engine holds it
		c.Close()
		c = dial(t, cfg)
		runOut(t, c, "true", "")
		if n := srv.Logins() - before; n != 2 {
			t.Errorf("logins %d, want 2", n)
		}
	})
	t.Run("after its idle time", func(t *testing.T) {
		cfg := persistConfig(t, srv, kh, 200*time.Millisecond)
		before := srv.Logins()
		dial(t, cfg).Close()
		time.Sleep(600 * time.Millisecond)
		dial(t, cfg).Close()
		if n := srv.Logins() - before; n != 2 {
			t.Errorf("logins %d, want 2", n)
		}
	})
	t.Run("when known_hosts changed", func(t *testing.T) {
		cfg := persistConfig(t, srv, kh, time.Minute)
		before := srv.Logins()
		dial(t, cfg).Close()
		b, _ := os.ReadFile(kh)
		if err := os.WriteFile(kh, append(b, "# edited\n"...), 0o600); err != nil {
			t.Fatal(err)
		}
		dial(t, cfg).Close()
		if n := srv.Logins() - before; n != 2 {
			t.Errorf("logins %d, want 2", n)
		}
	})
}

// TestPersistFrozenHost: a kept connection is handed to the run at once and proven alive beside
// its first command; a host that stopped answering fails that command within the timeout, with
// the reason in words.
func TestPersistFrozenHost(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
	cfg.Timeout = time.Second
	dial(t, cfg).Close()
	srv.Freeze()
	defer srv.Thaw()
	start := time.Now()
	c, err := cfg.Persist.Dial(context.Background(), cfg.Config)
	if err == nil {
		defer c.Close()
		_, err = c.Run(context.Background(), transport.Command{Script: "true", Quick: true})
	}
	if err == nil || !strings.Contains(err.Error(), "lab1: no answer within 1s") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("reported after %v, timeout 1s", d)
	}
}

func TestPersistErrorsComeThrough(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	// known_hosts holds another key for the server: the daemon refuses it as a direct dial would.
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "changed", srv), time.Minute)
	_, err := cfg.Persist.Dial(context.Background(), cfg.Config)
	if err == nil || !strings.Contains(err.Error(), "lab1: ") || !strings.Contains(err.Error(), "CHANGED") {
		t.Errorf("err = %v", err)
	}
	if srv.Logins() != 0 {
		t.Errorf("logged in to a host whose key changed")
	}
}

func TestPersistDaemonEndsWhenUnused(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), 100*time.Millisecond)
	dial(t, cfg).Close()
	// idle 100ms, then the daemon's grace: it removes its socket and exits.
	if !socketGone(cfg.Persist.Dir, daemonGrace+5*time.Second) {
		t.Error("the daemon still listens with nothing to hold")
	}
}

// socketGone waits up to within for the daemon of dir to remove its socket (as it does when it ends).
func socketGone(dir string, within time.Duration) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(socketPath(dir)); os.IsNotExist(err) {
			return true
		}
	}
	return false
}

func TestCheckKeptHostKeys(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	kh := sshtest.KnownHosts(t, "plain", srv) // holds host_ed25519
	cfg := persistConfig(t, srv, kh, time.Minute)
	line := func(k gossh.PublicKey) string { return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))) }
	known := line(sshtest.PublicKey(t, "host_ed25519"))
	other := line(sshtest.NewKey(t, "ed25519").PublicKey())
	ecdsa := line(sshtest.NewKey(t, "ecdsa").PublicKey())

	c := dial(t, cfg)
	for _, keys := range [][]string{{known}, {known, ecdsa}, {ecdsa}, {other, known}, nil} {
		if err := CheckKeptHostKeys(c, keys); err != nil {
			t.Errorf("keys %d: %v", len(keys), err)
		}
	}
	before := srv.Logins()
	err := CheckKeptHostKeys(become.NewSudo(c, "alice", "", ""), []string{other, ecdsa})
	if err == nil || !strings.Contains(err.Error(), "has CHANGED") || !strings.Contains(err.Error(), kh+":") {
		t.Fatalf("err = %v, want the changed-key error naming known_hosts", err)
	}
	c.Close()
	dial(t, cfg).Close() // the kept connection was let go: a new login
	if n := srv.Logins() - before; n != 1 {
		t.Errorf("logins after a changed key: %d, want 1", n)
	}

	// A direct connection was checked at its own login: nothing to do.
	direct := dial(t, keptConfig{Config: sshtest.Config(t, srv, kh)})
	if err := CheckKeptHostKeys(direct, []string{other}); err != nil {
		t.Errorf("direct connection: %v", err)
	}
}

func TestPersistDaemonDropsADeadConnection(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Hour)
	dial(t, cfg).Close()
	srv.Close() // the host goes away: the kept connection ends long before its idle time
	if !socketGone(cfg.Persist.Dir, daemonGrace+5*time.Second) {
		t.Error("the daemon still holds a connection whose host went away")
	}
}

// TestSocketName: the socket's name carries the protocol version, so that a newer perfprov never
// talks to an older daemon.
func TestSocketName(t *testing.T) {
	if want := "s" + strconv.Itoa(persistVersion); socketName != want || keyName != want+".pub" {
		t.Errorf("socket %q, key %q: want %q and %q.pub", socketName, keyName, want, want)
	}
}
