package transport

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/sshtest"
)

func keyPath(name string) string { return filepath.Join("testdata", "keys", name) }

func signer(t testing.TB, name string) ssh.Signer {
	t.Helper()
	b, err := os.ReadFile(keyPath(name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pubKey(t testing.TB, name string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(keyPath(name + ".pub"))
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// hostCert is host key name signed by host_ca for principals.
func hostCert(t testing.TB, name string, principals ...string) ssh.Signer {
	t.Helper()
	s := signer(t, name)
	cert := &ssh.Certificate{
		Key:             s.PublicKey(),
		CertType:        ssh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, signer(t, "host_ca")); err != nil {
		t.Fatal(err)
	}
	cs, err := ssh.NewCertSigner(cert, s)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// startServer starts an in-process server with the named host keys that lets client_ed25519 in.
func startServer(t testing.TB, opts sshtest.Options, hostKeys ...string) *sshtest.Server {
	t.Helper()
	for _, k := range hostKeys {
		opts.HostKeys = append(opts.HostKeys, signer(t, k))
	}
	if opts.AuthorizedKeys == nil {
		opts.AuthorizedKeys = []ssh.PublicKey{pubKey(t, "client_ed25519")}
	}
	return sshtest.Start(t, opts)
}

// knownHostsFor writes the known_hosts fixture name for srv into a temporary file.
func knownHostsFor(t testing.TB, fixture string, srv *sshtest.Server) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "known_hosts", fixture))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(fixture).Funcs(template.FuncMap{
		"key": func(name string) string {
			return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pubKey(t, name))))
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

// configFor is a connection to srv as alice with client_ed25519, checked against knownHosts.
func configFor(srv *sshtest.Server, knownHosts string) SSHConfig {
	return SSHConfig{
		Name: "lab1",
		Endpoint: Endpoint{
			Address:  srv.Host,
			Port:     srv.Port,
			User:     "alice",
			Auth:     Auth{IdentityFiles: []string{keyPath("client_ed25519")}},
			HostKeys: knownhosts.Policy{Files: []string{knownHosts}},
		},
		Timeout: 5 * time.Second,
	}
}

// dial connects and closes the connection at the end of the test.
func dial(t testing.TB, cfg SSHConfig) *SSHConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := DialSSH(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connected starts a server with an ed25519 host key and returns a connection to it.
func connected(t testing.TB, opts sshtest.Options) (*SSHConn, *sshtest.Server) {
	t.Helper()
	srv := startServer(t, opts, "host_ed25519")
	return dial(t, configFor(srv, knownHostsFor(t, "plain", srv))), srv
}

// startAgent serves an ssh-agent holding the named keys on a socket in a temporary directory.
func startAgent(t testing.TB, keys ...string) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		b, err := os.ReadFile(keyPath(k))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ssh.ParseRawPrivateKey(b)
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
