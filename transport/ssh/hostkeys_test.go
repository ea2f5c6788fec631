package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

func TestHostKeyChecking(t *testing.T) {
	tests := []struct {
		name       string
		fixture    string // under testdata/known_hosts
		mode       string
		hostKeys   []string // server host keys, in the server's order
		cert       []string // principals of a host certificate on host_ed25519 (nil: none)
		wantErr    []string // substrings of the error; none: success
		wantErrAs  any
		checkLines int // lines the file must hold afterwards (0: don't check)
	}{
		{name: "strict known", fixture: "plain", hostKeys: []string{"host_ed25519"}},
		{name: "strict unknown", fixture: "empty", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"is not in known_hosts", "ssh-ed25519 SHA256:"}, wantErrAs: new(*knownhosts.UnknownHostError)},
		{name: "other hosts only", fixture: "other_hosts", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"is not in known_hosts"}},
		{name: "bare host means port 22", fixture: "bare_host_port22", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"is not in known_hosts"}},
		{name: "changed", fixture: "changed", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"CHANGED", sshtest.Fingerprint("host_ed25519"), sshtest.Fingerprint("other_ed25519"), "known_hosts:3"}, wantErrAs: new(*knownhosts.KeyChangedError)},
		{name: "changed under accept-new", fixture: "changed", mode: knownhosts.AcceptNew, hostKeys: []string{"host_ed25519"},
			wantErr: []string{"CHANGED", sshtest.Fingerprint("host_ed25519"), sshtest.Fingerprint("other_ed25519"), "known_hosts:3"}, checkLines: 3},
		{name: "accept-new records", fixture: "empty", mode: knownhosts.AcceptNew, hostKeys: []string{"host_ed25519"}, checkLines: 1},
		{name: "hashed", fixture: "hashed", hostKeys: []string{"host_ed25519"}},
		{name: "hashed changed", fixture: "hashed_changed", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"CHANGED", sshtest.Fingerprint("other_ed25519"), "known_hosts:1"}},
		{name: "wildcard", fixture: "wildcard", hostKeys: []string{"host_ed25519"}},
		{name: "negated", fixture: "negated", hostKeys: []string{"host_ed25519"}, wantErr: []string{"is not in known_hosts"}},
		{name: "garbage line skipped", fixture: "garbage_then_good", hostKeys: []string{"host_ed25519"}},
		{name: "revoked", fixture: "revoked", hostKeys: []string{"host_ed25519"},
			wantErr: []string{"REVOKED", "known_hosts:2"}, wantErrAs: new(*knownhosts.KeyRevokedError)},
		{name: "ecdsa offered first, ed25519 known", fixture: "plain", hostKeys: []string{"host_ecdsa", "host_ed25519"}},
		{name: "rsa known among others", fixture: "rsa_only", hostKeys: []string{"host_ecdsa", "host_ed25519", "host_rsa"}},
		{name: "known type gone", fixture: "plain", hostKeys: []string{"host_ecdsa"},
			wantErr: []string{"offers none of the host key types", "ssh-ed25519"}},
		{name: "cert-authority", fixture: "cert_authority", cert: []string{"127.0.0.1"}},
		{name: "cert-authority wrong principal", fixture: "cert_authority", cert: []string{"lab9"},
			wantErr: []string{"host certificate", "principal"}},
		{name: "cert-authority revoked", fixture: "cert_authority_revoked", cert: []string{"127.0.0.1"},
			wantErr: []string{"REVOKED", "CA " + sshtest.Fingerprint("host_ca")}},
		{name: "cert without cert-authority", fixture: "plain", cert: []string{"127.0.0.1"}, hostKeys: []string{"host_ed25519"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts sshtest.Options
			if tt.cert != nil {
				opts.HostKeys = []gossh.Signer{sshtest.HostCert(t, "host_ed25519", tt.cert...)}
			}
			srv := sshtest.StartWithKeys(t, opts, tt.hostKeys...)
			kh := sshtest.KnownHosts(t, tt.fixture, srv)
			cfg := sshtest.Config(t, srv, kh)
			cfg.HostKeys.Mode = tt.mode
			cfg.Retries = -1
			c, err := ssh.Dial(context.Background(), cfg)
			if err == nil {
				defer c.Close()
				if res, err := c.Run(context.Background(), transport.Command{Script: "echo ok"}); err != nil || string(res.Stdout) != "ok\n" {
					t.Fatalf("run: %v %v", res, err)
				}
			}
			sshtest.CheckErr(t, err, tt.wantErr...)
			if tt.wantErrAs != nil && !errors.As(err, tt.wantErrAs) {
				t.Errorf("error %T is not %T", err, tt.wantErrAs)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "lab1: ") {
				t.Errorf("error does not start with the host name: %v", err)
			}
			if tt.checkLines > 0 {
				data, _ := os.ReadFile(kh)
				if n := strings.Count(string(data), "\n"); n != tt.checkLines {
					t.Errorf("known_hosts has %d lines, want %d:\n%s", n, tt.checkLines, data)
				}
			}
		})
	}
}

// TestAcceptNewThenStrict: accept-new writes an OpenSSH line that strict checking then accepts,
// [host]:port for a port other than 22.
func TestAcceptNewThenStrict(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	kh := sshtest.KnownHosts(t, "empty", srv)
	cfg := sshtest.Config(t, srv, kh)
	cfg.HostKeys.Mode = knownhosts.AcceptNew
	sshtest.Dial(t, cfg).Close()
	data, _ := os.ReadFile(kh)
	want := fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port, gossh.MarshalAuthorizedKey(sshtest.PublicKey(t, "host_ed25519")))
	if string(data) != want {
		t.Errorf("known_hosts = %q, want %q", data, want)
	}
	cfg.HostKeys.Mode = knownhosts.Strict
	sshtest.Dial(t, cfg).Close()
	if data2, _ := os.ReadFile(kh); string(data2) != string(data) {
		t.Errorf("a second connect changed known_hosts: %q", data2)
	}
}

// TestAcceptNewParallel: hosts recorded at once do not interleave or repeat lines.
func TestAcceptNewParallel(t *testing.T) {
	kh := t.TempDir() + "/sub/known_hosts"
	var wg sync.WaitGroup
	var servers []*sshtest.Server
	for i := 0; i < 8; i++ {
		servers = append(servers, sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519"))
	}
	for _, srv := range servers {
		for j := 0; j < 2; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := sshtest.Config(t, srv, kh)
				cfg.HostKeys.Mode = knownhosts.AcceptNew
				c, err := ssh.Dial(context.Background(), cfg)
				if err != nil {
					t.Error(err)
					return
				}
				c.Close()
			}()
		}
	}
	wg.Wait()
	data, _ := os.ReadFile(kh)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(servers) {
		t.Errorf("known_hosts has %d lines, want %d:\n%s", len(lines), len(servers), data)
	}
	st, _ := os.Stat(kh)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v", st.Mode())
	}
}
