package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) { Main(m) }

// dialSSH connects to h as user with the lab's key and known_hosts, with a deadline on the TCP
// connect and the whole SSH handshake (x/crypto's Timeout covers only the connect).
func dialSSH(t *testing.T, lab *Lab, h *Host, user string, auth ssh.AuthMethod, timeout time.Duration) (*ssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(lab.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		pem, err := os.ReadFile(lab.KeyPath)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			t.Fatal(err)
		}
		auth = ssh.PublicKeys(signer)
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{auth},
		HostKeyCallback: cb,
		// known_hosts records only ed25519; offering x/crypto's default order (ecdsa first) would
		// make the server present a key that is not recorded.
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519},
	}
	addr := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func runSSH(t *testing.T, c *ssh.Client, cmd string, stdin string) (string, error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	s.Stdin = strings.NewReader(stdin)
	out, err := s.CombinedOutput(cmd)
	return string(out), err
}

func openSSH(lab *Lab, h *Host, user string, args ...string) *exec.Cmd {
	base := []string{"-i", lab.KeyPath, "-o", "UserKnownHostsFile=" + lab.KnownHostsPath,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10", "-F", "/dev/null", user + "@" + h.Address}
	return exec.Command("ssh", append(base, args...)...)
}

func TestHostsAnswerWithRecordedKeys(t *testing.T) {
	lab := Require(t, 2)
	names := map[string]bool{}
	for _, h := range lab.Hosts[:2] {
		c, err := dialSSH(t, lab, h, "root", nil, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: x/crypto ssh with the recorded host key: %v", h.Name, err)
		}
		out, err := runSSH(t, c, "hostname", "")
		c.Close()
		if err != nil {
			t.Fatalf("%s: hostname: %v: %s", h.Name, err, out)
		}
		if got := strings.TrimSpace(out); got != h.Name {
			t.Errorf("%s: hostname says %q", h.Name, got)
		}
		names[strings.TrimSpace(out)] = true

		// The OpenSSH client, strict, with only the lab's known_hosts.
		if out, err := openSSH(lab, h, "root", "true").CombinedOutput(); err != nil {
			t.Errorf("%s: OpenSSH ssh root@%s true: %v: %s", h.Name, h.Address, err, out)
		}
	}
	if len(names) != 2 {
		t.Errorf("hostnames are not distinct: %v", names)
	}
}

func TestUsersAndSudo(t *testing.T) {
	lab := Require(t, 1)
	h := lab.Hosts[0]
	// alice: key login, sudo without a password.
	if out, err := openSSH(lab, h, NopasswdUser, "sudo -n id -u").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("alice: sudo -n id -u: %v: %q", err, out)
	}
	// bob: key login, sudo -n refused, sudo with the password works.
	if out, err := openSSH(lab, h, PasswdUser, "sudo -n true").CombinedOutput(); err == nil {
		t.Errorf("bob: sudo -n succeeded without a password: %q", out)
	}
	c, err := dialSSH(t, lab, h, PasswdUser, ssh.Password(BobPassword), 10*time.Second)
	if err != nil {
		t.Fatalf("bob: password login: %v", err)
	}
	defer c.Close()
	out, err := runSSH(t, c, "sudo -S -p '' id -u", BobPassword+"\n")
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("bob: sudo -S with the password: %v: %q", err, out)
	}
	if _, err := dialSSH(t, lab, h, PasswdUser, ssh.Password("wrong"), 10*time.Second); err == nil {
		t.Error("bob: a wrong password was accepted")
	}
	if _, err := dialSSH(t, lab, h, "root", ssh.Password(BobPassword), 10*time.Second); err == nil {
		t.Error("root: password login was accepted (want key only)")
	}
}

func TestHostsAreIsolated(t *testing.T) {
	lab := Require(t, 2)
	ctx := context.Background()
	a, b := lab.Hosts[0].Name, lab.Hosts[1].Name
	marker := "/root/isolation-" + strconv.Itoa(os.Getpid())
	if _, err := lab.Exec(ctx, a, "echo "+a+" > "+marker); err != nil {
		t.Fatal(err)
	}
	defer lab.Exec(ctx, a, "rm -f "+marker)
	if out, err := lab.Exec(ctx, a, "cat "+marker); err != nil || strings.TrimSpace(string(out)) != a {
		t.Errorf("%s: cannot read its own file: %v %q", a, err, out)
	}
	if out, err := lab.Exec(ctx, b, "test ! -e "+marker+" && echo absent"); err != nil || strings.TrimSpace(string(out)) != "absent" {
		t.Errorf("%s sees %s's file: %v %q", b, a, err, out)
	}
	// Own PID namespace: PID 1 is the host's init, and the other host's sshd is invisible.
	out, err := lab.Exec(ctx, b, "cat /proc/1/cmdline; echo; hostname; ps -e -o comm= | sort -u | tr '\\n' ' '")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "perfprov-lab-init:"+b) || !strings.Contains(string(out), "\n"+b+"\n") {
		t.Errorf("%s: PID 1 / hostname wrong: %q", b, out)
	}
	// The root is the overlay, and the machine's other mounts are not visible.
	out, err = lab.Exec(ctx, b, "findmnt -no FSTYPE /; findmnt -no FSTYPE /proc; cat /proc/mounts | wc -l")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 3 || f[0] != "overlay" || f[1] != "proc" {
		t.Errorf("%s: mounts: %q", b, out)
	}
}

