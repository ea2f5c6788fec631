package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHistorySaveLoadPrevious(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	if rec, _, err := Previous(dir, fixedTime); err != nil || rec != nil {
		t.Fatalf("empty history: %v %v", rec, err)
	}
	reps := fleet(t)
	t1 := fixedTime
	t2 := fixedTime.Add(time.Hour)
	p1, err := Save(dir, &Record{Time: t1, Spec: "examples/fleet", Reports: reps})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p1) != "20261126T180000.000000000Z.json" {
		t.Errorf("file name %s", p1)
	}
	if _, err := Save(dir, &Record{Time: t2, Reports: reps[:1]}); err != nil {
		t.Fatal(err)
	}
	files, err := History(dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("History = %v, %v", files, err)
	}
	prev, path, err := Previous(dir, t2)
	if err != nil || prev == nil || path != p1 {
		t.Fatalf("Previous = %v %s %v", prev, path, err)
	}
	if len(prev.Reports) != len(reps) || prev.Reports[0].Host != "bare-metal-1" || prev.Spec != "examples/fleet" {
		t.Errorf("loaded %+v", prev)
	}
	if prev.Reports[0].Accuracy.InstructionsMeasured != reps[0].Accuracy.InstructionsMeasured {
		t.Error("accuracy did not survive the round trip")
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left %s", e.Name())
		}
	}
}

func TestCompare(t *testing.T) {
	old := fleet(t)
	cur := fleet(t)
	if ch := Compare(old, cur); len(ch) != 0 {
		t.Fatalf("identical runs differ: %v", ch)
	}
	// bare-metal-1 lost its capabilities after a package upgrade: CapEff 0, events downgraded.
	o := loadObs(t, "hw-pass")
	o.Start.CapEff, o.FileCaps, o.FileCapsText = 0, 0, ""
	for _, run := range []*StatRun{&o.Events} {
		allNotSupported(run)
	}
	o.PerfVersion, o.PerfSHA256 = "6.1.177", "0123456789abcdef0123"
	lost := Judge(&o, defaultExpect())
	lost.Host, lost.Benchmark = "bare-metal-1", "counters"
	cur[0] = lost
	old[0].PerfVersion, old[0].PerfSHA256 = "6.1.176", "fedcba9876543210fedc"
	cur = cur[:len(cur)-1] // vm-4 gone
	extra := *cur[1]
	extra.Host = "vm-9"
	cur = append(cur, &extra)

	ch := Compare(old, cur)
	var lines []string
	for _, c := range ch {
		lines = append(lines, c.Host+": "+c.What)
	}
	out := strings.Join(lines, "\n")
	for _, want := range []string{
		"bare-metal-1/counters: verdict pass -> fail: /opt/perf/bin/perf has no file capabilities",
		"bare-metal-1/counters: CapEff 0000004400080000 -> 0000000000000000 (none)",
		"bare-metal-1/counters: event cycles: counted -> not-supported (became unsupported)",
		"bare-metal-1/counters: perf version 6.1.176 -> 6.1.177",
		"bare-metal-1/counters: perf binary /opt/perf/bin/perf changed: sha256 fedcba987654 -> 0123456789ab",
		"vm-9/counters: new host: pass-software-only",
		"vm-4/counters: no longer benchmarked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("changes lack %q:\n%s", want, out)
		}
	}
}

func TestHistoryRecent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench")
	if recs, err := Recent(dir, fixedTime, 5); err != nil || recs != nil {
		t.Fatalf("empty history: %v %v", recs, err)
	}
	reps := fleet(t)
	for i := range 4 {
		if _, err := Save(dir, &Record{Time: fixedTime.Add(time.Duration(i) * time.Hour), Reports: reps[:i+1]}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		before time.Time
		n      int
		want   []int // the runs' host counts, oldest first
	}{
		{fixedTime.Add(10 * time.Hour), 10, []int{1, 2, 3, 4}},
		{fixedTime.Add(10 * time.Hour), 2, []int{3, 4}},
		{fixedTime.Add(3 * time.Hour), 10, []int{1, 2, 3}}, // a run at exactly t is not before it
		{fixedTime, 10, nil},
		{fixedTime.Add(10 * time.Hour), 0, nil},
	}
	for _, tc := range tests {
		recs, err := Recent(dir, tc.before, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, r := range recs {
			got = append(got, len(r.Reports))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Recent(%s, %d) = %v, want %v", tc.before.Format(time.RFC3339), tc.n, got, tc.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "20261126T190000.500000000Z.json"), []byte("{"), 0o644)
	recs, err := Recent(dir, fixedTime.Add(10*time.Hour), 10)
	if err == nil || !strings.Contains(err.Error(), "20261126T190000.500000000Z.json") || len(recs) != 4 {
		t.Errorf("a broken run: %d runs, %v", len(recs), err)
	}
}
