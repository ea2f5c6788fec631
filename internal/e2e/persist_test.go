package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConnectionsKeptBetweenRuns: runs within the persist time share one login per host, held by
// the connection daemon; a run that changed the host lets it go; PERFPROV_PERSIST=0 logs in on
// its own. Checked from outside perfprov: the daemon's TCP connections to the host's sshd.
func TestConnectionsKeptBetweenRuns(t *testing.T) {
	lab := lab3(t)
	h := lab.Hosts[2]
	work := t.TempDir()
	inv := inventory(t, lab, "", h.Name)
	spec := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "persist")
	t.Cleanup(func() { hostTry(t, lab, h.Name, "rm -f /etc/perfprov-persist-test") })
	daemonDir := filepath.Join(work, "run", "perfprov")
	conns := func() []int { return daemonConns(t, daemonDir, h.Address, h.Port) }

	mustCode(t, perfprov(t, work, "facts", inv), 0, "facts")
	first := conns()
	if len(first) != 1 {
		t.Fatalf("after one run the daemon holds %v connections to %s, want 1", first, h.Name)
	}
	mustCode(t, perfprov(t, work, "facts", inv), 0, "facts again")
	mustCode(t, perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec), 0, "first apply")
	// That apply changed the host: its login is let go, and the next run logs in anew.
	waitFor(t, "the changed host's connection to close", func() bool { return len(conns()) == 0 })
	r := perfprov(t, work, "plan", "-detailed-exitcode", "-inventory", inv, spec)
	mustCode(t, r, 0, "plan after apply")
	second := conns()
	if len(second) != 1 || second[0] == first[0] {
		t.Errorf("connections %v after the apply, %v before: want one new one", second, first)
	}
	mustCode(t, perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec), 0, "no-op apply")
	if got := conns(); !slices.Equal(got, second) {
		t.Errorf("a no-op apply changed the kept connections: %v, then %v", second, got)
	}
	mustCode(t, perfprovEnv(t, work, []string{"PERFPROV_PERSIST=0"}, "facts", inv), 0, "facts, persist off")
	if got := conns(); !slices.Equal(got, second) {
		t.Errorf("a run with PERFPROV_PERSIST=0 used the daemon: %v, then %v", second, got)
	}

	// The kept connection does not hide a host key changed on the host: the facts read the
	// host's sshd keys, and the run refuses it as a new login would, with both fingerprints.
	if err := lab.ChangeHostKey(ctxT(t), h.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.RestoreHostKey(ctxT(t), h.Name); err != nil {
			t.Errorf("restoring the host key of %s: %v", h.Name, err)
		}
	})
	if got := conns(); !slices.Equal(got, second) {
		t.Fatalf("the kept connection did not survive the sshd restart: %v, then %v", second, got)
	}
	r = perfprov(t, work, "facts", inv)
	mustCode(t, r, 1, "facts after the host key changed")
	for _, want := range []string{"ERROR: kept connection: host key for " + h.Address + " has CHANGED", "known_hosts has SHA256:", "known_hosts:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	waitFor(t, "the refused host's connection to close", func() bool { return len(conns()) == 0 })
	r = perfprov(t, work, "facts", inv)
	mustCode(t, r, 1, "facts after the host key changed, logging in")
	if !strings.Contains(r.out, "ERROR: host key for "+h.Address+" has CHANGED") {
		t.Errorf("a new login was not refused:\n%s", r.out)
	}
	if err := lab.RestoreHostKey(ctxT(t), h.Name); err != nil {
		t.Fatal(err)
	}

	// A frozen host behind a kept connection is reported within the connection timeout.
	timed := filepath.Join(work, "inventory-3s.hcl")
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("host_key_checking"), []byte("timeout = \"3s\"\n  host_key_checking"), 1)
	if err := os.WriteFile(timed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	mustCode(t, perfprov(t, work, "facts", timed), 0, "facts with a 3s timeout")
	if len(conns()) != 1 {
		t.Fatalf("no kept connection before the freeze: %v", conns())
	}
	if err := lab.Freeze(ctxT(t), h.Name); err != nil {
		t.Fatal(err)
	}
	r = perfprov(t, work, "facts", timed)
	if err := lab.Thaw(ctxT(t), h.Name); err != nil {
		t.Fatal(err)
	}
	mustCode(t, r, 1, "facts on a frozen host")
	// The kept connection is proven alive beside the facts command: that command reports it.
	if !strings.Contains(r.out, "ERROR: gathering facts: no answer within 3s on its open connection (host not answering)\n") || r.duration > 6*time.Second {
		t.Errorf("frozen host: %.1fs:\n%s", r.duration.Seconds(), r.out)
	}

	if fi, err := os.Stat(daemonDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("daemon directory: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(daemonDir, "daemon.log")); len(b) > 0 {
		t.Errorf("daemon.log:\n%s", b)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("waited 5s for %s", what)
}

// daemonPID is the PID of the connection daemon serving dir (0: none runs).
func daemonPID(dir string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte("\x00__persist\x00")) && bytes.HasSuffix(b, []byte("\x00"+dir+"\x00")) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

// daemonConns returns the local ports of the established TCP connections that the connection
// daemon serving dir holds to addr:port (none when no daemon runs).
func daemonConns(t *testing.T, dir, addr string, port int) []int {
	t.Helper()
	pid := daemonPID(dir)
	if pid == 0 {
		return nil
	}
	inodes := map[string]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	ip := net.ParseIP(addr).To4()
	// /proc/net/tcp writes the address as the little-endian hex of the 32-bit word.
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], port)
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ports []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local remote st ... inode(9)
		if len(fl) < 10 || fl[2] != want || fl[3] != "01" || !inodes[fl[9]] {
			continue
		}
		_, lp, _ := strings.Cut(fl[1], ":")
		n, _ := strconv.ParseInt(lp, 16, 32)
		ports = append(ports, int(n))
	}
	slices.Sort(ports)
	return ports
}
