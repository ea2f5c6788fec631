package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/spec"
)

// TestRunFailures: failed and unreachable hosts are to retry, and so is a host a plan could not
// read; hosts that converged, or that the run stopped before or during, are not.
func TestRunFailures(t *testing.T) {
	failedRes := &engine.ResourceResult{Status: engine.StatusFailed}
	run := &engine.Run{}
	for _, h := range []struct {
		name   string
		status engine.Status
		err    error
		res    []*engine.ResourceResult
	}{
		{"ok", engine.StatusOK, nil, nil},
		{"changed", engine.StatusChanged, nil, nil},
		{"failed", engine.StatusFailed, nil, []*engine.ResourceResult{failedRes}},
		{"down", engine.StatusUnreachable, errors.New("down: connection refused"), nil},
		{"later", engine.StatusNotStarted, nil, nil},
		{"stopped", engine.StatusInterrupted, nil, nil},
		{"planned", engine.StatusPlanned, nil, nil},
		{"unplanned", "", errors.New("unplanned: reading: EOF"), nil},
		{"badres", engine.StatusPlanned, nil, []*engine.ResourceResult{failedRes}},
	} {
		run.Hosts = append(run.Hosts, &engine.HostRun{Name: h.name, Host: &spec.Host{Name: h.name}, Status: h.status, Err: h.err, Resources: h.res})
	}
	if got, want := runFailures(run), []string{"failed", "down", "unplanned", "badres"}; !slices.Equal(got, want) {
		t.Errorf("runFailures = %q, want %q", got, want)
	}
	if got := union([]string{"b", "a"}, []string{"a", "c"}); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Errorf("union = %q", got)
	}
}

// TestBenchRetryFile: a bench with failures leaves their names in the retry file, -limit @FILE
// then runs exactly those hosts, a run without failures removes the file, and -limit @FILE
// without it is an error that says why it may be missing.
func TestBenchRetryFile(t *testing.T) {
	sp, hist := benchDirs(t)
	retry := filepath.Join(t.TempDir(), ".perfprov", "failed")
	bench := func(fixtures map[string]string, args ...string) (int, string, string) {
		env, stdout, stderr := benchEnv(withBench(fixtures))
		env.retryFile = retry
		args = append(append([]string{"-no-save", "-history", hist}, args...), sp)
		return exitCode(runBench(context.Background(), env, args), env.stderr, "bench"), stdout.String(), stderr.String()
	}

	code, _, stderr := bench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"})
	if code != exitFailure {
		t.Fatalf("exit %d, want 1 (vm-2 and down fail)", code)
	}
	b, err := os.ReadFile(retry)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "# perfprov bench at 2026-11-26T18:00:") ||
		!strings.Contains(lines[0], "2 hosts failed or unreachable (retry with -limit @"+retry+")") ||
		lines[1] != "vm-2" || lines[2] != "down" {
		t.Errorf("retry file:\n%s", b)
	}
	if want := "perfprov bench: 2 hosts failed or unreachable; to retry only them: perfprov bench -limit @" + retry + " ..."; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}

	// The retry: only vm-2 and down (which now answer), then the file is gone.
	code, out, stderr := bench(map[string]string{"vm-2": "good", "down": "good"}, "-limit", "@"+retry)
	if code != exitOK {
		t.Fatalf("retry: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "2 hosts: 0 pass, 2 pass-software-only, 0 fail") || strings.Contains(out, "bm-1") || strings.Contains(out, "vm-1") {
		t.Errorf("the retry ran other hosts than vm-2 and down:\n%s", out)
	}
	if _, err := os.Stat(retry); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run with no failure left the retry file: %v", err)
	}

	code, _, stderr = bench(nil, "-limit", "@"+retry)
	for _, want := range []string{"-limit @" + retry + ":", "no such file or directory", "remove it when none does: the last run left nothing to retry"} {
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("without the file: exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
}
