package wanbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

// The benchmarks here are run by `make bench-wan` only (make bench leaves this package out: they
// take minutes). They print tables; nothing is asserted about the figures.

const (
	runs      = 3   // timed runs of each measurement; the median is kept
	fleetSize = 20  // hosts of the fan-out table
	fanoutRTT = 100 // ms: the round-trip time of the fan-out and Ansible tables
)

// rtts are the round-trip times of the fit, in milliseconds.
func rtts() []int { return []int{0, 50, 100, 200} }

func TestMain(m *testing.M) { testbed.Main(m) }

// BenchmarkRoundTrips: every operation on one host through a link of round-trip time L = 0, 50,
// 100 and 200 ms, fresh and kept, median of 3 at each L; round trips = the least-squares slope of
// the medians against L.
func BenchmarkRoundTrips(b *testing.B) {
	w := newWAN(b, 1)
	ctx := context.Background()
	t := target{hosts: w.hosts[:1], inventory: w.inventory1}
	w.setup(b, t)
	ops := operations(w)
	for i := 0; i < b.N; i++ {
		// medians[j][m][k]: operation j, mode m, rtts[k].
		medians := make([][2][]time.Duration, len(ops))
		for k, rtt := range rtts() {
			if err := w.setRTT(ctx, time.Duration(rtt)*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			for j, o := range ops {
				for _, m := range modesOf(o) {
					// The first run of each operation fills its caches (perf versions, read
					// scripts); a kept one also opens the connection the timed runs use.
					warm := m == kept || k == 0
					medians[j][m] = append(medians[j][m], Median(w.measure(b, o, m, t, j, warm, runs)))
				}
			}
		}
		printRoundTrips(b, ops, medians)
	}
}

// BenchmarkFanout: every operation on 20 hosts at L = 100 ms, fresh and kept, median of 3 (perfprov
// bench: one run), with its ratio to OpenSSH's fan-out (`ssh host true` to every host at once) of
// the same run.
func BenchmarkFanout(b *testing.B) {
	w := newWAN(b, fleetSize)
	ctx := context.Background()
	t := target{hosts: w.hosts, inventory: w.inventoryAll}
	w.setup(b, t)
	ops := operations(w)
	if err := w.setRTT(ctx, fanoutRTT*time.Millisecond); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		medians := make([][2]time.Duration, len(ops))
		for j, o := range ops {
			n := runs
			if o.heavy {
				n = 1
			}
			for _, m := range modesOf(o) {
				medians[j][m] = Median(w.measure(b, o, m, t, j, true, n))
			}
		}
		printFanout(b, ops, medians)
	}
}

// setup makes the lab hosts of t what the specs describe, so that every timed plan and apply
// changes nothing. It goes through the proxies at L = 0.
func (w *wan) setup(b *testing.B, t target) {
	b.Helper()
	keepParanoid(b)
	ctx := context.Background()
	if err := w.setRTT(ctx, 0); err != nil {
		b.Fatal(err)
	}
	for _, spec := range []string{w.specBench, w.specCommand, w.specNoCommand} {
		if err := w.converge(ctx, t, spec); err != nil {
			b.Fatalf("setup: %v", err)
		}
	}
}

func modesOf(o op) []mode {
	if o.keptToo {
		return []mode{fresh, kept}
	}
	return []mode{fresh}
}

// measure runs operation o (number j: its cache directory) in mode m, after one untimed run when
// warm, and returns the wall times of n timed runs.
func (w *wan) measure(b *testing.B, o op, m mode, t target, j int, warm bool, n int) []time.Duration {
	b.Helper()
	ctx := context.Background()
	cache := filepath.Join(w.dir, fmt.Sprintf("cache-%d-%d", len(t.hosts), j))
	if warm {
		if err := o.run(ctx, w, m, t, cache); err != nil {
			b.Fatalf("%s (%s, warm-up): %v", o.name, m, err)
		}
	}
	var ds []time.Duration
	for range n {
		d, err := timed(func() error { return o.run(ctx, w, m, t, cache) })
		if err != nil {
			b.Fatalf("%s (%s): %v", o.name, m, err)
		}
		ds = append(ds, d)
	}
	progress(w, len(t.hosts), o.name, m, ds)
	return ds
}

// progress prints one measurement as it is made: the tables come at the end of minutes.
func progress(w *wan, hosts int, what string, m mode, ds []time.Duration) {
	var s []string
	for _, d := range ds {
		s = append(s, fmt.Sprintf("%.3f", d.Seconds()))
	}
	fmt.Printf("  %d host(s), L = %3d ms, %-5s %s: %s s\n", hosts, w.rtt.Milliseconds(), m, what, strings.Join(s, " "))
}

