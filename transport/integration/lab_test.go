// Package integration_test runs the transport against the lab of real hosts (internal/testbed): a
// real OpenSSH sshd, real sudo. Skipped under -short outside CI; under CI=true they fail if the lab
// cannot start.
package integration_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/become"
	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

func TestMain(m *testing.M) { testbed.Main(m) }

// labConfig connects to lab host i as user with the lab's key and known_hosts.
func labConfig(lab *testbed.Lab, i int, user string) ssh.Config {
	h := lab.Hosts[i]
	return ssh.Config{
		Name: h.Name,
		Endpoint: ssh.Endpoint{
			Address:  h.Address,
			Port:     h.Port,
			User:     user,
			Auth:     ssh.Auth{IdentityFiles: []string{lab.KeyPath}},
			HostKeys: knownhosts.Policy{Files: []string{lab.KnownHostsPath}},
		},
		Timeout: 10 * time.Second,
	}
}

func labRun(t *testing.T, c transport.Conn, cmd transport.Command) string {
	t.Helper()
	res, err := c.Run(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("%q: exit %d: %s", cmd.Script, res.ExitStatus, res.Stderr)
	}
	return string(res.Stdout)
}

func TestLabHostKeys(t *testing.T) {
	lab := testbed.Require(t, 2)
	ctx := context.Background()
	h := lab.Hosts[1]

	t.Run("strict against the lab's known_hosts", func(t *testing.T) {
		// The lab records only ed25519 keys while sshd also has ecdsa: the algorithm choice matters.
		c := sshtest.Dial(t, labConfig(lab, 1, "root"))
		if got := labRun(t, c, transport.Command{Script: "id -un"}); got != "root\n" {
			t.Errorf("id -un = %q", got)
		}
	})
	t.Run("strict, unknown host", func(t *testing.T) {
		cfg := labConfig(lab, 1, "root")
		cfg.HostKeys.Files = []string{filepath.Join(t.TempDir(), "known_hosts")}
		_, err := ssh.Dial(ctx, cfg)
		var unknown *knownhosts.UnknownHostError
		if !errors.As(err, &unknown) {
			t.Fatalf("error %v, want an unknown host", err)
		}
	})
	t.Run("accept-new records, then strict accepts", func(t *testing.T) {
		cfg := labConfig(lab, 1, "root")
		kh := filepath.Join(t.TempDir(), "known_hosts")
		cfg.HostKeys = knownhosts.Policy{Files: []string{kh}, Mode: knownhosts.AcceptNew}
		sshtest.Dial(t, cfg).Close()
		data, _ := os.ReadFile(kh)
		want := h.Address + " " + string(gossh.MarshalAuthorizedKey(h.HostKey()))
		if string(data) != want {
			t.Errorf("recorded %q, want %q", data, want)
		}
		cfg.HostKeys.Mode = knownhosts.Strict
		sshtest.Dial(t, cfg).Close()
	})
	t.Run("changed key refused", func(t *testing.T) {
		if err := lab.ChangeHostKey(ctx, h.Name); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := lab.RestoreHostKey(context.Background(), h.Name); err != nil {
				t.Error(err)
			}
		}()
		for _, mode := range []string{knownhosts.Strict, knownhosts.AcceptNew} {
			cfg := labConfig(lab, 1, "root")
			cfg.HostKeys.Mode = mode
			_, err := ssh.Dial(ctx, cfg)
			var changed *knownhosts.KeyChangedError
			if !errors.As(err, &changed) {
				t.Fatalf("%s: error %v, want a changed key", mode, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, gossh.FingerprintSHA256(h.HostKey())) || strings.Count(msg, "SHA256:") < 2 ||
				!strings.Contains(msg, lab.KnownHostsPath+":") || strings.Contains(msg, "\n") {
				t.Errorf("%s: message lacks both fingerprints or file:line: %s", mode, msg)
			}
		}
	})
}

