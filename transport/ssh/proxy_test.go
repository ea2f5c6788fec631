package ssh_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// lines collects what a proxy command writes on stderr.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.got = append(l.got, s); l.mu.Unlock() }
func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func needNC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nc"); err != nil {
		t.Fatalf("nc (netcat-openbsd) is needed: scripts/test-deps.sh installs it: %v", err)
	}
}

func proxyConfig(t *testing.T, command string) (ssh.Config, *lines) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := sshtest.Config(t, srv, sshtest.KnownHosts(t, "plain", srv))
	cfg.ProxyCommand = strings.ReplaceAll(command, "PORT", strconv.Itoa(srv.Port))
	l := &lines{}
	cfg.ProxyStderr = l.add
	return cfg, l
}

// TestProxyCommand: the command's stdin and stdout are the connection (nc to the server), what
// it writes on stderr is passed on line by line, and it is ended with the connection, with
// whatever it started.
func TestProxyCommand(t *testing.T) {
	needNC(t)
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	cfg, stderr := proxyConfig(t, `sh -c 'echo "proxy: connecting" >&2; sleep 300 & echo $! > `+pids+`; echo $$ >> `+pids+`; exec nc 127.0.0.1 PORT'`)
	c, err := ssh.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background(), transport.Command{Script: "echo through the proxy"})
	if err != nil || string(res.Stdout) != "through the proxy\n" {
		t.Fatal(res, err)
	}
	if got := stderr.all(); len(got) != 1 || got[0] != "proxy: connecting" {
		t.Errorf("stderr lines %q", got)
	}
	b, _ := os.ReadFile(pids)
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		t.Fatalf("pids %q", b)
	}
	for _, f := range fields {
		if pid, _ := strconv.Atoi(f); !running(pid) {
			t.Fatalf("process %d (the proxy command, or what it started) not running before Close", pid)
		}
	}
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s", d)
	}
	for _, f := range fields {
		// The signal is sent to the process group; what the command started dies by itself.
		pid, _ := strconv.Atoi(f)
		for deadline := time.Now().Add(2 * time.Second); running(pid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if running(pid) {
			t.Errorf("process %d still running 2s after Close", pid)
		}
	}
}

// running says whether pid is a live process: a zombie (the background sleep, reparented, waits
// for whoever reaps orphans) has ended.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces, the state follows the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// TestProxyCommandExitsEarly: a command that exits before the handshake is the error, with its
// status and last stderr line, never a bare EOF; it is not retried.
func TestProxyCommandExitsEarly(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	cfg, _ := proxyConfig(t, `sh -c 'echo run >> `+count+`; echo "debug1: connecting" >&2; echo "channel 0: open failed: connect failed: No route to host" >&2; exit 3'`)
	_, err := ssh.Dial(context.Background(), cfg)
	want := fmt.Sprintf(`lab1: %s: proxy command %q exited with status 3 before the SSH handshake: channel 0: open failed: connect failed: No route to host`,
		strings.TrimPrefix(cfg.Endpoint.Address+":"+strconv.Itoa(cfg.Port), ""), cfg.ProxyCommand)
	if err == nil || err.Error() != want {
		t.Fatalf("error\n %v\nwant\n %s", err, want)
	}
	if b, _ := os.ReadFile(count); string(b) != "run\n" {
		t.Errorf("the command ran %d times, want once", strings.Count(string(b), "run"))
	}

	cfg.ProxyCommand = "true"
	_, err = ssh.Dial(context.Background(), cfg)
	if err == nil || !strings.HasSuffix(err.Error(), `proxy command "true" exited with status 0 before the SSH handshake: (nothing on its stderr)`) {
		t.Fatalf("error %v", err)
	}
}

// TestProxyCommandEndsMidSession: a proxy that ends an open connection is named as its end.
func TestProxyCommandEndsMidSession(t *testing.T) {
	needNC(t)
	pidFile := filepath.Join(t.TempDir(), "nc.pid")
	cfg, _ := proxyConfig(t, `sh -c 'exec 3<&0; nc 127.0.0.1 PORT <&3 & echo $! > `+pidFile+`; wait $!; echo "session manager: token expired" >&2; exit 7'`)
	c, err := ssh.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("pid file %q", b)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end with its proxy")
	}
	want := fmt.Sprintf(`connection to lab1 lost: proxy command %q exited with status 7: session manager: token expired`, cfg.ProxyCommand)
	if err := c.Err(); err == nil || err.Error() != want {
		t.Fatalf("error\n %v\nwant\n %s", err, want)
	}
	_, err = c.Run(context.Background(), transport.Command{Script: "true"})
	if err == nil || !strings.Contains(err.Error(), "session manager: token expired") {
		t.Errorf("a command after the end: %v", err)
	}
}
