package connect

import (
	"path/filepath"
	"testing"

	"github.com/perfprov/perfprov/spec"
)

// TestResolveHashKnownHosts: ssh_config's HashKnownHosts, per host and per jump hop, decides
// whether accept-new hashes the names it writes.
func TestResolveHashKnownHosts(t *testing.T) {
	cfgFile := filepath.Join("testdata", "ssh_config", "hash")
	for _, tc := range []struct {
		alias    string
		want     bool
		wantJump []bool
	}{
		{"hashed", true, nil},
		{"plain", false, nil},
		{"unset", false, nil},
		{"via-jump", false, []bool{true}},
	} {
		t.Run(tc.alias, func(t *testing.T) {
			got, err := Resolve(&spec.Host{Name: "h", Address: tc.alias}, Options{SSHConfigPath: cfgFile, HomeDir: "/home/me", LocalUser: "me"})
			if err != nil {
				t.Fatal(err)
			}
			if got.HostKeys.HashNames != tc.want {
				t.Errorf("HashNames %v, want %v", got.HostKeys.HashNames, tc.want)
			}
			if len(got.Jump) != len(tc.wantJump) {
				t.Fatalf("jumps %+v, want %d", got.Jump, len(tc.wantJump))
			}
			for i, j := range got.Jump {
				if j.HostKeys.HashNames != tc.wantJump[i] {
					t.Errorf("jump %d: HashNames %v, want %v", i, j.HostKeys.HashNames, tc.wantJump[i])
				}
			}
		})
	}
}
