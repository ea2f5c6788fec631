package connect

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/become"
	"github.com/perfprov/perfprov/transport/persist"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// hop summarises an endpoint for comparison.
type hop struct {
	Addr, User string
	Port       int
	Keys       []string
	KnownHosts []string
	Mode       string
}

func summary(e ssh.Endpoint) hop {
	keys := e.Auth.IdentityFiles
	if len(keys) == 0 {
		keys = e.Auth.DefaultIdentityFiles
	}
	return hop{e.Address, e.User, e.Port, keys, e.HostKeys.Files, e.HostKeys.Mode}
}

func TestResolve(t *testing.T) {
	cfgFile := filepath.Join("testdata", "ssh_config", "resolve")
	bastion := hop{"10.9.9.9", "jumper", 22, []string{"/home/me/.ssh/bastion_key"}, []string{"/home/me/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"}, "strict"}
	tests := []struct {
		name     string
		host     spec.Host
		sshCfg   string
		env      map[string]string
		want     hop
		wantJump []hop
		timeout  time.Duration
		wantErr  string
	}{
		{name: "ssh_config alias", host: spec.Host{Name: "l1", Address: "lab1"},
			want:    hop{"10.1.0.1", "alice", 2201, []string{"/home/me/.ssh/lab_key", "/home/me/.ssh/other_alice"}, []string{"/home/me/.ssh/lab_known_hosts", "/etc/lab_known_hosts"}, "accept-new"},
			timeout: 7 * time.Second},
		{name: "spec wins", host: spec.Host{Name: "l1", Address: "lab1", Port: 2022, Conn: spec.Connection{
			User: "root", IdentityFiles: []string{"~/k"}, KnownHosts: "/kh", HostKeyChecking: "strict", Timeout: time.Second}},
			want: hop{"10.1.0.1", "root", 2022, []string{"/home/me/k"}, []string{"/kh"}, "strict"}, timeout: time.Second},
		{name: "pattern and multi-hop ProxyJump", host: spec.Host{Name: "db", Address: "db.lab"},
			want:     hop{"db.lab", "bob", 22, defaultKeys, defaultKnown, "strict"},
			wantJump: []hop{bastion, {"hop2", "carol", 2222, defaultKeys, defaultKnown, "strict"}}},
		{name: "ProxyJump none", host: spec.Host{Name: "d", Address: "direct.lab"},
			want: hop{"direct.lab", "bob", 22, defaultKeys, defaultKnown, "strict"}},
		{name: "spec jump wins, names a spec host", host: spec.Host{Name: "db", Address: "db.lab", Conn: spec.Connection{Jump: []string{"gw", "[10.0.0.7]:2200"}}},
			want:     hop{"db.lab", "bob", 22, defaultKeys, defaultKnown, "strict"},
			wantJump: []hop{{"192.0.2.1", "gwuser", 2022, defaultKeys, defaultKnown, "strict"}, {"10.0.0.7", "me", 2200, defaultKeys, defaultKnown, "strict"}}},
		{name: "StrictHostKeyChecking no is accept-new", host: spec.Host{Name: "s", Address: "strict-no"},
			want: hop{"strict-no", "me", 22, defaultKeys, defaultKnown, "accept-new"}},
		{name: "no ssh config", host: spec.Host{Name: "l1", Address: "lab1"}, sshCfg: "none",
			want: hop{"lab1", "me", 22, defaultKeys, defaultKnown, "strict"}},
		{name: "password env unset", host: spec.Host{Name: "l1", Address: "lab1", Conn: spec.Connection{PasswordEnv: "LAB_PW"}},
			wantErr: "l1: password_env names LAB_PW, which is not set"},
		{name: "missing ssh config file", host: spec.Host{Name: "l1", Address: "lab1"}, sshCfg: "testdata/nope", wantErr: "l1: ssh config: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.sshCfg
			if path == "" {
				path = cfgFile
			}
			opts := Options{SSHConfigPath: path, HomeDir: "/home/me", LocalUser: "me",
				Getenv: func(k string) string { return tt.env[k] },
				Hosts:  []*spec.Host{{Name: "gw", Address: "192.0.2.1", Port: 2022, Conn: spec.Connection{User: "gwuser"}}}}
			got, err := Resolve(&tt.host, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := summary(got.Endpoint); !reflect.DeepEqual(s, tt.want) {
				t.Errorf("target\n got %+v\nwant %+v", s, tt.want)
			}
			var jumps []hop
			for _, j := range got.Jump {
				jumps = append(jumps, summary(j))
			}
			if !reflect.DeepEqual(jumps, tt.wantJump) {
				t.Errorf("jumps\n got %+v\nwant %+v", jumps, tt.wantJump)
			}
			if got.Timeout != tt.timeout {
				t.Errorf("timeout %s, want %s", got.Timeout, tt.timeout)
			}
		})
	}
}

var (
	defaultKeys  = []string{"/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_ecdsa", "/home/me/.ssh/id_rsa"}
	defaultKnown = []string{"/home/me/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"}
)

func readKey(t *testing.T, name string) (gossh.Signer, gossh.PublicKey) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.PublicKey()
}