// roundTrips fits the medians of one operation and mode against rtts.
func roundTrips(ds []time.Duration) (float64, error) {
	xs := make([]float64, len(ds))
	ys := make([]float64, len(ds))
	for k, d := range ds {
		xs[k] = float64(rtts()[k]) / 1000
		ys[k] = d.Seconds()
	}
	return Slope(xs, ys)
}

func printRoundTrips(b *testing.B, ops []op, medians [][2][]time.Duration) {
	var out strings.Builder
	fmt.Fprintf(&out, "\nRound trips, 1 host (toxiproxy latency on both directions; median of %d at each L = %s ms; round trips = least-squares slope of time against L)\n\n", runs, joinInts(rtts()))
	out.WriteString("| operation | round trips (fresh login) | round trips (kept connection) | time at L=100 ms (fresh / kept) |\n|---|---|---|---|\n")
	at100 := indexOf(rtts(), 100)
	for j, o := range ops {
		cells := [2]string{"-", "-"}
		times := [2]string{"-", "-"}
		for _, m := range modesOf(o) {
			rt, err := roundTrips(medians[j][m])
			if err != nil {
				b.Fatal(err)
			}
			cells[m] = fmt.Sprintf("%.1f", rt)
			times[m] = fmt.Sprintf("%.2f s", medians[j][m][at100].Seconds())
			b.ReportMetric(rt, fmt.Sprintf("rt-%s-%d", m, j))
		}
		timeCell := times[fresh]
		if o.keptToo {
			timeCell += " / " + times[kept]
		}
		fmt.Fprintf(&out, "| %s | %s | %s | %s |\n", o.name, cells[fresh], cells[kept], timeCell)
	}
	fmt.Fprintf(&out, "\nMedians (s) at each L:\n\n| operation | mode | %s |\n|---|---|%s\n", "L="+strings.Join(strings.Split(joinInts(rtts()), ", "), " | L="), strings.Repeat("---|", len(rtts())))
	for j, o := range ops {
		for _, m := range modesOf(o) {
			var cells []string
			for _, d := range medians[j][m] {
				cells = append(cells, fmt.Sprintf("%.3f", d.Seconds()))
			}
			fmt.Fprintf(&out, "| %s | %s | %s |\n", o.name, m, strings.Join(cells, " | "))
		}
	}
	fmt.Print(out.String())
}

func printFanout(b *testing.B, ops []op, medians [][2]time.Duration) {
	ref := medians[0][fresh] // OpenSSH's fan-out: the first row
	var out strings.Builder
	fmt.Fprintf(&out, "\nFan-out, %d hosts at L = %d ms (median of %d, perfprov bench: 1 run; perfprov with its own parallelism, OpenSSH and x/crypto to every host at once)\n\n", fleetSize, fanoutRTT, runs)
	out.WriteString("| operation | fresh login | / OpenSSH | kept connection | / OpenSSH |\n|---|---|---|---|---|\n")
	for j, o := range ops {
		cells := []string{"-", "-", "-", "-"}
		for _, m := range modesOf(o) {
			ratio := medians[j][m].Seconds() / ref.Seconds()
			cells[2*int(m)] = fmt.Sprintf("%.2f s", medians[j][m].Seconds())
			cells[2*int(m)+1] = fmt.Sprintf("%.2f", ratio)
			b.ReportMetric(ratio, fmt.Sprintf("ratio-%s-%d", m, j))
		}
		fmt.Fprintf(&out, "| %s | %s |\n", o.name, strings.Join(cells, " | "))
	}
	fmt.Print(out.String())
}

// ansibleGoal is the goal: a no-op Ansible run on 1 host at L = 100 ms takes at least
// this many times perfprov's no-op apply of the same desired state.
const ansibleGoal = 25

