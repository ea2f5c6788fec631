package bench_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
)

// The fleet table, JSON lines and HTML page of the benchmark's reports, as perfprov prints them
// (internal/view): the verdicts and their rendering checked together.

func TestWriteBenchTable(t *testing.T) {
	var b bytes.Buffer
	if err := view.WriteBenchTable(&b, bench.Fleet(t)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"HOST", "KERNEL", "PMU", "CAPEFF", "SYSTEM-WIDE", "cycles", "context-switches", "INSTRUCTIONS (MEASURED/EXPECTED)", "IPC", "VERDICT",
		"bare-metal-1", "100000166/100000000", "2.99", "pass-software-only",
		"vm-3: fail: user daemon is not a member of group nogroup",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	goldenText(t, "testdata/report/table.golden.txt", out)
}

func goldenText(t *testing.T, path, got string) {
	t.Helper()
	if *bench.UpdateGolden {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run go test -update after checking):\n%s", path, got)
	}
}

func TestWriteBenchJSON(t *testing.T) {
	var b bytes.Buffer
	reps := bench.Fleet(t)
	if err := view.WriteBenchJSON(&b, reps); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != len(reps) {
		t.Fatalf("%d lines for %d hosts", len(lines), len(reps))
	}
	for i, line := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for _, k := range []string{"host", "verdict", "reason", "cap_eff", "pmu", "events", "accuracy"} {
			if _, ok := obj[k]; !ok {
				t.Errorf("line %d lacks %q", i, k)
			}
		}
		evs, _ := obj["events"].([]any)
		if len(evs) != len(bench.DefaultEvents) {
			t.Errorf("line %d: %d events", i, len(evs))
		}
		for _, e := range evs {
			m := e.(map[string]any)
			for _, k := range []string{"name", "status", "value", "percent_running"} {
				if _, ok := m[k]; !ok {
					t.Errorf("line %d: event lacks %q: %v", i, k, m)
				}
			}
		}
	}
	var first bench.HostReport
	json.Unmarshal([]byte(lines[0]), &first)
	if first.Host != "bare-metal-1" || first.Verdict != bench.Pass || first.Accuracy.InstructionsMeasured != 100000166 {
		t.Errorf("first = %+v", first)
	}
}

func benchHTML(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := view.WriteBenchHTML(&b, view.BenchPage{Reports: bench.Fleet(t), Tolerance: bench.DefaultTolerance, Generated: bench.FixedTime}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestHTMLSelfContained: the page must load nothing from anywhere.
func TestHTMLSelfContained(t *testing.T) {
	page := benchHTML(t)
	for _, bad := range []string{"http:", "https:", "<script", "src=", "href=", "@import", "url(", "<link", "<iframe", "<img"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"<style>", "<svg", "<table id=\"fleet\"", "bare-metal-1", "tolerance"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	goldenText(t, "testdata/report/page.golden.html", page)
}

// A hostile reason (from a host's own output) is escaped.
func TestHTMLEscapes(t *testing.T) {
	r := bench.FailedReport("evil", "b", errString(`<script>alert(1)</script>`), bench.FixedTime)
	var b bytes.Buffer
	if err := view.WriteBenchHTML(&b, view.BenchPage{Reports: []*bench.HostReport{r}, Generated: bench.FixedTime}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") {
		t.Error("reason not escaped")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestHTMLInChromium renders the page in headless Chromium and checks the rendered table and
// chart.
func TestHTMLInChromium(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.html")
	if err := os.WriteFile(path, []byte(benchHTML(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := bench.ChromiumDOM(t, path)
	// The rendered DOM holds the table with one row per host, each with its verdict.
	got := bench.RenderedVerdicts(dom)
	want := map[string]string{"bare-metal-1": "pass", "vm-1": "pass-software-only", "vm-2": "fail", "vm-3": "fail", "vm-4": "fail"}
	for h, v := range want {
		if got[h] != v {
			t.Errorf("rendered row %s: verdict %q, want %q (rows %v)", h, got[h], v, got)
		}
	}
	if !strings.Contains(dom, `<svg id="accuracy"`) || !strings.Contains(dom, `class="ok"`) {
		t.Error("the chart did not render")
	}
	if !strings.Contains(dom, "nosuid mount") {
		t.Error("the reasons are not in the rendered page")
	}
}