func TestOpenProxyJump(t *testing.T) {
	hostEd, hostEdPub := readKey(t, "host_ed25519")
	hostEc, hostEcPub := readKey(t, "host_ecdsa")
	_, client := readKey(t, "client_ed25519")
	target := sshtest.Start(t, sshtest.Options{HostKeys: []gossh.Signer{hostEd}, AuthorizedKeys: []gossh.PublicKey{client}})
	jump := sshtest.Start(t, sshtest.Options{HostKeys: []gossh.Signer{hostEc}, AuthorizedKeys: []gossh.PublicKey{client},
		Names: map[string]string{"lab1.invalid:22": target.Addr}})

	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(
		"[127.0.0.1]:"+strconv.Itoa(jump.Port)+" "+string(gossh.MarshalAuthorizedKey(hostEcPub))+
			"lab1.invalid "+string(gossh.MarshalAuthorizedKey(hostEdPub))), 0o600)
	key, _ := filepath.Abs(filepath.Join("testdata", "keys", "client_ed25519"))
	cfgPath := filepath.Join(dir, "ssh_config")
	tmpl := template.Must(template.ParseFiles(filepath.Join("testdata", "ssh_config", "jump.tmpl")))
	f, _ := os.Create(cfgPath)
	tmpl.Execute(f, map[string]any{"JumpPort": jump.Port, "Key": key, "KnownHosts": kh})
	f.Close()

	opts := Options{SSHConfigPath: cfgPath, HomeDir: dir, Getenv: func(string) string { return "" }}
	h := &spec.Host{Name: "lab1", Address: "lab1", Conn: spec.Connection{Type: "ssh"}}
	c, err := Open(context.Background(), h, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*become.Sudo); !ok {
		t.Errorf("login as alice: got %T, want the sudo decorator", c)
	}
	res, err := c.Run(context.Background(), transport.Command{Script: "echo through the jump"})
	if err != nil || string(res.Stdout) != "through the jump\n" {
		t.Fatal(res, err)
	}
	if jump.Logins() != 1 || target.Logins() != 1 {
		t.Errorf("logins: jump %d, target %d", jump.Logins(), target.Logins())
	}

	// become = "none": the bare connection.
	h.Conn.Become = "none"
	c2, err := Open(context.Background(), h, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, ok := c2.(*ssh.Conn); !ok {
		t.Errorf("become none: got %T", c2)
	}

	// A changed key of the target behind the jump is refused, naming the host.
	os.WriteFile(kh, []byte(
		"[127.0.0.1]:"+strconv.Itoa(jump.Port)+" "+string(gossh.MarshalAuthorizedKey(hostEcPub))+
			"lab1.invalid "+string(gossh.MarshalAuthorizedKey(client))), 0o600)
	h.Conn.Become = ""
	_, err = Open(context.Background(), h, opts)
	if err == nil || !strings.HasPrefix(err.Error(), "lab1: host key for lab1.invalid has CHANGED") {
		t.Errorf("changed target key: %v", err)
	}
}

func TestOpenLocal(t *testing.T) {
	h := &spec.Host{Name: "controller", Conn: spec.Connection{Type: "local", Become: "none"}}
	c, err := Open(context.Background(), h, Options{SSHConfigPath: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Run(context.Background(), transport.Command{Script: "echo local"})
	if err != nil || string(res.Stdout) != "local\n" || c.Host() != "controller" {
		t.Fatal(res, err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		host spec.Host
		want string
	}{
		{"bad type", spec.Host{Name: "h", Address: "127.0.0.1", Conn: spec.Connection{Type: "telnet"}}, `h: connection type "telnet"`},
		{"bad become", spec.Host{Name: "h", Address: "127.0.0.1", Conn: spec.Connection{Become: "su"}}, `h: become "su"`},
		{"become password unset", spec.Host{Name: "h", Address: "127.0.0.1", Conn: spec.Connection{BecomePasswordEnv: "PW"}}, "h: become_password_env names PW, which is not set"},
		{"refused", spec.Host{Name: "h", Address: "127.0.0.1", Port: 1, Conn: spec.Connection{Timeout: time.Second}}, "h: connect to 127.0.0.1:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), &tt.host, Options{SSHConfigPath: "none", HomeDir: t.TempDir(), Getenv: func(string) string { return "" }})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestResolvePersist(t *testing.T) {
	where := persist.Dialer{Dir: "/run/user/1000/perfprov", Daemon: []string{"/usr/bin/perfprov", "__persist"}}
	tests := []struct {
		name    string
		spec    time.Duration // spec.Connection.Persist: 0 default, < 0 off
		env     string        // PERFPROV_PERSIST
		persist persist.Dialer
		wantErr string
	}{
		{"default", 0, "", persist.Dialer{Idle: persist.DefaultIdle, Dir: where.Dir, Daemon: where.Daemon}, ""},
		{"spec value", 5 * time.Minute, "", persist.Dialer{Idle: 5 * time.Minute, Dir: where.Dir, Daemon: where.Daemon}, ""},
		{"spec off", -1, "", persist.Dialer{}, ""},
		{"environment wins", 5 * time.Minute, "10s", persist.Dialer{Idle: 10 * time.Second, Dir: where.Dir, Daemon: where.Daemon}, ""},
		{"environment off", 5 * time.Minute, "0", persist.Dialer{}, ""},
		{"environment wrong", 0, "forever", persist.Dialer{}, `PERFPROV_PERSIST="forever"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &spec.Host{Name: "web1", Address: "192.0.2.1", Conn: spec.Connection{Persist: tt.spec}}
			env := map[string]string{"PERFPROV_PERSIST": tt.env}
			cfg, err := Resolve(h, Options{Getenv: func(k string) string { return env[k] }, SSHConfigPath: "none", HomeDir: t.TempDir(), LocalUser: "me", Persist: where})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "web1: ") {
					t.Fatalf("err = %v, want one naming the host and %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Persist, tt.persist) {
				t.Errorf("persist = %+v, want %+v", cfg.Persist, tt.persist)
			}
		})
	}
}