// BenchmarkAnsible: the no-op playbook testdata/ansible/noop.yml (the desired state of
// testdata/command) on one host at L = 0, 50, 100 and 200 ms, fresh and kept, next to perfprov
// apply of testdata/command at the same L in the same run, median of 3; round trips = the
// least-squares slope of the medians against L, as in BenchmarkRoundTrips; the ratio Ansible /
// perfprov at 100 ms against the goal.
func BenchmarkAnsible(b *testing.B) {
	w := newWAN(b, 1)
	ctx := context.Background()
	t := target{hosts: w.hosts[:1], inventory: w.inventory1}
	w.setup(b, t)
	a := newAnsible(b, w)
	keptDir := filepath.Join(a.dir, "cp-kept")
	b.Cleanup(func() { a.stopMasters(keptDir) })
	if err := os.MkdirAll(keptDir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := a.play(ctx, keptDir, true); err != nil {
		b.Fatalf("converging with Ansible: %v", err)
	}
	version, _ := exec.Command("ansible-playbook", "--version").Output()
	apply := op{name: "`perfprov apply`, nothing to change, spec with `command` resources", keptToo: true,
		run: perfprovApply(w.specCommand)}
	for i := 0; i < b.N; i++ {
		// med[who][m][k]: who 0 is Ansible, 1 perfprov; mode m; rtts()[k].
		var med [2][2][]time.Duration
		for k, rtt := range rtts() {
			if err := w.setRTT(ctx, time.Duration(rtt)*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			for _, m := range []mode{fresh, kept} {
				med[0][m] = append(med[0][m], Median(a.measure(b, m, runs)))
				med[1][m] = append(med[1][m], Median(w.measure(b, apply, m, t, 100, m == kept || k == 0, runs)))
			}
		}
		printAnsible(b, firstLine(version), med)
	}
}

// verdict says whether ratio reaches the goal.
func verdict(ratio float64) string {
	if ratio >= ansibleGoal {
		return "MEETS"
	}
	return "MISSES"
}

func printAnsible(b *testing.B, version string, med [2][2][]time.Duration) {
	var rt [2][2]float64
	for who := range med {
		for m := range med[who] {
			s, err := roundTrips(med[who][m])
			if err != nil {
				b.Fatal(err)
			}
			rt[who][m] = s
		}
	}
	at := indexOf(rtts(), fanoutRTT)
	ratio := func(m mode) float64 { return med[0][m][at].Seconds() / med[1][m][at].Seconds() }
	var out strings.Builder
	fmt.Fprintf(&out, "\nAnsible, 1 host, no-op (median of %d at each L = %s ms; round trips = least-squares slope of time against L; %s)\n\n", runs, joinInts(rtts()), version)
	fmt.Fprintf(&out, "| no-op run, 1 host | round trips (fresh login) | round trips (kept connection) | time at L=%d ms (fresh / kept) |\n|---|---|---|---|\n", fanoutRTT)
	names := []string{"Ansible `ansible-playbook` of testdata/ansible/noop.yml (pipelining, no facts; kept: ControlPersist)", "`perfprov apply` of testdata/command"}
	for who, name := range names {
		fmt.Fprintf(&out, "| %s | %.1f | %.1f | %.2f s / %.2f s |\n", name, rt[who][fresh], rt[who][kept], med[who][fresh][at].Seconds(), med[who][kept][at].Seconds())
	}
	fmt.Fprintf(&out, "| Ansible / perfprov | %.1f | %.1f | %.1f / %.1f |\n", rt[0][fresh]/rt[1][fresh], rt[0][kept]/rt[1][kept], ratio(fresh), ratio(kept))
	fmt.Fprintf(&out, "\nAnsible / perfprov at L=%d ms, goal >= %d: fresh login %.1f, %s; kept connection %.1f, %s\n",
		fanoutRTT, ansibleGoal, ratio(fresh), verdict(ratio(fresh)), ratio(kept), verdict(ratio(kept)))
	fmt.Fprintf(&out, "\nMedians (s) at each L:\n\n| run | mode | %s |\n|---|---|%s\n", "L="+strings.Join(strings.Split(joinInts(rtts()), ", "), " | L="), strings.Repeat("---|", len(rtts())))
	for who, name := range []string{"ansible-playbook", "perfprov apply"} {
		for m := range med[who] {
			var cells []string
			for _, d := range med[who][m] {
				cells = append(cells, fmt.Sprintf("%.3f", d.Seconds()))
			}
			fmt.Fprintf(&out, "| %s | %s | %s |\n", name, mode(m), strings.Join(cells, " | "))
		}
	}
	b.ReportMetric(ratio(kept), "ansible/perfprov-kept")
	b.ReportMetric(ratio(fresh), "ansible/perfprov-fresh")
	b.ReportMetric(rt[0][fresh], "ansible-rt-fresh")
	b.ReportMetric(rt[0][kept], "ansible-rt-kept")
	fmt.Print(out.String())
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
