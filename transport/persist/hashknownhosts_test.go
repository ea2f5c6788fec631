package persist

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

var hashedLine = regexp.MustCompile(`^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 [A-Za-z0-9+/=]+\n$`)

// TestAcceptNewHashKnownHosts: with HashKnownHosts the line accept-new writes names the host
// hashed, OpenSSH's ssh-keygen -F finds it, and strict checking accepts it; without, it is plain.
// The same holds when the connection daemon makes the login.
func TestAcceptNewHashKnownHosts(t *testing.T) {
	keygen, _ := exec.LookPath("ssh-keygen")
	for _, tc := range []struct {
		name   string
		hash   bool
		daemon bool
	}{
		{"HashKnownHosts yes", true, false},
		{"HashKnownHosts no", false, false},
		{"HashKnownHosts yes through the daemon", true, true},
		{"HashKnownHosts no through the daemon", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
			kh := sshtest.KnownHosts(t, "empty", srv)
			cfg := keptConfig{Config: sshtest.Config(t, srv, kh)}
			if tc.daemon {
				cfg = persistConfig(t, srv, kh, time.Minute)
			}
			cfg.HostKeys.Mode, cfg.HostKeys.HashNames = knownhosts.AcceptNew, tc.hash
			dial(t, cfg).Close()
			data, _ := os.ReadFile(kh)
			name := fmt.Sprintf("[127.0.0.1]:%d", srv.Port)
			key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshtest.PublicKey(t, "host_ed25519"))))
			if tc.hash {
				if !hashedLine.Match(data) || strings.Contains(string(data), "127.0.0.1") || !strings.Contains(string(data), key) {
					t.Fatalf("known_hosts = %q, want one |1|salt|hash line of the key", data)
				}
			} else if string(data) != name+" "+key+"\n" {
				t.Fatalf("known_hosts = %q, want %q", data, name+" "+key+"\n")
			}
			cfg.HostKeys.Mode = knownhosts.Strict
			dial(t, cfg).Close()
			if keygen == "" {
				t.Log("no ssh-keygen: OpenSSH's own lookup is not checked")
				return
			}
			out, err := exec.Command(keygen, "-F", name, "-f", kh).CombinedOutput()
			if err != nil || !strings.Contains(string(out), key) {
				t.Errorf("ssh-keygen -F %s: %v\n%s", name, err, out)
			}
			if other, _ := exec.Command(keygen, "-F", "[127.0.0.2]:1", "-f", kh).Output(); len(other) != 0 {
				t.Errorf("ssh-keygen -F finds another host: %s", other)
			}
		})
	}
}
