package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchHTMLHistory: the page draws the runs saved in -history before this one, with this one
// last; with none, it has no history chart; a run that cannot be read is left out, with a
// warning.
func TestBenchHTMLHistory(t *testing.T) {
	sp, hist := benchDirs(t)
	fk := withBench(map[string]string{"vm-1": "good", "vm-2": "good"})
	html := filepath.Join(t.TempDir(), "report.html")
	run := func() (string, string) {
		t.Helper()
		env, _, stderr := benchEnv(fk)
		if code := exitCode(runBench(context.Background(), env, []string{"-limit", "vms", "-history", hist, "-html", html, sp}), env.stderr, "bench"); code != exitOK {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		page, err := os.ReadFile(html)
		if err != nil {
			t.Fatal(err)
		}
		return string(page), stderr.String()
	}
	columns := func(page string) int { return strings.Count(page, `<g class="run">`) }

	page, _ := run()
	if strings.Contains(page, `<svg id="history"`) {
		t.Error("the first run's page has a history chart")
	}
	run()
	page, _ = run()
	if !strings.Contains(page, `<svg id="history"`) || columns(page) != 3 {
		t.Errorf("third run: history chart with %d columns, want 3", columns(page))
	}
	if !strings.Contains(page, ">this run</text>") || !strings.Contains(page, "Verdicts of the last 3 runs") {
		t.Error("the history chart does not mark this run")
	}

	if err := os.WriteFile(filepath.Join(hist, "20000101T000000.000000000Z.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	page, stderr := run()
	if columns(page) != 4 || !strings.Contains(stderr, "warning: the HTML report's history leaves out a run") || !strings.Contains(stderr, "20000101T000000.000000000Z.json") {
		t.Errorf("a broken run in the history: %d columns, stderr:\n%s", columns(page), stderr)
	}
}
