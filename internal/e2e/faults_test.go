package e2e

// The fault matrix (issue 12): each case lands a fault on a lab host while an apply is in flight
// and checks, from inside the hosts, that the other hosts converge, that the faulty one is
// reported in one line with its cause, the exit status, that a second apply after the fault is
// cleared converges, and that nothing is left behind (checkClean).

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

const slowAddr = "command.slow"

func faultSpec(t *testing.T) string {
	return filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "faults")
}

// faultDiskSpec is the spec of the upload and unpack cases: a source tree and a file in /opt/big.
func faultDiskSpec(t *testing.T) string {
	return filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "faults-disk")
}

// TestFaultHostKilled: every process of a host (sshd included) killed while its command runs, as
// a power cut does; it is reported as lost, the others converge, and once booted again the next
// apply converges on its disk as the cut left it.
func TestFaultHostKilled(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv, spec := t.TempDir(), faultInventory(t, lab, "", hs...), faultSpec(t)
	a := startApply(t, work, nil, "-inventory", inv, spec)
	a.waitStart(t, slowAddr, hs[0])
	if err := lab.Kill(ctxT(t), hs[0]); err != nil {
		t.Fatal(err)
	}
	r := a.wait(t, 2*time.Minute)
	mustCode(t, r, 1, "apply with a host killed")
	checkOutcome(t, r, hs[1:], hs[0], hs[0], "lost", "may have run")
	if err := lab.Restart(ctxT(t), hs[0]); err != nil {
		t.Fatal(err)
	}
	converge(t, work, inv, spec, nil, hs...)
	checkClean(t, lab, hs...)
}

// TestFaultHostFrozen: a host whose processes all stop (SIGSTOP) while its command runs is
// reported once its keepalives go unanswered (1s, 3 of them), not when a TCP timeout fires.
func TestFaultHostFrozen(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv, spec := t.TempDir(), faultInventory(t, lab, "", hs...), faultSpec(t)
	a := startApply(t, work, nil, "-inventory", inv, spec)
	a.waitStart(t, slowAddr, hs[0])
	if err := lab.Freeze(ctxT(t), hs[0]); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	r := a.wait(t, 2*time.Minute)
	after := time.Since(frozen)
	if err := lab.Thaw(ctxT(t), hs[0]); err != nil {
		t.Fatal(err)
	}
	mustCode(t, r, 1, "apply with a host frozen")
	checkOutcome(t, r, hs[1:], hs[0], hs[0], "keepalive")
	if after > 30*time.Second {
		t.Errorf("the frozen host was reported %.0fs after the freeze; its keepalive limit is 3s", after.Seconds())
	}
	converge(t, work, inv, spec, nil, hs...)
	checkClean(t, lab, hs...)
}

// TestFaultInterrupt: the first SIGINT lets the steps in flight finish and starts nothing new,
// prints the recap, exit 130; a second one ends the remote commands and their children on every
// host (no sleep left running), exit 130.
func TestFaultInterrupt(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv, spec := t.TempDir(), faultInventory(t, lab, "", hs...), faultSpec(t)

	a := startApply(t, work, nil, "-inventory", inv, spec)
	a.waitStart(t, slowAddr, hs...)
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	r := a.wait(t, time.Minute)
	mustCode(t, r, 130, "apply after one SIGINT")
	for _, h := range hs {
		if _, ok := hostTry(t, lab, h, "test -e /opt/fault/slow.done"); !ok {
			t.Errorf("%s: the command in flight at the SIGINT did not finish", h)
		}
		if _, ok := hostTry(t, lab, h, "test -e /opt/fault/last"); ok {
			t.Errorf("%s: a step started after the SIGINT", h)
		}
	}
	if !strings.Contains(r.out, `"type":"summary"`) || !strings.Contains(r.out, `"interrupted":true`) {
		t.Errorf("no recap saying the run was interrupted:\n%s", r.out)
	}

	hostExec(t, lab, hs[0], "rm -f /opt/fault/slow.done") // so that each host runs the slow command again
	for _, h := range hs[1:] {
		hostExec(t, lab, h, "rm -f /opt/fault/slow.done")
	}
	a = startApply(t, work, nil, "-inventory", inv, "-var", "slow=300", spec)
	a.waitStart(t, slowAddr, hs...)
	time.Sleep(300 * time.Millisecond) // the sleeps are running
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	_ = a.cmd.Process.Signal(syscall.SIGINT)
	r = a.wait(t, 30*time.Second)
	mustCode(t, r, 130, "apply after two SIGINTs")
	for _, h := range hs {
		if out, ok := hostTry(t, lab, h, "pgrep -a -x sleep | grep -w 300"); ok {
			t.Errorf("%s: the interrupted command still runs after the second SIGINT:\n%s", h, out)
		}
	}
	converge(t, work, inv, spec, nil, hs...)
	checkClean(t, lab, hs...)
}

