package fleetbench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

// BenchmarkFleetScale (issue 13): a no-op apply of testdata/noop on 100 lab hosts (one root
// each) and on 1,000 (shared mode, 250 hosts to a root), against the references measured in the
// same run, and a table with the goals beside the figures:
//
//   - fresh logins (PERFPROV_PERSIST=0) against the bare x/crypto floor, one login and one
//     command per host: goal <= 1.3x;
//   - kept connections (the connection daemon) against OpenSSH `ssh host true`: goal <= 0.4x;
//   - the controller's peak RSS per host: perfprov's (wait4's ru_maxrss), plus the connection
//     daemon's VmHWM (/proc/PID/status, read before it is stopped) for kept runs: goal < 512 KiB;
//   - processes a no-op run starts on a host of its own root (the last PID of the host's PID
//     namespace before and after): goal <= 3 over a kept connection, and with a fresh login at
//     most 3 more than OpenSSH's `ssh host true` starts there.
//
// perfprov runs at its default -parallel; the references fan out at most refParallel at once.
// Medians of 3 runs at 100 hosts, one run at 1,000 (a few minutes). One size alone:
// go test ./internal/fleetbench -run '^$' -bench 'FleetScale/hosts=100$' -benchtime 1x
func BenchmarkFleetScale(b *testing.B) {
	for _, size := range []struct{ hosts, shared, runs int }{{100, 0, 3}, {1000, sharedPerRoot, 1}} {
		b.Run("hosts="+strconv.Itoa(size.hosts), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				scaleOnce(b, size.hosts, size.shared, size.runs)
			}
		})
	}
}

// scaleFigures are one size's measurements: medians over the runs.
type scaleFigures struct {
	bare, openssh    time.Duration
	fresh, kept      runResult
	daemonHWM        int64 // KiB
	procs            hostProcs
	hosts, roots, nr int
}

func scaleOnce(b *testing.B, hosts, shared, runs int) {
	s := upScaleLab(b, hosts, shared, "s")
	login, err := bareLogin(s.lab)
	if err != nil {
		b.Fatal(err)
	}
	f := scaleFigures{hosts: hosts, roots: len(s.lab.Roots()), nr: runs}
	var bare, openssh []time.Duration
	var fresh, kept []runResult
	// Kept connections first: the run that logs in through the daemon is also the one that
	// finds every host's perf version uncached (the first apply went through one host per
	// root), so no measured run pays for that.
	s.noop(b, []string{keptIdle})
	for i := 0; i < runs; i++ {
		kept = append(kept, s.noop(b, []string{keptIdle}))
	}
	_, f.daemonHWM = s.daemon()
	s.stopDaemon()
	for i := 0; i < runs; i++ {
		d, err := boundedFanout(s.lab.Hosts, refParallel, login)
		if err != nil {
			b.Fatalf("bare x/crypto fan-out: %v", err)
		}
		bare = append(bare, d)
		fresh = append(fresh, s.noop(b, []string{"PERFPROV_PERSIST=0"}))
		d, err = boundedFanout(s.lab.Hosts, refParallel, func(h *testbed.Host) error { return opensshTrue(s.lab, h) })
		if err != nil {
			b.Fatalf("OpenSSH fan-out: %v", err)
		}
		openssh = append(openssh, d)
	}
	f.bare, f.openssh = medianD(bare), medianD(openssh)
	f.fresh, f.kept = medianRun(fresh), medianRun(kept)
	f.procs = countProcesses(b, s)
	printScale(f)
	b.ReportMetric(f.fresh.wall.Seconds()/f.bare.Seconds(), "fresh/bare")
	b.ReportMetric(f.kept.wall.Seconds()/f.openssh.Seconds(), "kept/openssh")
	b.ReportMetric(float64(f.kept.maxRSS+f.daemonHWM)/float64(hosts), "kept-KiB/host")
}

func medianD(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianRun is the run of median wall time (its RSS and CPU go with it).
func medianRun(rs []runResult) runResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b runResult) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

func verdict(ok bool) string {
	if ok {
		return "meets"
	}
	return "MISSES"
}

