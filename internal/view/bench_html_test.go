package view

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

var htmlTime = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

func failing(host, reason string) *bench.HostReport {
	return &bench.HostReport{Host: host, Verdict: bench.Fail, Reason: reason}
}

func measured(host string, errPct, ipc float64) *bench.HostReport {
	v := bench.Pass
	if errPct > 1 {
		v = bench.Fail
	}
	return &bench.HostReport{Host: host, Verdict: v, Tolerance: 0.01, Accuracy: &bench.Accuracy{
		InstructionsExpected: 1e8, InstructionsMeasured: 1e8 * (1 + errPct/100), ErrorPercent: errPct, IPC: ipc}}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 5: 6, 9: 10, 11: 20, 116: 200, 500: 600, 801: 1000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestFailureReasons(t *testing.T) {
	tests := []struct {
		name string
		reps []*bench.HostReport
		want []string // "COUNT REASON: HOSTS"
		more int
	}{
		{"none", []*bench.HostReport{{Host: "a", Verdict: bench.Pass}}, nil, 0},
		{"same reason", []*bench.HostReport{failing("a", "no caps"), failing("b", "no caps"), failing("c", "nosuid")},
			[]string{"2 no caps: a, b", "1 nosuid: c"}, 0},
		{"numbers differ", []*bench.HostReport{
			failing("a", "connect to 10.0.0.1:22: timed out"), failing("b", "connect to 10.0.0.2:22: timed out"),
			failing("c", "off by 2.00% (tolerance 1.00%)"),
		}, []string{"2 connect to #: timed out: a, b", "1 off by 2.00% (tolerance 1.00%): c"}, 0},
		{"many hosts", []*bench.HostReport{failing("a", "x"), failing("b", "x"), failing("c", "x"), failing("d", "x"), failing("e", "x")},
			[]string{"5 x: a, b, c and 2 more"}, 0},
	}
	var many []*bench.HostReport
	var want []string
	for i := range maxReasons + 2 {
		many = append(many, failing(fmt.Sprintf("h%c", 'a'+i), fmt.Sprintf("reason %c", 'a'+i)))
		if i < maxReasons {
			want = append(want, fmt.Sprintf("1 reason %c: h%c", 'a'+i, 'a'+i))
		}
	}
	tests = append(tests, struct {
		name string
		reps []*bench.HostReport
		want []string
		more int
	}{"more than listed", many, want, 2})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, more := failureReasons(tc.reps)
			var lines []string
			for _, r := range got {
				lines = append(lines, fmt.Sprintf("%d %s: %s", r.Count, r.Reason, r.Hosts))
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.want) || more != tc.more {
				t.Errorf("got %q, %d more; want %q, %d more", lines, more, tc.want, tc.more)
			}
		})
	}
}

// binCounts is the count of each bin of a histogram, "ok/bad" where a bin stacks two classes.
func binCounts(c histChart) []string {
	var out []string
	for _, b := range c.Bars {
		out = append(out, b.Text)
	}
	return out
}

func TestAccuracyHistogram(t *testing.T) {
	reps := []*bench.HostReport{
		measured("a", 0.01, 2), measured("b", 0.04, 2), measured("c", 0.15, 3), // bins 0, 0, 1
		measured("d", 0.999, 3),                       // bin 9: within
		measured("e", 1.05, 1),                        // bin 10: beyond
		measured("f", 7, 9.5),                         // beyond twice the tolerance: the last bin
		{Host: "vm", Verdict: bench.PassSoftwareOnly}, // no counters: not drawn
	}
	samples := accuracySamples(reps, 0.01)
	c := accuracyHistogram(samples, 0.01, len(reps))
	want := make([]string, histBins+1)
	want[0], want[1], want[9], want[10], want[20] = "2", "1", "1", "1", "1"
	if got := binCounts(c); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bins %q, want %q", got, want)
	}
	if got := c.Bars[10].Segs[0].Class; got != "bad" {
		t.Errorf("a host beyond the tolerance is drawn %q", got)
	}
	if c.Marker != "tolerance 1%" || c.MarkerX <= c.Left || c.MarkerX >= c.Right {
		t.Errorf("marker %q at %.1f", c.Marker, c.MarkerX)
	}
	if !strings.Contains(c.Caption, "6 of 7 hosts measured the workload with hardware counters: 4 within tolerance, 2 beyond") {
		t.Errorf("caption %q", c.Caption)
	}
	ipc := ipcHistogram(samples)
	if top := ipc.XTicks[len(ipc.XTicks)-1].Text; top != "10" { // the axis reaches the largest IPC
		t.Errorf("IPC axis ends at %s", top)
	}
	if w := worstHosts(samples, 2); len(w) != 2 || w[0].Host != "f" || w[0].Within || w[1].Host != "e" {
		t.Errorf("worst %+v", w)
	}
	empty := accuracyHistogram(nil, 0.01, 3)
	if empty.Empty == "" || len(empty.Bars) != 0 {
		t.Errorf("no measured host: %+v", empty)
	}
}

