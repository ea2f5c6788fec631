package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

// The fault matrix runs on lab hosts of its own (the 4th to 6th), so that a host it kills or
// freezes is never one another test uses.
const faultFirst, faultCount = 3, 3

// faultHosts returns the lab and the fault matrix's hosts, each cleaned when the test ends
// (thawed, booted again if killed, its mounts and the spec's files removed).
func faultHosts(t *testing.T) (*testbed.Lab, []string) {
	t.Helper()
	lab := testbed.Require(t, faultFirst+faultCount)
	var names []string
	for _, h := range lab.Hosts[faultFirst : faultFirst+faultCount] {
		names = append(names, h.Name)
	}
	clean := func() {
		for _, n := range names {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = lab.Thaw(ctx, n)
			if testbed.Status(lab)[n] == "not running" {
				if err := lab.Restart(ctx, n); err != nil {
					t.Errorf("booting %s again: %v", n, err)
				}
			}
			if _, err := lab.Exec(ctx, n, `umount /opt/big 2>/dev/null; rm -rf /opt/fault /opt/big /var/cache/perfprov /etc/sudoers.d/10-lab-bob.off
pkill -x sleep; : > /run/lock/perfprov.lock 2>/dev/null; groupdel fperf 2>/dev/null
printf '%s\n' 'bob ALL=(ALL:ALL) ALL' > /etc/sudoers.d/10-lab-bob; chmod 0440 /etc/sudoers.d/10-lab-bob; exit 0`); err != nil {
				t.Errorf("cleaning %s: %v", n, err)
			}
			cancel()
		}
	}
	clean()
	t.Cleanup(clean)
	return lab, names
}

// faultInventory is an inventory of hosts with a 1s keepalive (a frozen host is reported after
// 3s) and extra connection attributes.
func faultInventory(t *testing.T, lab *testbed.Lab, extra string, names ...string) string {
	t.Helper()
	p := inventory(t, lab, "", names...)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("  host_key_checking"), []byte("  keepalive = \"1s\"\n"+extra+"  host_key_checking"), 1)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// applyEvent is the part of an apply -json line the fault cases read.
type applyEvent struct {
	Type, Host, Address, Action, Status, Message string
}

// liveApply is a perfprov apply -json running in the background.
type liveApply struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // everything, stdout and stderr
	events []applyEvent // the JSON lines so far, under mu
	done   chan struct{}
	code   int
	start  time.Time
}

// startApply starts `perfprov apply -auto-approve -json ARGS` in work with env added.
func startApply(t *testing.T, work string, env []string, args ...string) *liveApply {
	t.Helper()
	cmd := exec.Command(perfprovBin, append([]string{"apply", "-auto-approve", "-json"}, args...)...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CACHE_HOME="+filepath.Join(work, "cache"),
		"XDG_RUNTIME_DIR="+filepath.Join(work, "run"))
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &liveApply{cmd: cmd, done: make(chan struct{}), start: time.Now()}
	cmd.Stderr = lockedBuf{a}
	if err := os.MkdirAll(filepath.Join(work, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var e applyEvent
			isEvent := json.Unmarshal(sc.Bytes(), &e) == nil
			a.mu.Lock()
			a.out.Write(append(sc.Bytes(), '\n'))
			if isEvent {
				a.events = append(a.events, e)
			}
			a.mu.Unlock()
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			a.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				a.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			a.code = -1
		}
		close(a.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-a.done
	})
	return a
}

type lockedBuf struct{ a *liveApply }

func (l lockedBuf) Write(p []byte) (int, error) {
	l.a.mu.Lock()
	defer l.a.mu.Unlock()
	return l.a.out.Write(p)
}

// waitStart waits until each of hosts has started applying addr (an apply_start event).
func (a *liveApply) waitStart(t *testing.T, addr string, hosts ...string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a.mu.Lock()
		started := map[string]bool{}
		for _, e := range a.events {
			if e.Type == "apply_start" && e.Address == addr {
				started[e.Host] = true
			}
		}
		a.mu.Unlock()
		n := 0
		for _, h := range hosts {
			if started[h] {
				n++
			}
		}
		if n == len(hosts) {
			return
		}
		select {
		case <-a.done:
			t.Fatalf("the apply ended before %v started %s:\n%s", hosts, addr, a.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not start %s within 2 minutes:\n%s", hosts, addr, a.output())
		}
	}
}

