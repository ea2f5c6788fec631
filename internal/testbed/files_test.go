package testbed

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fixedKey is a deterministic ed25519 host key, so golden files are stable.
func fixedKey(t *testing.T, seed byte) ssh.PublicKey {
	t.Helper()
	line := map[byte]string{
		1: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILlL+Bv3aaytTVRBLlHUiNw2woDXQ8ZRfXq8z4g/aHkU",
		2: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILyi1deROKUmAITIek6W8+eUszM2Mx3R+NrCPAuTx1C1",
	}[seed]
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestKnownHostsLine(t *testing.T) {
	k := fixedKey(t, 1)
	tests := []struct {
		addr string
		port int
		want string
	}{
		{"127.0.10.1", 22, "127.0.10.1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n"},
		{"127.0.10.1", 0, "127.0.10.1 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n"},
		{"127.0.10.1", 2222, "[127.0.10.1]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n"},
	}
	for _, tt := range tests {
		if got := KnownHostsLine(tt.addr, tt.port, k); got != tt.want {
			t.Errorf("KnownHostsLine(%s, %d) = %q, want %q", tt.addr, tt.port, got, tt.want)
		}
	}
}

// The known_hosts file must be read back by a real parser as the lab's keys for the lab's
// addresses, and nothing else.
func TestKnownHostsParses(t *testing.T) {
	hosts := []*Host{
		{Name: "lab1", Address: "127.0.10.1", Port: 22, hostKey: fixedKey(t, 1)},
		{Name: "lab2", Address: "127.0.10.2", Port: 2222, hostKey: fixedKey(t, 2)},
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, KnownHosts(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(path)
	if err != nil {
		t.Fatal(err)
	}
	addr := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	if err := cb("127.0.10.1:22", addr("127.0.10.1:22"), fixedKey(t, 1)); err != nil {
		t.Errorf("lab1's own key refused: %v", err)
	}
	if err := cb("127.0.10.2:2222", addr("127.0.10.2:2222"), fixedKey(t, 2)); err != nil {
		t.Errorf("lab2's own key on port 2222 refused: %v", err)
	}
	var ke *knownhosts.KeyError
	if err := cb("127.0.10.1:22", addr("127.0.10.1:22"), fixedKey(t, 2)); !errors.As(err, &ke) || len(ke.Want) == 0 {
		t.Errorf("a changed key for lab1: got %v, want a KeyError naming the recorded key", err)
	}
	if err := cb("127.0.10.2:22", addr("127.0.10.2:22"), fixedKey(t, 2)); !errors.As(err, &ke) || len(ke.Want) != 0 {
		t.Errorf("lab2 on port 22 was never recorded: got %v, want an unknown-host KeyError", err)
	}
}

func TestInventoryHCL(t *testing.T) {
	hosts := []*Host{
		{Name: "lab1", Address: "127.0.10.1", Port: 22},
		{Name: "lab2", Address: "127.0.10.2", Port: 22},
		{Name: "odd", Address: "127.0.10.3", Port: 2222},
	}
	got := InventoryHCL("/labs/demo/id_ed25519", "/labs/demo/known_hosts", hosts)
	golden(t, "inventory.golden.hcl", got)

	// It must be valid HCL with the documented blocks and attributes.
	f, diags := hclsyntax.ParseConfig(got, "inventory.hcl", hcl2.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("inventory is not valid HCL: %v", diags)
	}
	body := f.Body.(*hclsyntax.Body)
	var blocks []string
	for _, b := range body.Blocks {
		blocks = append(blocks, b.Type+strings.Join(b.Labels, ","))
	}
	if want := "connection hostlab1 hostlab2 hostodd"; strings.Join(blocks, " ") != want {
		t.Errorf("blocks = %q, want %q", strings.Join(blocks, " "), want)
	}
	conn := body.Blocks[0].Body.Attributes
	for _, a := range []string{"user", "identity_files", "known_hosts", "host_key_checking"} {
		if conn[a] == nil {
			t.Errorf("connection has no %s", a)
		}
	}
	v, diags := conn["known_hosts"].Expr.Value(nil)
	if diags.HasErrors() || v.AsString() != "/labs/demo/known_hosts" {
		t.Errorf("known_hosts = %#v %v", v, diags)
	}
}

func TestHCLString(t *testing.T) {
	tests := []string{"plain", `/path with "quotes"`, `back\slash`, "${not_a_ref}", "%{ if x }", "new\nline", "tab\t", "$5 and %d", "trailing $"}
	for _, s := range tests {
		src := []byte("x = " + hclString(s) + "\n")
		f, diags := hclsyntax.ParseConfig(src, "t.hcl", hcl2.InitialPos)
		if diags.HasErrors() {
			t.Errorf("hclString(%q) = %s: %v", s, src, diags)
			continue
		}
		v, diags := f.Body.(*hclsyntax.Body).Attributes["x"].Expr.Value(nil)
		if diags.HasErrors() || v.AsString() != s {
			t.Errorf("hclString(%q) evaluates to %#v (%v)", s, v, diags)
		}
	}
}

func TestMirror(t *testing.T) {
	if got, want := mirrorFromDeb822("testdata/sources.deb822"), "http://mirror.example/debian"; got != want {
		t.Errorf("deb822 mirror = %q, want %q", got, want)
	}
	if got, want := mirrorFromList("testdata/sources.list"), "http://ftp.example/debian"; got != want {
		t.Errorf("sources.list mirror = %q, want %q", got, want)
	}
	if got := mirrorFromList("testdata/does-not-exist"); got != "" {
		t.Errorf("missing file gave %q", got)
	}
}

func TestParseListeners(t *testing.T) {
	v4, _ := os.ReadFile("testdata/proc_net_tcp")
	v6, _ := os.ReadFile("testdata/proc_net_tcp6")
	got := append(parseListeners(v4), parseListeners(v6)...)
	want := []tcpListener{
		{addr: [4]byte{0, 0, 0, 0}, any: true, port: 2024},
		{addr: [4]byte{127, 0, 10, 1}, port: 22},
		{addr: [4]byte{0, 0, 0, 0}, any: true, v6: true, port: 22},
		{addr: [4]byte{127, 0, 5, 1}, v6: true, port: 8080},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("listener %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	tests := map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/tab\011x`: "/tab\tx", `/bad\09`: `/bad\09`, `/end\04`: `/end\04`}
	for in, want := range tests {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

// Directories created in an overlay's upper layer must copy the lower layer's mode, or the
// merged view (and sshd's StrictModes) would see the wrong one.
func TestUpperWriterCopiesLowerModes(t *testing.T) {
	lower := t.TempDir()
	upper := t.TempDir()
	if err := os.MkdirAll(filepath.Join(lower, "home/alice/.ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(lower, "home"), 0o755)
	os.Chmod(filepath.Join(lower, "home/alice"), 0o750)
	os.Chmod(filepath.Join(lower, "home/alice/.ssh"), 0o700)
	w := upperWriter{upper: upper, lower: []string{filepath.Join(t.TempDir(), "empty"), lower}}
	uid, gid := os.Getuid(), os.Getgid()
	if err := w.write("home/alice/.ssh/authorized_keys", []byte("k\n"), 0o600, uid, gid); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		"home": 0o755, "home/alice": 0o750, "home/alice/.ssh": 0o700, "home/alice/.ssh/authorized_keys": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(upper, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
			t.Errorf("%s: owner %d, want %d", path, st.Uid, uid)
		}
	}
}

func TestRemoveTreeRefusesMounts(t *testing.T) {
	// The machine's own root is always a mount point: removeTree must refuse it without
	// touching anything.
	err := removeTree("/proc")
	if err == nil || !strings.Contains(err.Error(), "still mounted") {
		t.Fatalf("removeTree(/proc) = %v, want a refusal", err)
	}
	dir := filepath.Join(t.TempDir(), "x")
	os.MkdirAll(filepath.Join(dir, "a/b"), 0o755)
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", dir, err)
	}
}

func TestCacheKeys(t *testing.T) {
	k := rootfsKey()
	old := BasePackages
	defer func() { BasePackages = old }()
	BasePackages = append(append([]string(nil), old...), "strace")
	if rootfsKey() == k {
		t.Error("adding a package does not change the base's cache key")
	}
	BasePackages = append([]string{old[len(old)-1]}, old[:len(old)-1]...)
	if rootfsKey() != k {
		t.Error("the order of the package list changes the base's cache key")
	}
}
