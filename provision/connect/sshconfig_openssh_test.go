package connect

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport/ssh"
)

// openSSHDefaultKeys is what ssh -G lists when no IdentityFile applies (perfprov's default
// keys are then its own: DefaultIdentityFiles).
var openSSHDefaultKeys = []string{"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
	"~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa"}

// resolved is what is compared: the settings of one SSH server.
type resolved struct {
	HostName, User string
	Port           int
	IdentityFiles  []string // nil: none from ssh_config (the defaults)
}

// TestSSHConfigAsOpenSSH resolves each case with perfprov and with OpenSSH's own `ssh -G`, on the
// same files, and wants the same HostName, User, Port, IdentityFile, ProxyJump (each hop resolved
// by ssh -G too) and ProxyCommand (the target's, or the first hop's, which reaches that hop). A
// case's spec user, port, jump and proxy_command are given to ssh as -l, -p, -J and -o.
func TestSSHConfigAsOpenSSH(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("ssh (OpenSSH's client) is the reference of this test: install openssh-client (scripts/test-deps.sh): %v", err)
	}
	home := t.TempDir()
	copyTree(t, filepath.Join("testdata", "ssh_config", "openssh", "home"), home)
	final, _ := filepath.Abs(filepath.Join("testdata", "ssh_config", "openssh", "final"))
	main := filepath.Join(home, ".ssh", "config")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file  string
		alias string
		user  string
		port  int
		jump  []string
		proxy string
	}{
		{main, "web-1", "", 0, nil, ""},     // Include ~/.ssh/extra/first, Host web-*, Match all
		{main, "web-2", "", 0, nil, ""},     // first User wins
		{main, "app1", "", 0, nil, ""},      // Include conf.d/*.conf (not .hidden.conf, not README)
		{main, "app2", "", 0, nil, ""},      // HostName %h.apps.internal
		{main, "app2", "admin", 0, nil, ""}, // Match host (the HostName so far) and user (the spec's)
		{main, "db1", "", 0, nil, ""},       // Match originalhost: ProxyJump
		{main, "bastion", "", 0, nil, ""},   // Include inside Host bastion
		{main, "from-bastion-d", "", 0, nil, ""},
		{main, "legacy", "", 0, nil, ""},    // ProxyCommand first: its ProxyJump is ignored
		{main, "modern", "", 0, nil, ""},    // ProxyJump first
		{main, "direct", "", 0, nil, ""},    // ProxyCommand none, then ProxyJump: neither
		{main, "a.example", "", 0, nil, ""}, // Host !skip.example *.example
		{main, "skip.example", "", 0, nil, ""},
		{main, "Upper", "", 0, nil, ""}, // Host is case-sensitive; the host name is lower-cased
		{main, "upper", "", 0, nil, ""},
		{main, "other", "", 0, nil, ""}, // Host="quoted name" other; User "quoted user"
		{main, "web-1", "alice", 3000, nil, ""},
		{main, "db1", "", 0, []string{"jump@hop:2200"}, ""},
		{main, "modern", "", 0, nil, "nc %h %p"}, // the spec's proxy_command wins over ProxyJump
		{main, "legacy", "", 0, nil, "none"},
		{final, "short", "", 0, nil, ""},             // Match final: a second pass on the host name
		{final, "final.example.org", "", 0, nil, ""}, // Match canonical holds in that pass
		{final, "other", "", 0, nil, ""},
	}
	for _, tt := range tests {
		name := filepath.Base(tt.file) + "/" + tt.alias
		if tt.user != "" || tt.port != 0 || tt.jump != nil || tt.proxy != "" {
			name += "/spec"
		}
		t.Run(name, func(t *testing.T) {
			var flags []string
			if tt.user != "" {
				flags = append(flags, "-l", tt.user)
			}
			if tt.port != 0 {
				flags = append(flags, "-p", strconv.Itoa(tt.port))
			}
			if tt.jump != nil {
				flags = append(flags, "-J", strings.Join(tt.jump, ","))
			}
			if tt.proxy != "" {
				flags = append(flags, "-o", "ProxyCommand="+tt.proxy)
			}
			want := sshG(t, sshBin, home, tt.file, tt.alias, flags...)

			h := &spec.Host{Name: "h", Address: tt.alias, Port: tt.port, Conn: spec.Connection{User: tt.user, Jump: tt.jump, ProxyCommand: tt.proxy}}
			got, err := Resolve(h, Options{SSHConfigPath: tt.file, HomeDir: home, LocalUser: me.Username, Getenv: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := summarize(got.Endpoint), want.resolved(home); !reflect.DeepEqual(g, w) {
				t.Errorf("perfprov %+v\n  ssh -G %+v", g, w)
			}
			var wantJumps []resolved
			wantProxy := want.proxyCommand(tt.alias)
			for _, hop := range want.all("proxyjump") {
				for i, j := range strings.Split(hop, ",") {
					hopG := sshGHop(t, sshBin, home, tt.file, j)
					wantJumps = append(wantJumps, hopG.resolved(home))
					if i == 0 {
						wantProxy = hopG.proxyCommand(j[strings.LastIndex(j, "@")+1:]) // %n: the hop as written
					}
				}
			}
			if got.ProxyCommand != wantProxy {
				t.Errorf("proxy command: perfprov %q\n               ssh -G %q", got.ProxyCommand, wantProxy)
			}
			var gotJumps []resolved
			for _, j := range got.Jump {
				gotJumps = append(gotJumps, summarize(j))
			}
			if !reflect.DeepEqual(gotJumps, wantJumps) {
				t.Errorf("jump hops: perfprov %+v\n          ssh -G %+v", gotJumps, wantJumps)
			}
		})
	}
}

func summarize(e ssh.Endpoint) resolved {
	return resolved{HostName: e.Address, User: e.User, Port: e.Port, IdentityFiles: e.Auth.IdentityFiles}
}

// sshGOutput is ssh -G's answer: each keyword's values in order.
type sshGOutput map[string][]string

func (o sshGOutput) all(k string) []string { return o[k] }

// resolved reads ssh -G's values, with its IdentityFile paths expanded as ssh expands them when
// it loads them (it prints them as written): ~ and %d are the home, %r the user, %h the host.
func (o sshGOutput) resolved(home string) resolved {
	port, _ := strconv.Atoi(o["port"][0])
	r := resolved{HostName: o["hostname"][0], User: o["user"][0], Port: port}
	if keys := o["identityfile"]; !reflect.DeepEqual(keys, openSSHDefaultKeys) {
		repl := strings.NewReplacer("%%", "%", "%d", home, "%h", r.HostName, "%r", r.User, "%p", o["port"][0])
		for _, k := range keys {
			if strings.HasPrefix(k, "~/") {
				k = home + k[1:]
			}
			r.IdentityFiles = append(r.IdentityFiles, repl.Replace(k))
		}
	}
	return r
}

// proxyCommand is ssh -G's ProxyCommand with its tokens expanded as ssh expands them when it runs
// it (it prints it as written): %h the host name, %p the port, %r the user, %n the alias.
func (o sshGOutput) proxyCommand(alias string) string {
	if len(o["proxycommand"]) == 0 {
		return ""
	}
	alias, _, _ = strings.Cut(alias, ":")
	return strings.NewReplacer("%%", "%", "%h", o["hostname"][0], "%p", o["port"][0], "%r", o["user"][0], "%n", alias).Replace(o["proxycommand"][0])
}

func sshG(t *testing.T, sshBin, home, file, alias string, flags ...string) sshGOutput {
	t.Helper()
	args := append([]string{"-G", "-F", file}, flags...)
	cmd := exec.Command(sshBin, append(args, alias)...)
	// HOME decides ~ in Include (glob's GLOB_TILDE) as it decides perfprov's HomeDir; the C
	// locale keeps glob's order bytewise.
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh %s: %v: %s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	res := sshGOutput{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		res[k] = append(res[k], v)
	}
	return res
}

// sshGHop resolves one ProxyJump hop, [user@]host[:port], as ssh does: ssh -G on its host, with
// its user and port given.
func sshGHop(t *testing.T, sshBin, home, file, hop string) sshGOutput {
	var flags []string
	if u, h, ok := strings.Cut(hop, "@"); ok {
		flags, hop = append(flags, "-l", u), h
	}
	if h, p, ok := strings.Cut(hop, ":"); ok {
		flags, hop = append(flags, "-p", p), h
	}
	return sshG(t, sshBin, home, file, hop, flags...)
}

// copyTree copies a fixture directory, files 0600 (as ssh wants included files to be).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
