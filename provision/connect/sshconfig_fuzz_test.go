package connect

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport/ssh"
)

// FuzzSSHConfig resolves hosts against an arbitrary ssh_config. Nothing may panic, and a resolved
// endpoint always has an address, a user and a port in 1-65535, with a strict or accept-new host
// key mode. Seeds: testdata/fuzz/FuzzSSHConfig.
func FuzzSSHConfig(f *testing.F) {
	f.Add([]byte("Host lab1\n    HostName 10.1.0.1\n    Port 2201\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config")
		if err := os.WriteFile(cfg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := Options{SSHConfigPath: cfg, HomeDir: dir, LocalUser: "me", Getenv: func(string) string { return "" },
			Hosts: []*spec.Host{{Name: "gw", Address: "192.0.2.1", Port: 2022}}}
		for _, h := range []spec.Host{{Name: "lab1", Address: "lab1"}, {Name: "db", Address: "db.lab"}, {Name: "gw", Address: "192.0.2.1"}} {
			got, err := Resolve(&h, opts)
			if err != nil {
				continue
			}
			for _, ep := range append([]ssh.Endpoint{got.Endpoint}, got.Jump...) {
				if ep.Address == "" || ep.User == "" || ep.Port < 1 || ep.Port > 65535 {
					t.Fatalf("%s: endpoint %+v: want an address, a user and a port", h.Name, ep)
				}
				if m := ep.HostKeys.Mode; m != "strict" && m != "accept-new" {
					t.Fatalf("%s: host key mode %q", h.Name, m)
				}
			}
		}
	})
}