func TestExec(t *testing.T) {
	lab := Require(t, 1)
	h := lab.Hosts[0].Name
	out, err := lab.Exec(context.Background(), h, "echo out; echo err >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), h) || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exit 3: err = %v", err)
	}
	if string(out) != "out\nerr\n" {
		t.Errorf("output = %q", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := lab.Exec(ctx, h, "sleep 30"); err == nil {
		t.Error("a cancelled Exec returned no error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %s", d)
	}
	// The killed script must not linger inside the host.
	time.Sleep(100 * time.Millisecond)
	if out, _ := lab.Exec(context.Background(), h, "pgrep -x sleep || true"); len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("sleep still running in %s: %q", h, out)
	}
	if _, err := lab.Exec(context.Background(), "nosuchhost", "true"); err == nil {
		t.Error("Exec on an unknown host succeeded")
	}
}

func TestFreezeMakesConnectionsHang(t *testing.T) {
	lab := Require(t, 2)
	ctx := context.Background()
	frozen, other := lab.Hosts[1], lab.Hosts[0]
	if err := lab.Freeze(ctx, frozen.Name); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			lab.Thaw(ctx, frozen.Name)
		}
	}()
	if got := Status(lab)[frozen.Name]; got != "up, frozen" {
		t.Errorf("status of the frozen host = %q", got)
	}
	start := time.Now()
	_, err := dialSSH(t, lab, frozen, "root", nil, 1500*time.Millisecond)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("connecting to a frozen host: got %v, want a timeout", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the frozen host answered after %s: not frozen", d)
	}
	c, err := dialSSH(t, lab, other, "root", nil, 10*time.Second)
	if err != nil {
		t.Errorf("the other host is affected: %v", err)
	} else {
		c.Close()
	}
	if err := lab.Thaw(ctx, frozen.Name); err != nil {
		t.Fatal(err)
	}
	thawed = true
	c, err = dialSSH(t, lab, frozen, "root", nil, 10*time.Second)
	if err != nil {
		t.Fatalf("after Thaw: %v", err)
	}
	c.Close()
}