func printScale(f scaleFigures) {
	mode := "one root filesystem per host"
	if f.roots < f.hosts {
		mode = fmt.Sprintf("shared mode: %d root filesystems of %d hosts", f.roots, sharedPerRoot)
	}
	perHost := func(kib int64) float64 { return float64(kib) / float64(f.hosts) }
	freshRatio := f.fresh.wall.Seconds() / f.bare.Seconds()
	keptRatio := f.kept.wall.Seconds() / f.openssh.Seconds()
	freshRSS, keptRSS := perHost(f.fresh.maxRSS), perHost(f.kept.maxRSS+f.daemonHWM)
	p := f.procs
	fmt.Printf("\nFleetScale, %d hosts (%s): no-op apply of testdata/noop (8 resources a host), perfprov at its default -parallel,\n", f.hosts, mode)
	fmt.Printf("references fanned out %d at once; median of %d run(s); timings on this machine, with the lab's hosts on the same cores\n\n", min(refParallel, f.hosts), f.nr)
	fmt.Printf("| %d hosts | measured | reference | ratio | goal | verdict |\n|---|---|---|---|---|---|\n", f.hosts)
	fmt.Printf("| bare x/crypto floor: login + `true` per host | %.2f s | | | | |\n", f.bare.Seconds())
	fmt.Printf("| OpenSSH `ssh host true` fan-out | %.2f s | | | | |\n", f.openssh.Seconds())
	fmt.Printf("| no-op apply, fresh logins (`PERFPROV_PERSIST=0`) | %.2f s (CPU %.1f s) | floor %.2f s | %.2fx | <= 1.3x | %s |\n",
		f.fresh.wall.Seconds(), f.fresh.cpu.Seconds(), f.bare.Seconds(), freshRatio, verdict(freshRatio <= 1.3))
	fmt.Printf("| no-op apply, kept connections (daemon) | %.2f s (CPU %.1f s) | OpenSSH %.2f s | %.2fx | <= 0.4x | %s |\n",
		f.kept.wall.Seconds(), f.kept.cpu.Seconds(), f.openssh.Seconds(), keptRatio, verdict(keptRatio <= 0.4))
	fmt.Printf("| controller peak RSS per host, fresh logins | %.0f KiB (perfprov %.1f MiB) | | | < 512 KiB | %s |\n",
		freshRSS, float64(f.fresh.maxRSS)/1024, verdict(freshRSS < 512))
	fmt.Printf("| controller peak RSS per host, kept connections | %.0f KiB (perfprov %.1f MiB + daemon %.1f MiB) | | | < 512 KiB | %s |\n",
		keptRSS, float64(f.kept.maxRSS)/1024, float64(f.daemonHWM)/1024, verdict(keptRSS < 512))
	fmt.Printf("| processes started on a host, kept connection | %d | | | <= 3 | %s |\n", p.kept, verdict(p.kept <= 3))
	fmt.Printf("| processes started on a host, fresh login | %d | OpenSSH `ssh host true`: %d | +%d | <= +3 | %s |\n",
		p.fresh, p.openssh, p.fresh-p.openssh, verdict(p.fresh-p.openssh <= 3))
	fmt.Printf("\nRSS: perfprov's ru_maxrss from wait4; the daemon's VmHWM (its peak over its life, the warm-up login run included).\n")
	fmt.Printf("Processes: the last PID of %s's PID namespace (a host of its own root) before and after one run, less %d for the read itself; threads count too.\n\n", p.host, p.overhead)
}

// hostProcs are the processes (PIDs) one run starts in a host's PID namespace.
type hostProcs struct {
	host                 string
	overhead             int // PIDs the ns_last_pid read itself takes
	openssh, fresh, kept int
}

// countProcesses counts, on a host with a root of its own (the scale lab's first host when it
// has one, else a one-host lab started for it), the PIDs a no-op run takes: OpenSSH `ssh host
// true`, perfprov with a fresh login, perfprov over a kept connection.
func countProcesses(b *testing.B, s *scaleLab) hostProcs {
	b.Helper()
	if len(s.lab.Roots()[0]) > 1 {
		s = upScaleLab(b, 1, 0, "p")
	}
	ctx := context.Background()
	h := s.lab.Hosts[0]
	lastPID := func() int {
		// PIDs are handed out in order within the namespace, so the PID of a shell started
		// there is its last PID. (/proc/sys/kernel/ns_last_pid, read through nsenter, says 1 on
		// the kernels tried: the shell's $$ is the same figure, read reliably.)
		out, err := s.lab.Exec(ctx, h.Name, `echo "$$"`)
		if err != nil {
			b.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			b.Fatalf("the host's last PID: %q", out)
		}
		return n
	}
	p := hostProcs{host: h.Name}
	a := lastPID()
	p.overhead = lastPID() - a
	count := func(run func()) int {
		before := lastPID()
		run()
		return lastPID() - before - p.overhead
	}
	limit := []string{"-limit", h.Name}
	// The steady state of a fleet that runs often: what the reads learn of the spec's file is
	// used once two reads seconds apart agreed (engine.MemoCache), and the run after that reads
	// with the facts, as the run before it did (a speculative read of the same scripts).
	s.perfprov(b, []string{keptIdle}, "apply", limit...)
	time.Sleep(3500 * time.Millisecond)
	s.perfprov(b, []string{keptIdle}, "apply", limit...)
	s.perfprov(b, []string{keptIdle}, "apply", limit...)
	p.openssh = count(func() {
		if err := opensshTrue(s.lab, h); err != nil {
			b.Fatal(err)
		}
	})
	p.fresh = count(func() { s.perfprov(b, []string{"PERFPROV_PERSIST=0"}, "apply", limit...) })
	p.kept = count(func() { s.perfprov(b, []string{keptIdle}, "apply", limit...) })
	s.stopDaemon()
	return p
}
