package wanbench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// undoChanges is what BenchmarkChanges runs on the host itself (not through the proxy) before
// each timed apply, so that every apply makes the five changes of testdata/changes.
const undoChanges = "userdel -r chguser 2>/dev/null; for g in chg1 chg2 chg3; do groupdel $g 2>/dev/null; done; rmdir /opt/wanchg 2>/dev/null; true"

// BenchmarkChanges: an apply that changes five resources in two dependency levels (testdata/changes)
// on one host at L = 0, 50, 100 and 200 ms, fresh and kept, median of 3; round trips = slope. The
// issue's goal over a kept connection: 1 + the levels that changed (here 3). The apply also takes
// and releases the host's lock (engine.LockPath), in a session of its own.
func BenchmarkChanges(b *testing.B) {
	w := newWAN(b, 1)
	ctx := context.Background()
	t := target{hosts: w.hosts[:1], inventory: w.inventory1}
	keepParanoid(b)
	spec, err := filepath.Abs(filepath.Join("testdata", "changes"))
	if err != nil {
		b.Fatal(err)
	}
	host := w.lab.Hosts[0].Name
	b.Cleanup(func() { _, _ = w.lab.Exec(context.Background(), host, undoChanges) })
	apply := func(m mode, cache string) (time.Duration, error) {
		if out, err := w.lab.Exec(ctx, host, undoChanges); err != nil {
			return 0, fmt.Errorf("undo: %w: %s", err, out)
		}
		if m == kept {
			// A run that changed a host lets its connection go (the login's groups may have
			// changed): an untimed run opens the one the timed apply keeps.
			if _, _, err := w.perfprov(ctx, m, cache, "facts", "-json", t.inventory); err != nil {
				return 0, err
			}
		}
		start := time.Now()
		out, _, err := w.perfprov(ctx, m, cache, "apply", "-auto-approve", "-json", "-inventory", t.inventory, spec)
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if n := strings.Count(string(out), `"status":"changed"`); n < 5 {
			return 0, fmt.Errorf("apply changed %d resources, want 5:\n%s", n, out)
		}
		return d, nil
	}
	for i := 0; i < b.N; i++ {
		var med [2][]time.Duration
		for _, rtt := range rtts() {
			if err := w.setRTT(ctx, time.Duration(rtt)*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			for _, m := range []mode{fresh, kept} {
				cache := filepath.Join(w.dir, "cache-changes-"+m.String())
				if _, err := apply(m, cache); err != nil { // warm: caches, and the kept connection
					b.Fatalf("%s warm-up: %v", m, err)
				}
				var ds []time.Duration
				for range runs {
					d, err := apply(m, cache)
					if err != nil {
						b.Fatalf("%s: %v", m, err)
					}
					ds = append(ds, d)
				}
				progress(w, 1, "apply of 5 changes in 2 levels", m, ds)
				med[m] = append(med[m], Median(ds))
			}
		}
		var out strings.Builder
		fmt.Fprintf(&out, "\nAn apply of 5 changes in 2 dependency levels (testdata/changes), 1 host (median of %d at each L = %s ms; round trips = slope)\n\n", runs, joinInts(rtts()))
		out.WriteString("| apply of testdata/changes | round trips | goal | time at L=100 ms |\n|---|---|---|---|\n")
		at100 := indexOf(rtts(), 100)
		for _, m := range []mode{fresh, kept} {
			rt, err := roundTrips(med[m])
			if err != nil {
				b.Fatal(err)
			}
			goal := "login + 3"
			if m == kept {
				goal = "<= 3 (1 + 2 levels)"
			}
			fmt.Fprintf(&out, "| %s | %.1f | %s | %.2f s |\n", m, rt, goal, med[m][at100].Seconds())
			b.ReportMetric(rt, "rt-changes-"+m.String())
		}
		fmt.Print(out.String())
	}
}