// TestFaultControllerKilled: perfprov itself killed (SIGKILL) while a command runs: the audit log
// shows the change it had started (an attempt line with no outcome), and the next apply takes over
// the lock the dead run left, says so, and converges.
func TestFaultControllerKilled(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv, spec := t.TempDir(), faultInventory(t, lab, "", hs...), faultSpec(t)
	audit := filepath.Join(work, "audit.log")
	a := startApply(t, work, nil, "-audit-log", audit, "-inventory", inv, spec)
	a.waitStart(t, slowAddr, hs...)
	_ = a.cmd.Process.Kill()
	r := a.wait(t, time.Minute)
	if r.code != 128+int(syscall.SIGKILL) {
		t.Fatalf("the killed apply ended with %d", r.code)
	}
	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	attempts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct{ Host, Resource, Outcome string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if rec.Resource == slowAddr {
			attempts[rec.Host+" "+rec.Outcome]++
		}
	}
	for _, h := range hs {
		if attempts[h+" attempt"] != 1 || attempts[h+" changed"]+attempts[h+" failed"] != 0 {
			t.Errorf("%s: the audit log records %v for %s, want one attempt and no outcome:\n%s", h, attempts, slowAddr, b)
		}
	}
	time.Sleep(5 * time.Second) // the remote commands the dead run left end on their own
	r = converge(t, work, inv, spec, nil, hs...)
	if !strings.Contains(r.out, "took over the lock") {
		t.Errorf("the next apply did not say it took over the dead run's lock:\n%s", r.out)
	}
	checkClean(t, lab, hs...)
}

// TestFaultTwoControllers: a second apply of the same spec to the same host while the first runs
// is refused by the host's lock, naming the holder, and changes nothing; the first converges.
func TestFaultTwoControllers(t *testing.T) {
	lab, hs := faultHosts(t)
	spec := faultSpec(t)
	work1, work2 := t.TempDir(), t.TempDir()
	inv := faultInventory(t, lab, "", hs[0])
	first := startApply(t, work1, nil, "-inventory", inv, spec)
	first.waitStart(t, slowAddr, hs[0])
	second := perfprovEnv(t, work2, nil, "apply", "-auto-approve", "-json", "-inventory", inv, spec)
	mustCode(t, second, 1, "the second apply")
	checkOutcome(t, second, nil, hs[0], "another perfprov run is applying to this host", "perfprov apply, pid", "nothing was changed")
	r := first.wait(t, time.Minute)
	mustCode(t, r, 0, "the first apply")
	if strings.Contains(second.out, `"type":"apply_start"`) {
		t.Errorf("the refused apply started a change:\n%s", second.out)
	}
	converge(t, work2, inv, spec, nil, hs[0])
	checkClean(t, lab, hs[0])
}