func TestEventGroups(t *testing.T) {
	r := &bench.HostReport{Events: []bench.EventReport{
		{Name: "cycles", Status: string(bench.NotSupported)},
		{Name: "instructions", Status: string(bench.NotSupported)},
		{Name: "task-clock", Status: string(bench.Counted), PercentRunning: 100},
		{Name: "cs", Status: string(bench.Counted), PercentRunning: 100, Printed: "cs:u"},
		{Name: "page-faults", Status: "missing"},
	}}
	var got []string
	for _, g := range eventGroups(r) {
		got = append(got, g.Class+" "+g.Status+": "+g.Names)
	}
	want := []string{"ev-none n/s: cycles, instructions", "ev-ok ok: task-clock", "ev-bad ok:u: cs", "ev-none not run: page-faults"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups %q, want %q", got, want)
	}
}

func TestHistoryChart(t *testing.T) {
	var earlier []*bench.Record
	for i := range HistoryRuns + 5 {
		rec := &bench.Record{Time: htmlTime.Add(-time.Duration(HistoryRuns+5-i) * time.Hour)}
		for k := range i + 1 {
			v := bench.Pass
			if k == 0 {
				v = bench.Fail
			}
			rec.Reports = append(rec.Reports, &bench.HostReport{Host: fmt.Sprint(k), Verdict: v})
		}
		earlier = append(earlier, rec)
	}
	now := []*bench.HostReport{{Host: "a", Verdict: bench.Pass}, {Host: "b", Verdict: bench.PassSoftwareOnly}}
	c := buildHistoryChart(earlier, now, htmlTime)
	if len(c.Cols) != HistoryRuns {
		t.Fatalf("%d columns, want %d", len(c.Cols), HistoryRuns)
	}
	first, last := c.Cols[0], c.Cols[len(c.Cols)-1]
	if !last.Current || last.Date != "this run" || last.Top != "0 fail" || last.TopClass != "muted" {
		t.Errorf("this run's column: %+v", last)
	}
	// The oldest drawn is the 7th of 25 earlier runs (19 drawn): 7 hosts, 1 failing, at the bottom.
	if first.Date != "11-25" || first.Clock != "23:00" || first.Top != "1 fail" || first.Segs[0].Class != "fail" {
		t.Errorf("oldest column: %+v", first)
	}
	if !strings.Contains(first.Segs[0].Title, "7 hosts: 1 fail, 6 pass") {
		t.Errorf("tooltip %q", first.Segs[0].Title)
	}
	close := buildHistoryChart([]*bench.Record{{Time: htmlTime}}, now, htmlTime.Add(20*time.Second))
	if a, b := close.Cols[0].Clock, close.Cols[1].Clock; a != "18:00:00" || b != "18:00:20" {
		t.Errorf("runs 20 s apart read %s and %s", a, b)
	}
	if c.Right > float64(c.W) || c.Cols[len(c.Cols)-1].TextX > c.Right {
		t.Errorf("the columns leave the chart: %+v", c)
	}
}

// TestWriteBenchHTMLHistory: the history chart is drawn only when there is an earlier run.
func TestWriteBenchHTMLHistory(t *testing.T) {
	reps := []*bench.HostReport{measured("a", 0.01, 2)}
	for _, tc := range []struct {
		history []*bench.Record
		want    bool
	}{
		{nil, false},
		{[]*bench.Record{{Time: htmlTime.Add(-time.Hour), Reports: reps}}, true},
	} {
		var b bytes.Buffer
		if err := WriteBenchHTML(&b, BenchPage{Reports: reps, Generated: htmlTime, History: tc.history}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), `<svg id="history"`); got != tc.want {
			t.Errorf("%d earlier runs: history chart %v, want %v", len(tc.history), got, tc.want)
		}
	}
}
