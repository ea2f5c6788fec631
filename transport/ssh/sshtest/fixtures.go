package sshtest

import (
	"context"
	"crypto/rand"
	"embed"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh"
)

// The fixtures: keys (testdata/keys/README) and known_hosts templates that name a Server.
//
//go:embed testdata/keys testdata/known_hosts
var fixtures embed.FS

func fixture(name string) ([]byte, error) { return fixtures.ReadFile(path.Join("testdata", name)) }

// KeyFile writes the fixture key name (and its .pub, when there is one) into a directory of the
// test's own and returns its path: identity files are read from disk, by the daemon too.
func KeyFile(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{name, name + ".pub"} {
		b, err := fixture(path.Join("keys", f))
		if err != nil {
			if f == name {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name)
}

// Signer is the fixture private key name.
func Signer(t testing.TB, name string) gossh.Signer {
	t.Helper()
	b, err := fixture(path.Join("keys", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PublicKey is the public half of the fixture key name.
func PublicKey(t testing.TB, name string) gossh.PublicKey {
	t.Helper()
	k, err := publicKey(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicKey(name string) (gossh.PublicKey, error) {
	b, err := fixture(path.Join("keys", name+".pub"))
	if err != nil {
		return nil, err
	}
	k, _, _, _, err := gossh.ParseAuthorizedKey(b)
	return k, err
}

// Fingerprint is the SHA256 fingerprint of the fixture key name, for the cases of a table; it
// panics when there is no such key.
func Fingerprint(name string) string {
	k, err := publicKey(name)
	if err != nil {
		panic(err)
	}
	return gossh.FingerprintSHA256(k)
}

// HostCert is host key name signed by host_ca for principals.
func HostCert(t testing.TB, name string, principals ...string) gossh.Signer {
	t.Helper()
	s := Signer(t, name)
	cert := &gossh.Certificate{
		Key:             s.PublicKey(),
		CertType:        gossh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, Signer(t, "host_ca")); err != nil {
		t.Fatal(err)
	}
	cs, err := gossh.NewCertSigner(cert, s)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// StartWithKeys starts a server with the named fixture host keys that lets client_ed25519 in.
func StartWithKeys(t testing.TB, opts Options, hostKeys ...string) *Server {
	t.Helper()
	for _, k := range hostKeys {
		opts.HostKeys = append(opts.HostKeys, Signer(t, k))
	}
	if opts.AuthorizedKeys == nil {
		opts.AuthorizedKeys = []gossh.PublicKey{PublicKey(t, "client_ed25519")}
	}
	return Start(t, opts)
}

// KnownHosts writes the known_hosts fixture name (testdata/known_hosts) for srv into a
// temporary file and returns its path.
func KnownHosts(t testing.TB, name string, srv *Server) string {
	t.Helper()
	text, err := fixture(path.Join("known_hosts", name))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(name).Funcs(template.FuncMap{
		"key": func(name string) string {
			return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(PublicKey(t, name))))
		},
		"hash": xknownhosts.HashHostname,
	}).Parse(string(text))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	data := map[string]any{"Name": knownhosts.Name(srv.Host, srv.Port), "Host": srv.Host, "Port": srv.Port}
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// Config is a connection to srv, named lab1, as alice with client_ed25519, checked against the
// known_hosts file knownHosts.
func Config(t testing.TB, srv *Server, knownHosts string) ssh.Config {
	t.Helper()
	return ssh.Config{
		Name: "lab1",
		Endpoint: ssh.Endpoint{
			Address:  srv.Host,
			Port:     srv.Port,
			User:     "alice",
			Auth:     ssh.Auth{IdentityFiles: []string{KeyFile(t, "client_ed25519")}},
			HostKeys: knownhosts.Policy{Files: []string{knownHosts}},
		},
		Timeout: 5 * time.Second,
	}
}

// Dial connects and closes the connection at the end of the test.
func Dial(t testing.TB, cfg ssh.Config) *ssh.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ssh.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Connected starts a server with an ed25519 host key and returns a connection to it.
func Connected(t testing.TB, opts Options) (*ssh.Conn, *Server) {
	t.Helper()
	srv := StartWithKeys(t, opts, "host_ed25519")
	return Dial(t, Config(t, srv, KnownHosts(t, "plain", srv))), srv
}

// Agent serves an ssh-agent holding the named fixture keys on a socket in a temporary
// directory, and returns the socket's path.
func Agent(t testing.TB, keys ...string) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		b, err := fixture(path.Join("keys", k))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := gossh.ParseRawPrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(ring, c) }()
		}
	}()
	return sock
}

// CheckErr fails t unless err is one line holding every one of want (no want: unless err is nil).
func CheckErr(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one with %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\n  does not contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}