// TestFaultDaemonKilled: the connection daemon killed while commands run through it: its hosts
// fail with a cause naming the connection, and the next run starts a new daemon and converges.
func TestFaultDaemonKilled(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv, spec := t.TempDir(), faultInventory(t, lab, "", hs...), faultSpec(t)
	a := startApply(t, work, nil, "-inventory", inv, spec)
	a.waitStart(t, slowAddr, hs...)
	pid := daemonPID(filepath.Join(work, "run", "perfprov"))
	if pid == 0 {
		t.Fatal("no connection daemon runs for the apply")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := a.wait(t, time.Minute)
	mustCode(t, r, 1, "apply with its connection daemon killed")
	for _, h := range hs {
		checkOutcome(t, r, nil, h, "connection")
	}
	time.Sleep(5 * time.Second)
	converge(t, work, inv, spec, nil, hs...)
	checkClean(t, lab, hs...)
}

// TestFaultSudoRefused: a login user without a sudo rule, and a wrong sudo password: the host is
// reported with sudo's refusal in one line, the others converge.
func TestFaultSudoRefused(t *testing.T) {
	lab, hs := faultHosts(t)
	spec := faultSpec(t)
	inv := faultInventory(t, lab, "", hs...)
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	asBob := `host "` + hs[0] + `" {
  connection {
    user                = "bob"
    become_password_env = "FAULT_SUDO_PW"
  }
`
	b = bytes.Replace(b, []byte(`host "`+hs[0]+`" {`+"\n"), []byte(asBob), 1)
	if err := os.WriteFile(inv, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, password, setup string
		want                  []string
	}{
		{"no sudo rule", testbed.BobPassword, "mv /etc/sudoers.d/10-lab-bob /etc/sudoers.d/10-lab-bob.off", []string{"become: sudo refused bob, who has no sudo rule"}},
		{"wrong password", "not-the-password", "", []string{"become: sudo refused the password", "for bob"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != "" {
				hostExec(t, lab, hs[0], c.setup)
				t.Cleanup(func() { hostExec(t, lab, hs[0], "mv /etc/sudoers.d/10-lab-bob.off /etc/sudoers.d/10-lab-bob") })
			}
			r := perfprovEnv(t, t.TempDir(), []string{"FAULT_SUDO_PW=" + c.password}, "apply", "-auto-approve", "-json", "-inventory", inv, spec)
			mustCode(t, r, 1, "apply with sudo refused")
			checkOutcome(t, r, hs[1:], hs[0], c.want...)
			if strings.Contains(r.out, c.password) {
				t.Errorf("the sudo password is in the output:\n%s", r.out)
			}
		})
	}
	converge(t, t.TempDir(), inv, spec, []string{"FAULT_SUDO_PW=" + testbed.BobPassword}, hs...)
	checkClean(t, lab, hs...)
}

// TestFaultDiskFull: the target filesystem full during an upload and during an unpack (a 1 MiB
// tmpfs at /opt/big): "no space left on device" in one line, and the previous file and tree intact.
func TestFaultDiskFull(t *testing.T) {
	lab, hs := faultHosts(t)
	spec := faultDiskSpec(t)
	inv := faultInventory(t, lab, "", hs...)
	hostExec(t, lab, hs[0], "mkdir -p /opt/big && mount -t tmpfs -o size=1m tmpfs /opt/big")
	dir := t.TempDir()
	small, big := writeTree(t, dir, "small", 8<<10), writeTree(t, dir, "big", 3<<20)
	blob, bigBlob := writeBlob(t, dir, "blob", 1<<10), writeBlob(t, dir, "bigblob", 2<<20)
	apply := func(tarball, blob string) result {
		return perfprovEnv(t, t.TempDir(), nil, "apply", "-auto-approve", "-json", "-inventory", inv,
			"-var", "tarball="+tarball, "-var", "blob="+blob, spec)
	}
	mustCode(t, apply(small, blob), 0, "the first apply (room enough)")
	treeBefore := hostExec(t, lab, hs[0], "cat /opt/big/tree/.perfprov-source.sha256; sha256sum /opt/big/blob")

	r := apply(small, bigBlob)
	mustCode(t, r, 1, "the upload to a full disk")
	checkOutcome(t, r, hs[1:], hs[0], "upload /opt/big/blob", "no space left on device", "/opt/big")
	r = apply(big, blob)
	mustCode(t, r, 1, "the unpack onto a full disk")
	checkOutcome(t, r, hs[1:], hs[0], "unpack into /opt/big/tree", "no space left on device: the filesystem of /opt/big is full")
	if got := hostExec(t, lab, hs[0], "cat /opt/big/tree/.perfprov-source.sha256; sha256sum /opt/big/blob"); got != treeBefore {
		t.Errorf("the previous tree and file changed: %q, then %q", treeBefore, got)
	}
	checkClean(t, lab, hs...)
	hostExec(t, lab, hs[0], "umount /opt/big")
	mustCode(t, apply(big, bigBlob), 0, "the apply with room again")
	checkClean(t, lab, hs...)
}

// writeTree writes a tar.gz of one directory holding size random bytes (so it does not compress).
func writeTree(t *testing.T, dir, name string, size int) string {
	t.Helper()
	src := filepath.Join(dir, name+"-src", name)
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBlobAt(t, filepath.Join(src, "data"), size)
	out := filepath.Join(dir, name+".tar.gz")
	if b, err := exec.Command("tar", "-czf", out, "-C", filepath.Dir(src), name).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, b)
	}
	return out
}

func writeBlob(t *testing.T, dir, name string, size int) string {
	p := filepath.Join(dir, name)
	writeBlobAt(t, p, size)
	return p
}

func writeBlobAt(t *testing.T, p string, size int) {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