// wait waits for the apply to end and returns its result.
func (a *liveApply) wait(t *testing.T, limit time.Duration) result {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(limit):
		_ = a.cmd.Process.Kill()
		<-a.done
		t.Fatalf("the apply did not end within %s:\n%s", limit, a.output())
	}
	return result{code: a.code, out: a.output(), duration: time.Since(a.start)}
}

func (a *liveApply) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// summaries are the host_summary events of an apply -json output, by host.
func summaries(out string) map[string]applyEvent {
	m := map[string]applyEvent{}
	for _, line := range strings.Split(out, "\n") {
		var e applyEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Type == "host_summary" {
			m[e.Host] = e
		}
	}
	return m
}

// checkOutcome asserts that every good host converged and the bad one did not, with a one-line
// cause containing each of want.
func checkOutcome(t *testing.T, r result, good []string, bad string, want ...string) {
	t.Helper()
	sum := summaries(r.out)
	for _, h := range good {
		if s := sum[h].Status; s != "changed" && s != "ok" {
			t.Errorf("%s, a healthy host, ended %q (%s)", h, s, sum[h].Message)
		}
	}
	if bad == "" {
		return
	}
	s, ok := sum[bad]
	if !ok || s.Status == "changed" || s.Status == "ok" {
		t.Errorf("the faulty host %s ended %+v; output:\n%s", bad, s, r.out)
		return
	}
	cause := s.Message
	if cause == "" { // a resource failed: its apply_errored line has the cause
		for _, line := range strings.Split(r.out, "\n") {
			var e applyEvent
			if json.Unmarshal([]byte(line), &e) == nil && e.Type == "apply_errored" && e.Host == bad {
				cause = e.Message
				break
			}
		}
	}
	if strings.Contains(cause, "\n") || cause == "" || strings.HasSuffix(cause, ": EOF") {
		t.Errorf("%s's cause is not one line in words: %q", bad, cause)
	}
	for _, w := range want {
		if !strings.Contains(cause, w) {
			t.Errorf("%s's cause %q lacks %q", bad, cause, w)
		}
	}
}

// checkClean asserts from inside each host what a fault must never leave: temporary files of an
// upload or an unpack, a held or half-written lock, and a file with capabilities that others may
// execute or write.
func checkClean(t *testing.T, lab *testbed.Lab, names ...string) {
	t.Helper()
	for _, n := range names {
		left := hostExec(t, lab, n, `find /opt /var/cache/perfprov -xdev \( -name '.*.perfprov-*' -o -name '.perfprov-src.*' -o -name '.perfprov-old.*' \) 2>/dev/null; exit 0`)
		if left != "" {
			t.Errorf("%s: leftovers:\n%s", n, left)
		}
		if out, ok := hostTry(t, lab, n, "flock -n /run/lock/perfprov.lock true"); !ok {
			t.Errorf("%s: the lock is still held after the runs: %s", n, out)
		}
		bad := hostExec(t, lab, n, `getcap -r /opt /usr/local /srv 2>/dev/null | while read -r f caps; do
  [ -n "$(find "$f" -perm /0022 -o -perm /0001)" ] && echo "$f $caps $(stat -c %A "$f")"; done; exit 0`)
		if bad != "" {
			t.Errorf("%s: files with capabilities that others may execute or write:\n%s", n, bad)
		}
	}
}

// converge runs a second apply after the fault is cleared: every host converges.
func converge(t *testing.T, work, inv, spec string, env []string, names ...string) result {
	t.Helper()
	r := perfprovEnv(t, work, env, "apply", "-auto-approve", "-json", "-inventory", inv, spec)
	mustCode(t, r, 0, "the apply after the fault")
	checkOutcome(t, r, names, "")
	return r
}
