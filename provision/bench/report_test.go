package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fixedTime = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// fleet judges the script fixtures as five hosts.
func fleet(t *testing.T) []*HostReport {
	t.Helper()
	var reps []*HostReport
	for _, c := range []struct{ host, fixture string }{
		{"bare-metal-1", "hw-pass"},
		{"vm-1", "good"},
		{"vm-2", "no-caps"},
		{"vm-3", "not-member"},
		{"vm-4", "nosuid"},
	} {
		o := loadObs(t, c.fixture)
		x := defaultExpect()
		x.NonMember = "daemon"
		r := Judge(&o, x)
		r.Host, r.Benchmark, r.Time = c.host, "counters", fixedTime
		reps = append(reps, r)
	}
	return reps
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, fleet(t)); err != nil {
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
	if *update {
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

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	reps := fleet(t)
	if err := WriteJSON(&b, reps); err != nil {
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
		if len(evs) != len(DefaultEvents) {
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
	var first HostReport
	json.Unmarshal([]byte(lines[0]), &first)
	if first.Host != "bare-metal-1" || first.Verdict != Pass || first.Accuracy.InstructionsMeasured != 100000166 {
		t.Errorf("first = %+v", first)
	}
}

func writeHTML(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, fleet(t), DefaultTolerance, fixedTime); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestHTMLSelfContained: the page must load nothing from anywhere.
func TestHTMLSelfContained(t *testing.T) {
	page := writeHTML(t)
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
	r := FailedReport("evil", "b", errString(`<script>alert(1)</script>`), fixedTime)
	var b bytes.Buffer
	if err := WriteHTML(&b, []*HostReport{r}, 0, fixedTime); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") {
		t.Error("reason not escaped")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// chromiumDOM loads the page at path in headless Chromium (Debian's chromium package, see
// the README's bench section) and returns the DOM it rendered. Under CI its absence is a failure.
func chromiumDOM(t *testing.T, path string) string {
	t.Helper()
	bin := ""
	for _, b := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(b); err == nil {
			bin = b
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium)")
		}
		t.Skip("chromium is not installed")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-extensions", "--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+path)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// renderedVerdicts maps each host (or host/benchmark) row of the rendered table to its verdict.
func renderedVerdicts(dom string) map[string]string {
	rows := regexp.MustCompile(`(?s)<tr class="([a-z-]+)"><td class="host">([^<]+)</td>`).FindAllStringSubmatch(dom, -1)
	got := map[string]string{}
	for _, r := range rows {
		got[r[2]] = r[1]
	}
	return got
}

// TestHTMLInChromium renders the page in headless Chromium and checks the rendered table and
// chart.
func TestHTMLInChromium(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.html")
	if err := os.WriteFile(path, []byte(writeHTML(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := chromiumDOM(t, path)
	// The rendered DOM holds the table with one row per host, each with its verdict.
	got := renderedVerdicts(dom)
	want := map[string]string{"bare-metal-1": "pass", "vm-1": "pass-software-only", "vm-2": "fail", "vm-3": "fail", "vm-4": "fail"}
	for h, v := range want {
		if got[h] != v {
			t.Errorf("rendered row %s: verdict %q, want %q (rows %v)", h, got[h], v, got)
		}
	}
	if !strings.Contains(dom, `<svg id="chart"`) || !strings.Contains(dom, `class="ok"`) {
		t.Error("the chart did not render")
	}
	if !strings.Contains(dom, "nosuid mount") {
		t.Error("the reasons are not in the rendered page")
	}
}
