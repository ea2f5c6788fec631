package knownhosts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// authorized is the public key testdata/keys/NAME.pub as an authorized_keys line.
func authorized(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestHostKeyAlgorithms(t *testing.T) {
	kh := &knownHosts{}
	text := strings.Join([]string{
		"lab1 " + authorized(t, "host_ed25519"),
		"lab1,lab2 " + authorized(t, "host_rsa"),
		"[lab1]:2222 " + authorized(t, "host_ecdsa"),
		"@cert-authority *.ca " + authorized(t, "host_ca"),
		"@revoked lab1 " + authorized(t, "other_ed25519"),
	}, "\n")
	kh.parse([]byte(text), "kh")
	tests := []struct {
		host string
		port int
		want string
	}{
		{"lab1", 22, "ssh-ed25519 rsa-sha2-512 rsa-sha2-256 ssh-rsa"},
		{"lab2", 0, "rsa-sha2-512 rsa-sha2-256 ssh-rsa"},
		{"lab1", 2222, "ecdsa-sha2-nistp256"},
		{"x.ca", 22, strings.Join(append(certAlgorithms(), defaultAlgorithms()...), " ")},
		{"lab3", 22, ""},
	}
	for _, tt := range tests {
		got := strings.Join(kh.algorithms(tt.host, tt.port), " ")
		if got != tt.want {
			t.Errorf("%s:%d: %q, want %q", tt.host, tt.port, got, tt.want)
		}
	}
}

func TestMatchHost(t *testing.T) {
	tests := []struct {
		patterns string
		name     string
		want     bool
	}{
		{"lab1", "lab1", true},
		{"LAB1", "lab1", true},
		{"lab1", "lab10", false},
		{"lab?", "lab1", true},
		{"*.example", "a.example", true},
		{"*,!bad", "bad", false},
		{"[lab1]:2222", "[lab1]:2222", true},
		{"[lab1]:2222", "lab1", false},
		{"[lab*]:2222", "[lab7]:2222", true},
		{"[lab1]:*", "[lab1]:22", true},
	}
	for _, tt := range tests {
		if got := matchHost(strings.Split(tt.patterns, ","), tt.name); got != tt.want {
			t.Errorf("matchHost(%q, %q) = %v", tt.patterns, tt.name, got)
		}
	}
}

func TestHashHostName(t *testing.T) {
	for _, name := range []string{"web1.example.com", "[10.0.0.1]:2222", "Mixed.Case"} {
		a, err := hashHostName(name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := hashHostName(name)
		if a == b {
			t.Errorf("%s: two hashes share a salt: %s", name, a)
		}
		if !matchHost([]string{a}, name) || !matchHost([]string{a}, strings.ToLower(name)) || matchHost([]string{a}, name+"x") {
			t.Errorf("%s: %s does not match as OpenSSH would", name, a)
		}
	}
}

// TestCheckPresented: the keys a host has now pass when, for every type known_hosts records for
// it, one of them is the recorded one; a type not recorded, or a host not recorded, passes (a
// login would not be shown it, or would fail as unknown, not as changed).
func TestCheckPresented(t *testing.T) {
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte("lab1 "+authorized(t, "host_ed25519")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Policy{Files: []string{file}, Mode: AcceptNew} // checked strictly whatever the mode
	known, other, ecdsa := authorized(t, "host_ed25519"), authorized(t, "other_ed25519"), authorized(t, "host_ecdsa")
	for _, tc := range []struct {
		host    string
		keys    []string
		changed bool
	}{
		{"lab1", []string{known}, false},
		{"lab1", []string{other, known}, false},
		{"lab1", []string{ecdsa}, false},
		{"lab1", nil, false},
		{"lab1", []string{other}, true},
		{"lab1", []string{other, ecdsa}, true},
		{"lab2", []string{other}, false},
	} {
		err := p.CheckPresented(tc.host, 22, tc.keys)
		var changed *KeyChangedError
		if got := errors.As(err, &changed); got != tc.changed || (!tc.changed && err != nil) {
			t.Errorf("%s %d keys: %v, want changed %v", tc.host, len(tc.keys), err, tc.changed)
		}
	}
	if b, _ := os.ReadFile(file); strings.Count(string(b), "\n") != 1 {
		t.Errorf("known_hosts was written to:\n%s", b)
	}
}
