package knownhosts

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// FuzzKnownHosts feeds arbitrary known_hosts content to the parser and the matcher. Nothing may
// panic, every entry kept has a key and host patterns, and an entry written back as a line (what
// appendKnownHost writes) parses to the same marker, patterns and key. Seeds: testdata/fuzz/FuzzKnownHosts.
func FuzzKnownHosts(f *testing.F) {
	f.Add([]byte("example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA/52lVwL4/lo3XaSJ0lZUU9oaSFo4spbx+978bhwcX6\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kh := &knownHosts{}
		kh.parse(data, "known_hosts")
		for _, host := range []string{"example.com", "10.0.0.1", "[10.0.0.1]:2222", ""} {
			for _, port := range []int{0, 22, 2222} {
				kh.forHost(host, port)
				kh.algorithms(host, port)
			}
		}
		for _, e := range kh.entries {
			if e.key == nil || len(e.patterns) == 0 || e.line < 1 {
				t.Fatalf("entry %+v: want a key, patterns and a line number", e)
			}
			kh.revoked(e.key)
			matchHost(e.patterns, "example.com")
			line := strings.Join(e.patterns, ",") + " " + string(ssh.MarshalAuthorizedKey(e.key))
			if e.marker != "" {
				line = "@" + e.marker + " " + line
			}
			again := &knownHosts{}
			again.parse([]byte(line), "again")
			if len(again.entries) != 1 {
				t.Fatalf("line %q written back from an entry parses to %d entries", line, len(again.entries))
			}
			a := again.entries[0]
			if a.marker != e.marker || strings.Join(a.patterns, ",") != strings.Join(e.patterns, ",") || !bytes.Equal(a.key.Marshal(), e.key.Marshal()) {
				t.Fatalf("round trip of %q: got marker %q patterns %q", line, a.marker, a.patterns)
			}
		}
	})
}