func TestStopStartSSHD(t *testing.T) {
	lab := Require(t, 1)
	ctx := context.Background()
	h := lab.Hosts[0]
	if err := lab.StopSSHD(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	_, err := net.DialTimeout("tcp", net.JoinHostPort(h.Address, "22"), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("connect with sshd stopped: %v, want connection refused", err)
	}
	if got := Status(lab)[h.Name]; got != "up, sshd stopped" {
		t.Errorf("status = %q", got)
	}
	if err := lab.StartSSHD(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	c, err := dialSSH(t, lab, h, "root", nil, 10*time.Second)
	if err != nil {
		t.Fatalf("after StartSSHD: %v", err)
	}
	c.Close()
}

func TestChangeHostKey(t *testing.T) {
	lab := Require(t, 3)
	ctx := context.Background()
	h := lab.Hosts[2]
	if err := lab.ChangeHostKey(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	live, err := lab.LiveHostKey(h.Name)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(live.Marshal(), h.HostKey().Marshal()) {
		t.Fatal("the host key did not change")
	}
	_, err = dialSSH(t, lab, h, "root", nil, 10*time.Second)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		t.Errorf("connecting after the key changed: got %v, want a known_hosts mismatch", err)
	}
	out, err := openSSH(lab, h, "root", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("OpenSSH after the key changed: %v: %s", err, out)
	}
	// A second change keeps the recorded key for the restore, not the first new one.
	if err := lab.ChangeHostKey(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if err := lab.RestoreHostKey(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	c, err := dialSSH(t, lab, h, "root", nil, 10*time.Second)
	if err != nil {
		t.Fatalf("after RestoreHostKey: %v", err)
	}
	c.Close()
}

func TestMountNosuid(t *testing.T) {
	lab := Require(t, 1)
	ctx := context.Background()
	h := lab.Hosts[0].Name
	if err := lab.MountNosuid(ctx, h, "/opt/nosuid-test"); err != nil {
		t.Fatal(err)
	}
	out, err := lab.Exec(ctx, h, "findmnt -no OPTIONS /opt/nosuid-test")
	if err != nil || !strings.Contains(string(out), "nosuid") {
		t.Errorf("options: %v %q", err, out)
	}
	if err := lab.Unmount(ctx, h, "/opt/nosuid-test"); err != nil {
		t.Fatal(err)
	}
	if err := lab.MountNosuid(ctx, h, "relative/path"); err == nil {
		t.Error("a relative path was accepted")
	}
}

func TestOpen(t *testing.T) {
	lab := Require(t, 2)
	o, err := Open(lab.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Hosts) < 2 || o.Hosts[1].Address != lab.Hosts[1].Address || o.Net != lab.Net {
		t.Fatalf("Open: %+v", o)
	}
	if out, err := o.Exec(context.Background(), o.Hosts[1].Name, "hostname"); err != nil || strings.TrimSpace(string(out)) != o.Hosts[1].Name {
		t.Errorf("Exec through Open: %v %q", err, out)
	}
	inv, err := os.ReadFile(o.InventoryPath)
	if err != nil || !strings.Contains(string(inv), `address = "`+o.Hosts[1].Address+`"`) {
		t.Errorf("inventory: %v\n%s", err, inv)
	}
}

// A second lab beside the shared one: its own network, and Down leaves nothing behind. Up on a
// directory whose lab is still there replaces it.
func TestUpDownLeavesNothing(t *testing.T) {
	shared := Require(t, 1)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "lab")
	first, err := Up(ctx, Options{Hosts: 2, Dir: dir, Prefix: "dn", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if first.Net == shared.Net {
		t.Fatalf("two labs share 127.0.%d.0/24", first.Net)
	}
	// Up again on the same directory, without Down: the old hosts must go.
	lab, err := Up(ctx, Options{Hosts: 2, Dir: dir, Prefix: "dn", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]bool{}
	for _, h := range append(first.Hosts, lab.Hosts...) {
		namespaces[h.pidNS] = true
	}
	for _, h := range first.Hosts {
		if h.alive() {
			t.Errorf("old host %s (PID %d) still runs after Up on its directory", h.Name, h.pid)
		}
	}
	if out, err := openSSH(lab, lab.Hosts[1], "root", "hostname").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "dn2" {
		t.Fatalf("new lab: %v %q", err, out)
	}
	if err := lab.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := processesIn(namespaces); len(left) > 0 {
		t.Errorf("processes left in the lab's namespaces: %v", left)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), dir) {
		t.Errorf("mounts left under %s:\n%s", dir, mi)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab directory still there: %v", err)
	}
	for _, h := range lab.Hosts {
		if c, err := net.DialTimeout("tcp", h.Address+":22", time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", h.Name)
		}
	}
	if err := Down(ctx, dir); err != nil {
		t.Errorf("a second Down: %v", err)
	}
}

// Require with more hosts than the lab has grows it: new hosts on the same network, known to
// known_hosts, the inventory and the old hosts' /etc/hosts.
func TestRequireGrowsTheLab(t *testing.T) {
	before := len(Require(t, 1).Hosts)
	lab := Require(t, before+2)
	if len(lab.Hosts) != before+2 {
		t.Fatalf("lab has %d hosts, want %d", len(lab.Hosts), before+2)
	}
	newest := lab.Hosts[len(lab.Hosts)-1]
	if want := fmt.Sprintf("127.0.%d.%d", lab.Net, len(lab.Hosts)); newest.Address != want {
		t.Errorf("newest host at %s, want %s", newest.Address, want)
	}
	if out, err := openSSH(lab, newest, "root", "hostname").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != newest.Name {
		t.Errorf("%s over OpenSSH: %v %q", newest.Name, err, out)
	}
	out, err := lab.Exec(context.Background(), lab.Hosts[0].Name, "getent hosts "+newest.Name)
	if err != nil || !strings.Contains(string(out), newest.Address) {
		t.Errorf("%s does not resolve %s: %v %q", lab.Hosts[0].Name, newest.Name, err, out)
	}
	inv, _ := os.ReadFile(lab.InventoryPath)
	if !strings.Contains(string(inv), `host "`+newest.Name+`"`) {
		t.Errorf("inventory lacks %s:\n%s", newest.Name, inv)
	}
}

// BenchmarkUpDown measures bringing up and taking down labs of 3 and 20 hosts from the cached
// base (run with -benchtime 1x: each iteration starts real hosts).
func BenchmarkUpDown(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, n := range []int{3, 20} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			var up, down time.Duration
			for i := 0; i < b.N; i++ {
				dir := filepath.Join(b.TempDir(), "lab")
				t0 := time.Now()
				lab, err := Up(context.Background(), Options{Hosts: n, Dir: dir, Prefix: "bench", Ephemeral: true})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := lab.Down(context.Background()); err != nil {
					b.Fatal(err)
				}
				up += t1.Sub(t0)
				down += time.Since(t1)
			}
			b.ReportMetric(up.Seconds()/float64(b.N), "up-s")
			b.ReportMetric(down.Seconds()/float64(b.N), "down-s")
		})
	}
}
