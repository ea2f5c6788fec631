// Package fleetbench measures whole perfprov runs against a lab of 20 real hosts, next to the
// reference every fleet admin knows: OpenSSH logging in to every host in parallel. The numbers are
// printed with their ratio; they are benchmarks (make bench), never timed tests.
package fleetbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/internal/testbin"
)

const fleetSize = 20

var perfprovBin string

func TestMain(m *testing.M) {
	var err error
	if perfprovBin, err = testbin.Perfprov("fleetbench"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testbed.Main(m)
}

// fanout runs each on every host in parallel and returns the wall time of the whole, or the
// first error.
func fanout(lab *testbed.Lab, each func(h *testbed.Host) error) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(lab.Hosts))
	for _, h := range lab.Hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := each(h); err != nil {
				errs <- fmt.Errorf("%s: %v", h.Name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return 0, err
	}
	return time.Since(start), nil
}

// opensshFanout logs in to every host with OpenSSH in parallel and runs `true`: the time a fleet
// admin pays before any work happens.
func opensshFanout(ctx context.Context, lab *testbed.Lab) (time.Duration, error) {
	return fanout(lab, func(h *testbed.Host) error {
		cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-i", lab.KeyPath,
			"-o", "UserKnownHostsFile="+lab.KnownHostsPath, "-o", "StrictHostKeyChecking=yes",
			"-o", "BatchMode=yes", "-p", fmt.Sprint(h.Port), "root@"+h.Address, "true")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ssh: %v: %s", err, out)
		}
		return nil
	})
}

// bareFanout is the floor the issue names: a plain golang.org/x/crypto/ssh client that connects to
// every host in parallel and runs `true` on each: one connection and one round trip per host, no
// process on the controller, nothing else.
func bareFanout(lab *testbed.Lab) (time.Duration, error) {
	pem, err := os.ReadFile(lab.KeyPath)
	if err != nil {
		return 0, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return 0, err
	}
	cb, err := knownhosts.New(lab.KnownHostsPath)
	if err != nil {
		return 0, err
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 30 * time.Second}
	return fanout(lab, func(h *testbed.Host) error {
		c, err := ssh.Dial("tcp", net.JoinHostPort(h.Address, strconv.Itoa(h.Port)), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			return err
		}
		return s.Run("true")
	})
}

// perfprovRun runs the perfprov binary with args and returns its wall time.
func perfprovRun(ctx context.Context, env []string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, perfprovBin, args...)
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("perfprov %v: %v\n%s", args, err, out)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func measure(b *testing.B, runs int, f func() (time.Duration, error)) []time.Duration {
	b.Helper()
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		d, err := f()
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// report prints a comparison line that make bench shows, and records the ratio as a metric.
func report(b *testing.B, what string, ours, openssh []time.Duration, goal float64, metric string) {
	ratio := median(ours).Seconds() / median(openssh).Seconds()
	verdict := "meets"
	if ratio > goal {
		verdict = "MISSES"
	}
	if metric == "bare-" {
		verdict = "the floor on this machine"
	}
	fmt.Printf("%-50s perfprov median %6.3fs (runs %v)  OpenSSH fan-out median %6.3fs (runs %v)  ratio %.2f (goal <= %.2f: %s)\n",
		what, median(ours).Seconds(), rounded(ours), median(openssh).Seconds(), rounded(openssh), ratio, goal, verdict)
	b.ReportMetric(ratio, metric+"ratio")
	b.ReportMetric(median(ours).Seconds(), metric+"perfprov-s")
	b.ReportMetric(median(openssh).Seconds(), "openssh-s")
}

func rounded(ds []time.Duration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%.2f", d.Seconds())
	}
	return out
}

// BenchmarkFacts: `perfprov facts` on 20 hosts against `ssh host true` to the same 20 hosts.
// Goal (issue 3): ratio <= 0.5. Two perfprov figures: runs that log in to every host (connection
// persist off), and runs that find the connections an earlier run kept open (the default).
func BenchmarkFacts(b *testing.B) {
	lab := testbed.Require(b, fleetSize)
	ctx := context.Background()
	cache := b.TempDir()
	env := []string{"XDG_CACHE_HOME=" + cache, "XDG_RUNTIME_DIR=" + cache}
	for i := 0; i < b.N; i++ {
		cold, err := perfprovRun(ctx, env, "facts", "-json", lab.InventoryPath)
		if err != nil {
			b.Fatal(err)
		}
		openssh := measure(b, 5, func() (time.Duration, error) { return opensshFanout(ctx, lab) })
		bare := measure(b, 5, func() (time.Duration, error) { return bareFanout(lab) })
		login := measure(b, 5, func() (time.Duration, error) {
			return perfprovRun(ctx, append(env, "PERFPROV_PERSIST=0"), "facts", "-json", lab.InventoryPath)
		})
		kept := measure(b, 5, func() (time.Duration, error) {
			return perfprovRun(ctx, env, "facts", "-json", lab.InventoryPath)
		})
		fmt.Printf("perfprov facts, %d hosts, first run (perf versions not cached, connection daemon started): %.3fs\n", len(lab.Hosts), cold.Seconds())
		report(b, "bare x/crypto client, connect + true:", bare, openssh, 0.5, "bare-")
		report(b, fmt.Sprintf("perfprov facts, %d hosts, logging in:", len(lab.Hosts)), login, openssh, 0.5, "login-")
		report(b, fmt.Sprintf("perfprov facts, %d hosts, connections kept:", len(lab.Hosts)), kept, openssh, 0.5, "")
	}
}
