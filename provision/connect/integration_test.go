package connect

// Integration tests against the lab of real hosts (internal/testbed).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
