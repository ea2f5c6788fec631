package connect

// Integration tests against the lab of real hosts (internal/testbed).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

func TestMain(m *testing.M) { testbed.Main(m) }

// TestLabAliasProxyJump reaches one lab host through another, by ssh_config aliases only. The
// target's HostName is its lab name, which only the lab hosts resolve (their /etc/hosts): the
// controller cannot reach it but through the jump.
func TestLabAliasProxyJump(t *testing.T) {
	lab := testbed.Require(t, 2)
	jump, target := lab.Hosts[0], lab.Hosts[1]
	dir := t.TempDir()
	lab0, err := os.ReadFile(lab.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	line := target.Name + " " + string(gossh.MarshalAuthorizedKey(target.HostKey()))
	if err := os.WriteFile(kh, append(lab0, line...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ssh_config")
	text := fmt.Sprintf(`Host bastion
    HostName %s
    User alice
Host app
    HostName %s
    ProxyJump bastion
Host *
    User root
    IdentityFile %s
    UserKnownHostsFile %s
`, jump.Address, target.Name, lab.KeyPath, kh)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &spec.Host{Name: "app-server", Address: "app", Conn: spec.Connection{Type: "ssh", HostKeyChecking: "strict"}}
	c, err := Open(context.Background(), h, Options{SSHConfigPath: cfg, HomeDir: t.TempDir(), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Run(context.Background(), transport.Command{Script: "hostname; id -un"})
	if err != nil || !res.OK() {
		t.Fatal(res, err)
	}
	if got, want := string(res.Stdout), target.Name+"\nroot\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// lockedBuffer is an Options.Stderr for tests: hosts write to it in parallel.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLabProxyCommand reaches a lab host through another with OpenSSH's own `ProxyCommand ssh -W
// %h:%p bastion` (the target's name resolves only on the lab hosts), and a lab host through
// `ProxyCommand nc %h %p`; a proxy that cannot connect is an error with its exit status and
// its last words, which also reach the run's stderr prefixed with the host.
func TestLabProxyCommand(t *testing.T) {
	for _, bin := range []string{"ssh", "nc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed (scripts/test-deps.sh installs it): %v", bin, err)
		}
	}
	lab := testbed.Require(t, 2)
	bastion, target := lab.Hosts[0], lab.Hosts[1]
	dir := t.TempDir()
	lab0, err := os.ReadFile(lab.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	line := target.Name + " " + string(gossh.MarshalAuthorizedKey(target.HostKey()))
	if err := os.WriteFile(kh, append(lab0, line...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "ssh_config")
	text := fmt.Sprintf(`Host bastion
    HostName %[1]s
    BatchMode yes
Host app
    HostName %[2]s
    ProxyCommand ssh -F %[5]s -W %%h:%%p bastion
Host refused
    HostName %[2]s
    Port 2
    ProxyCommand ssh -F %[5]s -W %%h:%%p bastion
Host direct
    HostName %[3]s
    ProxyCommand nc %%h %%p
Host *
    User root
    IdentityFile %[4]s
    UserKnownHostsFile %[6]s
    StrictHostKeyChecking yes
`, bastion.Address, target.Name, target.Address, lab.KeyPath, cfg, kh)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	opts := Options{SSHConfigPath: cfg, HomeDir: t.TempDir(), Getenv: func(string) string { return "" }, Stderr: stderr}
	for _, alias := range []string{"app", "direct"} {
		t.Run(alias, func(t *testing.T) {
			h := &spec.Host{Name: alias + "-server", Address: alias, Conn: spec.Connection{Type: "ssh"}}
			c, err := Open(context.Background(), h, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.Run(context.Background(), transport.Command{Script: "hostname; id -un"})
			if err != nil || !res.OK() {
				t.Fatal(res, err)
			}
			if got, want := string(res.Stdout), target.Name+"\nroot\n"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}

	h := &spec.Host{Name: "refused-server", Address: "refused", Conn: spec.Connection{Type: "ssh", Timeout: 10 * time.Second}}
	_, err = Open(context.Background(), h, opts)
	cmd := fmt.Sprintf("ssh -F %s -W %s:2 bastion", cfg, target.Name)
	want := fmt.Sprintf("refused-server: %s:2: proxy command %q exited with status 255 before the SSH handshake: stdio forwarding failed", target.Name, cmd)
	if err == nil || err.Error() != want {
		t.Errorf("error\n %v\nwant\n %s", err, want)
	}
	// ssh's last line is the error's; every line reaches the run's stderr.
	if got := stderr.String(); !strings.Contains(got, "refused-server: proxy command: channel 0: open failed: connect failed: Connection refused\n"+
		"refused-server: proxy command: stdio forwarding failed\n") {
		t.Errorf("stderr %q", got)
	}
}