func TestLabSudo(t *testing.T) {
	lab := testbed.Require(t, 1)
	ctx := context.Background()
	alice := sshtest.Dial(t, labConfig(lab, 0, testbed.NopasswdUser))
	bob := sshtest.Dial(t, labConfig(lab, 0, testbed.PasswdUser))

	t.Run("alice, no password", func(t *testing.T) {
		s := become.NewSudo(alice, testbed.NopasswdUser, "", "")
		if got := labRun(t, s, transport.Command{Script: "id -u", Privileged: true}); got != "0\n" {
			t.Errorf("id -u = %q", got)
		}
		if got := labRun(t, s, transport.Command{Script: "id -un", RunAs: testbed.PasswdUser}); got != testbed.PasswdUser+"\n" {
			t.Errorf("run as: %q", got)
		}
		if got := labRun(t, s, transport.Command{Script: "id -un"}); got != testbed.NopasswdUser+"\n" {
			t.Errorf("unprivileged: %q", got)
		}
	})
	t.Run("bob, password on stdin", func(t *testing.T) {
		s := become.NewSudo(bob, testbed.PasswdUser, testbed.BobPassword, "$BOB_PW")
		got := labRun(t, s, transport.Command{Script: "id -u; cat", Privileged: true, Stdin: strings.NewReader("input after the password\n")})
		if got != "0\ninput after the password\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("bob without password", func(t *testing.T) {
		s := become.NewSudo(bob, testbed.PasswdUser, "", "")
		_, err := s.Run(ctx, transport.Command{Script: "true", Privileged: true})
		if err == nil || !strings.Contains(err.Error(), "needs a password") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("bob, wrong password", func(t *testing.T) {
		s := become.NewSudo(bob, testbed.PasswdUser, "not-the-password", "$BOB_PW")
		_, err := s.Run(ctx, transport.Command{Script: "true", Privileged: true})
		if err == nil || !strings.Contains(err.Error(), "refused the password from $BOB_PW") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("root-owned upload as bob", func(t *testing.T) {
		s := become.NewSudo(bob, testbed.PasswdUser, testbed.BobPassword, "$BOB_PW")
		path := "/etc/perfprov-transport-test.conf"
		if err := s.Upload(ctx, path, strings.NewReader("x = 1\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		defer s.Run(ctx, transport.Command{Script: "rm -f " + path, Privileged: true})
		if got := labRun(t, s, transport.Command{Script: "stat -c '%U:%G %a' " + path, Privileged: true}); got != "root:root 640\n" {
			t.Errorf("stat: %q", got)
		}
		var b bytes.Buffer
		if err := s.Download(ctx, path, &b); err != nil || b.String() != "x = 1\n" {
			t.Errorf("download %q %v", b.String(), err)
		}
	})
}

func TestLabFrozenHost(t *testing.T) {
	lab := testbed.Require(t, 3)
	ctx := context.Background()
	frozen := lab.Hosts[2]

	// A connection made before the freeze: its command must fail through the keepalives.
	cfg := labConfig(lab, 2, "root")
	cfg.Keepalive = 500 * time.Millisecond
	cfg.KeepaliveMax = 3
	before := sshtest.Dial(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, err := before.Run(ctx, transport.Command{Script: "sleep 60"})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)

	if err := lab.Freeze(ctx, frozen.Name); err != nil {
		t.Fatal(err)
	}
	defer lab.Thaw(context.Background(), frozen.Name)

	const timeout = 2 * time.Second
	start := time.Now()
	cfg = labConfig(lab, 2, "root")
	cfg.Timeout = timeout
	_, err := ssh.Dial(ctx, cfg)
	took := time.Since(start)
	if err == nil || !strings.HasPrefix(err.Error(), frozen.Name+": ") {
		t.Fatalf("frozen host: %v", err)
	}
	if took > timeout+time.Second {
		t.Errorf("frozen host took %s to fail, timeout %s", took, timeout)
	}
	// The others still answer.
	for i := 0; i < 2; i++ {
		c := sshtest.Dial(t, labConfig(lab, i, "root"))
		labRun(t, c, transport.Command{Script: "true"})
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "stopped answering") {
			t.Errorf("command on the frozen host: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a command on the frozen host was not ended by the keepalives")
	}
}

// TestLabCancel: a cancelled command does not outlive its cancel on a real sshd, whether the
// login is root (sshd refuses signal requests) or a user running it through sudo.
func TestLabCancel(t *testing.T) {
	lab := testbed.Require(t, 1)
	host := lab.Hosts[0].Name
	root := sshtest.Dial(t, labConfig(lab, 0, "root"))
	alice := become.NewSudo(sshtest.Dial(t, labConfig(lab, 0, testbed.NopasswdUser)), testbed.NopasswdUser, "", "")
	tests := []struct {
		name string
		conn transport.Conn
		cmd  transport.Command
	}{
		{"root", root, transport.Command{Script: "sleep 31; echo late"}},
		{"alice", alice, transport.Command{Script: "sleep 32; echo late"}},
		{"alice via sudo", alice, transport.Command{Script: "sleep 33; echo late", Privileged: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(700*time.Millisecond, cancel)
			start := time.Now()
			_, err := tt.conn.Run(ctx, tt.cmd)
			if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
				t.Fatalf("error %v after %s", err, time.Since(start))
			}
			pattern := "^" + strings.Fields(tt.cmd.Script)[0] + " " + strings.TrimSuffix(strings.Fields(tt.cmd.Script)[1], ";")
			deadline := time.Now().Add(3 * time.Second)
			for {
				out, _ := lab.Exec(context.Background(), host, "ps -eo args | grep -c '"+pattern+"' || true")
				if strings.TrimSpace(string(out)) == "0" {
					return
				}
				if time.Now().After(deadline) {
					ps, _ := lab.Exec(context.Background(), host, "ps -eo pid,pgid,user,args")
					t.Fatalf("the cancelled command still runs on the host:\n%s", ps)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
