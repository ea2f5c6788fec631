package connect

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/spec"
)

// TestSSHConfigErrors: what ssh would refuse, and what perfprov cannot evaluate, is an error
// naming the host, the file and the line.
func TestSSHConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config string
		alias  string
		want   string // after "h: ssh config DIR/config"
	}{
		{"match exec that decides", "Host x\nMatch host lab1 exec \"true\"\n  User x\n", "lab1",
			`:2: Match exec is not supported by perfprov (it would decide whether this block applies to lab1)`},
		{"match localnetwork", "Match localnetwork 10.0.0.0/8\n  User x\n", "lab1", `:1: Match localnetwork is not supported`},
		{"unknown match attribute", "Match colour blue\n", "lab1", `:1: unsupported Match attribute colour`},
		{"match without criteria", "Match host\n", "lab1", `:1: missing Match criteria for host`},
		{"match all combined", "Match all host x\n", "lab1", `:1: "all" cannot be combined with other Match attributes`},
		{"unterminated quote", "Host lab1\n  User \"alice\n", "lab1", `:2: invalid quotes`},
		{"missing argument", "Host lab1\n  User # nobody\n", "lab1", `:2: missing argument after user`},
		{"bad port, even where it does not apply", "Host other\n  Port 0\n", "lab1", `:2: Bad port "0"`},
		{"include loop", "Include ~/config\n", "lab1", `: Include nested more than 16 deep`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config")
			if err := os.WriteFile(cfg, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Resolve(&spec.Host{Name: "h", Address: tt.alias}, Options{SSHConfigPath: cfg, HomeDir: dir, LocalUser: "me"})
			if err == nil || !strings.HasPrefix(err.Error(), "h: ssh config "+cfg) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant h: ssh config %s...%s", err, cfg, tt.want)
			}
		})
	}
}

// TestSSHConfigExecSkipped: a Match exec after a criterion that failed is never evaluated, by
// ssh or perfprov, so such a file still resolves every other host.
func TestSSHConfigExecSkipped(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("Match host lab1 exec \"true\"\n  User x\nHost *\n  User y\n"), 0o600)
	got, err := Resolve(&spec.Host{Name: "db", Address: "db"}, Options{SSHConfigPath: cfg, HomeDir: dir, LocalUser: "me"})
	if err != nil || got.User != "y" {
		t.Fatalf("user %q, err %v", got.User, err)
	}
}

// TestSSHConfigIncludePermissions: an included file that others may write is refused, as ssh
// refuses it (it may name a ProxyCommand); the file given with -F itself is not checked.
func TestSSHConfigIncludePermissions(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".ssh"), 0o700)
	inc := filepath.Join(dir, ".ssh", "inc")
	os.WriteFile(inc, []byte("User inc\n"), 0o600)
	if err := os.Chmod(inc, 0o602); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("Include inc\n"), 0o644)
	_, err := Resolve(&spec.Host{Name: "h", Address: "lab1"}, Options{SSHConfigPath: cfg, HomeDir: dir, LocalUser: "me"})
	if err == nil || !strings.Contains(err.Error(), "ssh config "+inc+": bad owner or permissions: it is writable by everyone (mode 0602)") {
		t.Fatalf("error %v", err)
	}
	os.Chmod(inc, 0o600)
	got, err := Resolve(&spec.Host{Name: "h", Address: "lab1"}, Options{SSHConfigPath: cfg, HomeDir: dir, LocalUser: "me"})
	if err != nil || got.User != "inc" {
		t.Fatalf("user %q, err %v", got.User, err)
	}
}

// TestSSHConfigSystemInclude: a system file's relative Include is under /etc/ssh, and it may
// not use ~.
func TestSSHConfigSystemInclude(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "ssh_config")
	os.WriteFile(sys, []byte("Include ~/.ssh/mine\n"), 0o644)
	c := &sshConfig{files: []configFile{{path: sys}}, home: dir, localUser: "me"}
	if _, err := c.lookup("x", nil); err == nil || !strings.Contains(err.Error(), sys+":1: bad include path ~/.ssh/mine") {
		t.Fatalf("error %v", err)
	}
}

func TestStrdelimArgvSplit(t *testing.T) {
	tests := []struct {
		line    string
		keyword string
		args    []string
	}{
		{"Host lab1 lab2", "host", []string{"lab1", "lab2"}},
		{"  HostName=10.0.0.1", "hostname", []string{"10.0.0.1"}},
		{"User = \"a b\"  # comment", "user", []string{"a b"}},
		{"\tIdentityFile '~/my key'", "identityfile", []string{"~/my key"}},
		{`ProxyCommand sh -c "nc %h %p" # x`, "proxycommand", []string{"sh", "-c", "nc %h %p"}},
		{`User a\ b`, "user", []string{"a b"}},
		{`"Port" 22`, "port", []string{"22"}},
	}
	for _, tt := range tests {
		l, ok, err := splitLine("f", 1, tt.line)
		if err != nil || !ok || l.keyword != tt.keyword || !reflect.DeepEqual(l.args, tt.args) {
			t.Errorf("%q: %q %q ok=%v err=%v, want %q %q", tt.line, l.keyword, l.args, ok, err, tt.keyword, tt.args)
		}
	}
	for _, skip := range []string{"", "   ", "# Host x", "  # x", "\t\r"} {
		if _, ok, err := splitLine("f", 1, skip); ok || err != nil {
			t.Errorf("%q: want skipped", skip)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"web1", "web*", true}, {"web1", "web?", true}, {"web12", "web?", false}, {"db", "*", true},
		{"", "*", true}, {"a.b.c", "*.c", true}, {"a.b.c", "*.b", false}, {"x*y", "x*y", true},
		{"abc", "a*b*c", true}, {"abd", "a*b*c", false}, {"ab", "a**b", true},
		{strings.Repeat("a", 60), strings.Repeat("a*", 30) + "b", false},
	}
	for _, tt := range tests {
		start := time.Now()
		if got := matchPattern(tt.s, tt.p); got != tt.want {
			t.Errorf("matchPattern(%q, %q) = %v", tt.s, tt.p, got)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("matchPattern(%q, %q) took %s", tt.s, tt.p, d)
		}
	}
	if !matchPatternList("db1.internal", "*.internal,!web*", true) || matchPatternList("web1.internal", "*.internal,!web*", true) {
		t.Error("a negated pattern must refuse the list")
	}
	if !matchPatternList("db.lab", "DB.*", true) || matchPatternList("Alice", "alice", false) {
		t.Error("host patterns are lower-cased, user patterns are not")
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.conf", "a.conf", ".hidden.conf", "c.txt", "d/x.conf"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o700)
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"*.conf", []string{"a.conf", "b.conf"}},
		{".*.conf", []string{".hidden.conf"}},
		{"[!a]*", []string{"b.conf", "c.txt", "d"}},
		{"*/*.conf", []string{"d/x.conf"}},
		{"nothing*", nil},
		{"c.txt", []string{"c.txt"}},
	}
	for _, tt := range tests {
		got, err := glob(filepath.Join(dir, tt.pattern))
		if err != nil {
			t.Fatal(err)
		}
		var rel []string
		for _, g := range got {
			r, _ := filepath.Rel(dir, g)
			rel = append(rel, r)
		}
		if !reflect.DeepEqual(rel, tt.want) {
			t.Errorf("glob %s = %q, want %q", tt.pattern, rel, tt.want)
		}
	}
}
