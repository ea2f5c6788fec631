package fleetbench

import (
	"fmt"
	"strconv"
	"testing"
)

// BenchmarkFleetParallel (issue 13): a no-op apply with fresh logins (PERFPROV_PERSIST=0) on
// 1,000 lab hosts (shared mode) at -parallel 20, 50, 100, 200 and 500: wall time, perfprov's CPU
// (user + system, and as a share of one core over the run), how busy the machine's cores were
// (hosts included), and the ratio to the bare x/crypto floor (measured once, refParallel at
// once). The
// default -parallel should keep the controller busy without starving handshakes: the
// figures are for choosing it. A few minutes; one run per setting.
// go test ./internal/fleetbench -run '^$' -bench FleetParallel -benchtime 1x
func BenchmarkFleetParallel(b *testing.B) {
	const hosts = 1000
	s := upScaleLab(b, hosts, sharedPerRoot, "s")
	login, err := bareLogin(s.lab)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		// Unmeasured: the first run over every host finds no perf version cached (the first
		// apply went through one host per root) and would cost the first setting more.
		warm := s.perfprov(b, []string{"PERFPROV_PERSIST=0"}, "apply")
		floor, err := boundedFanout(s.lab.Hosts, refParallel, login)
		if err != nil {
			b.Fatalf("bare fan-out: %v", err)
		}
		fmt.Printf("\nFleetParallel, %d hosts (shared mode: %d root filesystems of %d), no-op apply of testdata/noop with fresh logins;\n", hosts, len(s.lab.Roots()), sharedPerRoot)
		fmt.Printf("one run per setting; perfprov CPU = user + system of its process; machine busy = all cores, the lab's sshds included;\n")
		fmt.Printf("bare x/crypto floor (login + `true` per host, %d at once): %.2f s; an unmeasured first run (perf versions not cached yet, default -parallel): %.2f s\n\n",
			refParallel, floor.Seconds(), warm.wall.Seconds())
		fmt.Printf("| -parallel | perfprov wall | perfprov CPU | perfprov CPU / wall | machine busy | perfprov / floor | failed hosts |\n")
		fmt.Printf("|---|---|---|---|---|---|---|\n")
		for _, par := range []int{20, 50, 100, 200, 500} {
			busy0, total0 := machineCPU()
			r := s.perfprov(b, []string{"PERFPROV_PERSIST=0"}, "apply", "-parallel", strconv.Itoa(par))
			busy1, total1 := machineCPU()
			busyPct := 0.0
			if total1 > total0 {
				busyPct = 100 * float64(busy1-busy0) / float64(total1-total0)
			}
			fmt.Printf("| %d | %.2f s | %.1f s | %.0f %% of a core | %.0f %% | %.2fx | %d (first: %s) |\n",
				par, r.wall.Seconds(), r.cpu.Seconds(), 100*r.cpu.Seconds()/r.wall.Seconds(), busyPct,
				r.wall.Seconds()/floor.Seconds(), r.failed, r.first)
			b.ReportMetric(r.wall.Seconds(), "wall-s-parallel-"+strconv.Itoa(par))
		}
		fmt.Println()
	}
}
