package fleetbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/internal/testbed"
)

// The harness of the scale benchmarks (issue 13, "Fleets of 1,000 hosts, on 2 cores"): a lab
// (shared mode for 1,000 hosts), the no-op spec in a work directory, perfprov runs with their
// wall time, CPU and peak RSS, and the references fanned out with bounded parallelism.

const (
	// sharedPerRoot is how many hosts share a root filesystem in the scale labs' shared mode.
	sharedPerRoot = 250
	// refParallel bounds the references' fan-out (OpenSSH and the bare x/crypto client): 1,000
	// OpenSSH clients at once would need several GiB on the controller and the hosts together.
	refParallel = 100
	// keptIdle keeps the daemon's connections through the slowest stretch between two kept runs.
	keptIdle = "PERFPROV_PERSIST=10m"
)

// scaleLab is a lab with a work directory holding the no-op spec, ready for perfprov runs.
type scaleLab struct {
	lab  *testbed.Lab
	work string // the spec, and XDG_RUNTIME_DIR/XDG_CACHE_HOME of every run
	spec string
}

// upScaleLab starts n hosts (shared mode when shared > 1), writes the spec and applies it once
// through one host per root (a change through one host shows on every host of its root; two
// applies into one /etc/group at once would fight over its lock). It is taken down at the end.
func upScaleLab(b *testing.B, n, shared int, prefix string) *scaleLab {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	start := time.Now()
	lab, err := testbed.Up(ctx, testbed.Options{Hosts: n, Shared: shared, Dir: filepath.Join(dir, "lab"), Prefix: prefix, Ephemeral: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := lab.Down(context.Background()); err != nil {
			b.Errorf("taking the scale lab down: %v", err)
		}
	})
	fmt.Printf("lab: %d hosts on %d root filesystem(s), up in %.1fs\n", n, len(lab.Roots()), time.Since(start).Seconds())
	s := &scaleLab{lab: lab, work: filepath.Join(dir, "work")}
	s.spec = filepath.Join(s.work, "spec")
	if err := os.MkdirAll(s.spec, 0o700); err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{
		{filepath.Join("testdata", "noop", "main.hcl"), "main.hcl"}, {"/usr/bin/true", "perf.elf"},
	} {
		data, err := os.ReadFile(f.from)
		if err == nil {
			err = os.WriteFile(filepath.Join(s.spec, f.to), data, 0o644)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	var firsts []string
	for _, r := range lab.Roots() {
		firsts = append(firsts, r[0].Name)
	}
	start = time.Now()
	if r := s.perfprov(b, []string{"PERFPROV_PERSIST=0"}, "apply", "-limit", strings.Join(firsts, ",")); r.ok+r.changed != len(firsts) {
		b.Fatalf("first apply through %d hosts: %d ok, %d changed, first failure: %s", len(firsts), r.ok, r.changed, r.first)
	}
	fmt.Printf("first apply through one host per root: %.1fs\n", time.Since(start).Seconds())
	return s
}

// runResult is one perfprov run.
type runResult struct {
	wall        time.Duration
	cpu         time.Duration // user + system time of perfprov's process
	maxRSS      int64         // KiB, the process's peak (wait4's rusage)
	ok, changed int           // hosts by their host_summary
	failed      int
	first       string // the first failure, or "-"
}

// perfprov runs perfprov's command (apply or plan, with -json and the inventory) on the lab.
func (s *scaleLab) perfprov(b *testing.B, env []string, cmd string, args ...string) runResult {
	b.Helper()
	full := append([]string{cmd, "-json", "-inventory", s.lab.InventoryPath}, args...)
	if cmd == "apply" {
		full = append(full, "-auto-approve")
	}
	full = append(full, s.spec)
	c := exec.Command(perfprovBin, full...)
	c.Dir = s.work
	c.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CACHE_HOME="+filepath.Join(s.work, "cache"), "XDG_RUNTIME_DIR="+s.runDir())
	c.Env = append(c.Env, env...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	start := time.Now()
	err := c.Run()
	r := runResult{wall: time.Since(start)}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		b.Fatalf("perfprov %v: %v", full, err)
	}
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r.ok, r.changed, r.failed, r.first = summaries(out.Bytes())
	if err != nil && r.failed == 0 {
		b.Fatalf("perfprov %v failed with no failed host: %v\n%s", full, err, errb.String())
	}
	return r
}

func (s *scaleLab) runDir() string {
	d := filepath.Join(s.work, "run")
	os.MkdirAll(d, 0o700)
	return d
}

// noop runs a no-op apply on every host and fails the benchmark unless every host is ok with
// nothing changed.
func (s *scaleLab) noop(b *testing.B, env []string, args ...string) runResult {
	b.Helper()
	r := s.perfprov(b, env, "apply", args...)
	if r.ok != len(s.lab.Hosts) {
		b.Fatalf("no-op apply %v %v: %d of %d hosts ok, %d changed, %d failed; first failure: %s", env, args, r.ok, len(s.lab.Hosts), r.changed, r.failed, r.first)
	}
	return r
}

// summaries counts the host_summary lines of a -json stream by status.
func summaries(stream []byte) (ok, changed, failed int, first string) {
	first = "-"
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e struct{ Type, Host, Status, Message string }
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Type != "host_summary" {
			continue
		}
		switch e.Status {
		case "ok":
			ok++
		case "changed":
			changed++
		default:
			if failed == 0 {
				first = e.Host + ": " + e.Message
			}
			failed++
		}
	}
	return ok, changed, failed, first
}

// daemon is the connection daemon of the lab's work directory: its PID and peak RSS (VmHWM, KiB).
func (s *scaleLab) daemon() (pid int, hwm int64) {
	want := []byte("\x00" + filepath.Join(s.runDir(), "perfprov") + "\x00")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cl, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(append([]byte("\x00"), cl...), want) || !bytes.Contains(cl, []byte("__persist")) {
			continue
		}
		pid, _ = strconv.Atoi(filepath.Base(filepath.Dir(p)))
		st, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		for _, line := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Sscanf(v, "%d", &hwm)
			}
		}
		return pid, hwm
	}
	return 0, 0
}

// stopDaemon ends the work directory's connection daemon, so that the next run logs in again.
func (s *scaleLab) stopDaemon() {
	pid, _ := s.daemon()
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 250 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// boundedFanout runs each on every host, at most par at once, and returns the wall time.
func boundedFanout(hosts []*testbed.Host, par int, each func(h *testbed.Host) error) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, par)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := each(h); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", h.Name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(start), first
}

// opensshTrue is `ssh host true` with the lab's key and strict known_hosts.
func opensshTrue(lab *testbed.Lab, h *testbed.Host) error {
	cmd := exec.Command("ssh", "-F", "/dev/null", "-i", lab.KeyPath,
		"-o", "UserKnownHostsFile="+lab.KnownHostsPath, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=60", "-p", strconv.Itoa(h.Port), "root@"+h.Address, "true")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ssh: %w: %s", err, out)
	}
	return nil
}

// bareLogin returns the floor client: a plain x/crypto dial, login and `true` on one host.
func bareLogin(lab *testbed.Lab) (func(h *testbed.Host) error, error) {
	pem, err := os.ReadFile(lab.KeyPath)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	cb, err := knownhosts.New(lab.KnownHostsPath)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 60 * time.Second}
	return func(h *testbed.Host) error {
		c, err := ssh.Dial("tcp", net.JoinHostPort(h.Address, strconv.Itoa(h.Port)), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		sess, err := c.NewSession()
		if err != nil {
			return err
		}
		return sess.Run("true")
	}, nil
}

// machineCPU reads the machine's busy and total jiffies (/proc/stat), to say how loaded all
// cores were during a run: the lab's hosts and whatever else runs here count too.
func machineCPU() (busy, total uint64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}
