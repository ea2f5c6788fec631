package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// benchFakeConn answers like a host: the facts script (run as the login user), the member's
// benchmark script and the non-member's probe, with recorded outputs of the bench package's
// testdata.
type benchFakeConn struct {
	name    string
	fixture string // testdata/script/NAME of the bench package
	fail    error  // every Run fails with it (a broken connection)
}

func (c *benchFakeConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if c.fail != nil {
		return nil, c.fail
	}
	dir := filepath.Join(repoRoot, "provision", "bench", "testdata", "script")
	var file string
	switch {
	case cmd.RunAs == "":
		file = filepath.Join(repoRoot, "provision", "facts", "testdata", "debian12-vm-nopmu.out")
	case cmd.RunAs == "nobody":
		file = filepath.Join(dir, c.fixture+".nonmember.txt")
	default:
		file = filepath.Join(dir, c.fixture+".member.txt")
	}
	out, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return &transport.Result{Stdout: out}, nil
}

// repoRoot is the module's root, resolved before any test changes the working directory.
var repoRoot = func() string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}()

func (c *benchFakeConn) Upload(context.Context, string, io.Reader, fs.FileMode) error { return nil }
func (c *benchFakeConn) Download(context.Context, string, io.Writer) error            { return nil }
func (c *benchFakeConn) Host() string                                                 { return c.name }
func (c *benchFakeConn) Close() error                                                 { return nil }

const benchSpec = `host "bm-1" {
  address = "127.0.0.1"
}

host "vm-1" {
  address = "127.0.0.2"
}

host "vm-2" {
  address = "127.0.0.3"
}

host "down" {
  address = "127.0.0.4"
}

group "vms" {
  hosts = ["vm-1", "vm-2"]
}

benchmark "counters" {
  run_as = "alice"
  perf   = "/opt/perf/bin/perf"
}
`

// benchFakes are the connections and the clock of a bench test's cliEnv.
type benchFakes struct {
	open func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error)
	now  func() time.Time
}

// withBench makes hosts answer with fixtures: bm-1 has a PMU and passes, vm-1 passes without a
// PMU, vm-2 lost its capabilities, down cannot be reached. The clock ticks a second a reading.
func withBench(fixtures map[string]string) *benchFakes {
	n := 0
	return &benchFakes{
		open: func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error) {
			f, ok := fixtures[h.Name]
			if !ok {
				return nil, fmt.Errorf("%s: dial tcp %s:22: connect: connection refused", h.Name, h.Address)
			}
			if f == "BROKEN" {
				return &benchFakeConn{name: h.Name, fail: fmt.Errorf("%s: ssh: connection lost", h.Name)}, nil
			}
			return &benchFakeConn{name: h.Name, fixture: f}, nil
		},
		now: func() time.Time { n++; return time.Date(2026, 11, 26, 18, 0, n, 0, time.UTC) },
	}
}

func benchDirs(t *testing.T) (sp, history string) {
	t.Helper()
	dir := t.TempDir()
	sp = filepath.Join(dir, "spec")
	os.Mkdir(sp, 0o755)
	if err := os.WriteFile(filepath.Join(sp, "main.hcl"), []byte(benchSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	return sp, filepath.Join(dir, "history")
}

// benchEnv is a cliEnv on fk's hosts and clock (nil: real ones).
func benchEnv(fk *benchFakes) (*cliEnv, *bytes.Buffer, *bytes.Buffer) {
	env, stdout, stderr := testEnv()
	env.interrupted = make(chan struct{})
	if fk != nil {
		env.open, env.now = fk.open, fk.now
	}
	return env, stdout, stderr
}

func TestBenchCommandTable(t *testing.T) {
	fk := withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"})
	sp, hist := benchDirs(t)
	env, stdout, stderr := benchEnv(fk)
	html := filepath.Join(t.TempDir(), "report.html")
	code := exitCode(runBench(context.Background(), env, []string{"-history", hist, "-html", html, sp}), env.stderr, "bench")
	if code != exitFailure {
		t.Errorf("exit %d, want 1 (vm-2 and down fail); stderr:\n%s", code, stderr)
	}
	out := stdout.String()
	for _, want := range []string{
		"HOST", "bm-1", "100000166/100000000", "pass-software-only",
		"vm-2: fail: /usr/bin/perf has no file capabilities",
		"down: fail: dial tcp 127.0.0.4:22: connect: connection refused",
		"4 hosts: 1 pass, 1 pass-software-only, 2 fail",
		"HTML report: " + html,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), "<table id=\"fleet\"") {
		t.Errorf("html: %v", err)
	}
	files, _ := bench.History(hist)
	if len(files) != 1 {
		t.Errorf("history: %v", files)
	}
}

func TestBenchCommandJSONAndLimit(t *testing.T) {
	fk := withBench(map[string]string{"vm-1": "good", "vm-2": "good"})
	sp, hist := benchDirs(t)
	env, stdout, stderr := benchEnv(fk)
	code := exitCode(runBench(context.Background(), env, []string{"-json", "-limit", "vms", "-history", hist, sp}), env.stderr, "bench")
	if code != exitOK {
		t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	lines := jsonBody(t, stdout.String(), "bench", view.StreamBench)
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout)
	}
	for i, host := range []string{"vm-1", "vm-2"} {
		var r bench.HostReport
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Host != host || r.Verdict != bench.PassSoftwareOnly || r.CapEff != "0000004400080000" || r.Benchmark != "counters" {
			t.Errorf("line %d: %+v", i, r)
		}
	}
}

// TestBenchCompare: the typical case, a host that lost its capabilities after a package upgrade.
func TestBenchCompare(t *testing.T) {
	sp, hist := benchDirs(t)
	fk := withBench(map[string]string{"vm-1": "good", "vm-2": "good"})
	env, _, _ := benchEnv(fk)
	if code := exitCode(runBench(context.Background(), env, []string{"-limit", "vms", "-history", hist, sp}), env.stderr, "bench"); code != exitOK {
		t.Fatalf("first run exit %d", code)
	}
	fk = withBench(map[string]string{"vm-1": "good", "vm-2": "no-caps"})
	fk.now = func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }
	env, stdout, _ := benchEnv(fk)
	code := exitCode(runBench(context.Background(), env, []string{"-compare", "-limit", "vms", "-history", hist, sp}), env.stderr, "bench")
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	out := stdout.String()
	for _, want := range []string{
		"Changes since 2026-11-26T18:00:",
		"vm-2/counters: verdict pass-software-only -> fail: /usr/bin/perf has no file capabilities",
		"vm-2/counters: CapEff 0000004400080000 -> 0000000000000000 (none)",
		"vm-2/counters: system-wide counting yes -> no",
		"vm-2/counters: non-member refused -> allowed",
		"vm-2/counters: event cycles: now downgraded to user-only (cycles:u)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vm-1/counters:") {
		t.Errorf("vm-1 did not change:\n%s", out)
	}
}

func TestBenchBrokenConnection(t *testing.T) {
	fk := withBench(map[string]string{"vm-1": "BROKEN", "vm-2": "good"})
	sp, hist := benchDirs(t)
	env, stdout, _ := benchEnv(fk)
	code := exitCode(runBench(context.Background(), env, []string{"-no-save", "-limit", "vms", "-history", hist, sp}), env.stderr, "bench")
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stdout.String(), "vm-1: fail: ") || !strings.Contains(stdout.String(), "ssh: connection lost") ||
		!strings.Contains(stdout.String(), "vm-2: pass-software-only") {
		t.Errorf("output:\n%s", stdout)
	}
	if files, _ := bench.History(hist); len(files) != 0 {
		t.Errorf("-no-save saved %v", files)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"-parallel", "-1", "."}, {"a", "b"}, {"-nope"}} {
		env, _, _ := benchEnv(nil)
		if code := exitCode(runBench(context.Background(), env, args), env.stderr, "bench"); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// A broken connection is that host's failure, named.
	r := benchFailed(&cliEnv{now: time.Now}, "h", "b", errors.New("h: ssh: handshake failed"), new(atomic.Bool))
	if r.Verdict != bench.Fail || r.Reason != "ssh: handshake failed" {
		t.Errorf("%+v", r)
	}
}

// TestBenchAfterApply: the hook of apply benchmarks the hosts that converged, reports the others
// as skipped, prints the table after the recap (or JSON events), saves the measured hosts, and
// a failed verdict fails the apply.
func TestBenchAfterApply(t *testing.T) {
	fk := withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"})
	sp, _ := benchDirs(t)
	s, diags := hcl.Load(sp, hcl.LoadOptions{Resources: resource.Schemas()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	t.Chdir(t.TempDir()) // the history goes to .perfprov/bench in the working directory
	run := &engine.Run{}
	for _, h := range s.Hosts {
		hr := &engine.HostRun{Name: h.Name, Host: h, Status: engine.StatusChanged}
		switch h.Name {
		case "vm-1":
			hr.Status = engine.StatusOK
		case "down":
			hr.Status, hr.Err = engine.StatusUnreachable, errors.New("down: dial tcp 127.0.0.4:22: connect: connection refused")
		}
		run.Hosts = append(run.Hosts, hr)
	}

	env, stdout, _ := benchEnv(fk)
	_, failed, stopped := benchAfterApply(context.Background(), env, s, sp, run, false, 0, false)
	if !slices.Equal(failed, []string{"vm-2"}) || stopped {
		t.Errorf("failed %q stopped %v, want vm-2's failure (it lost its caps)", failed, stopped)
	}
	out := stdout.String()
	for _, want := range []string{
		"Benchmark:", "bm-1: pass: hardware counters verified", "vm-1: pass-software-only",
		"vm-2: fail: /usr/bin/perf has no file capabilities",
		"down: skipped: not benchmarked: the host did not converge (unreachable): dial tcp 127.0.0.4:22: connect: connection refused",
		"4 hosts: 1 pass, 1 pass-software-only, 1 fail, 1 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	files, _ := bench.History(bench.DefaultHistoryDir)
	if len(files) != 1 {
		t.Fatalf("history: %v", files)
	}
	rec, err := bench.Load(files[0])
	if err != nil || len(rec.Reports) != 3 {
		t.Errorf("saved %v reports (want the 3 measured ones): %v", len(rec.Reports), err)
	}

	// -json: one "benchmark" event per host report, fields at the top level.
	fk = withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "good"})
	env, stdout, _ = benchEnv(fk)
	_, failed, _ = benchAfterApply(context.Background(), env, s, sp, run, true, 0, false)
	if len(failed) > 0 {
		t.Errorf("no host fails now; failed %q", failed)
	}
	verdicts := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var e struct {
			Type    string `json:"type"`
			Host    string `json:"host"`
			Verdict string `json:"verdict"`
			CapEff  string `json:"cap_eff"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Type != "benchmark" {
			t.Fatalf("line %q: %v", line, err)
		}
		verdicts[e.Host] = e.Verdict
	}
	if fmt.Sprint(verdicts) != "map[bm-1:pass down:skipped vm-1:pass-software-only vm-2:pass-software-only]" {
		t.Errorf("verdicts %v", verdicts)
	}

	// A plan that found nothing to change: hosts planned without error are converged.
	for _, h := range run.Hosts {
		if h.Name != "down" {
			h.Status = ""
		}
	}
	env, stdout, _ = benchEnv(fk)
	if _, failed, _ := benchAfterApply(context.Background(), env, s, sp, run, false, 0, true); len(failed) > 0 || !strings.Contains(stdout.String(), "1 pass, 2 pass-software-only, 0 fail, 1 skipped") {
		t.Errorf("in sync: failed %v\n%s", failed, stdout)
	}
}

// TestBenchHostUsesSpecCapsAndFacts: the expected CapEff is the set the spec's capabilities
// resource gives that perf, and the facts' paranoid-patch belief reaches the verdict.
func TestBenchHostUsesSpecCapsAndFacts(t *testing.T) {
	fk := withBench(map[string]string{"vm-1": "good"})
	dir := t.TempDir()
	sp := benchSpec + `
resource "capabilities" "perf" {
  path = "/opt/perf/bin/perf"
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog", "cap_ipc_lock"]
}
`
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(sp), 0o644)
	s, diags := hcl.Load(dir, hcl.LoadOptions{Resources: resource.Schemas()})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env, _, _ := benchEnv(fk)
	reps, _ := benchHosts(context.Background(), env, s, []*spec.Host{s.Host("vm-1")}, 1, bench.Options{NonMember: "nobody"})
	if len(reps) != 1 {
		t.Fatalf("%d reports", len(reps))
	}
	r := reps[0]
	// The recorded host runs perf without cap_ipc_lock: the spec asked for it, so it fails.
	if r.CapEffExpected != "0000004400084000" || r.Verdict != bench.Fail || !strings.Contains(r.Reason, "lacks cap_ipc_lock") {
		t.Errorf("expected %s: %s: %s", r.CapEffExpected, r.Verdict, r.Reason)
	}
	if r.DistroParanoidPatch == nil || !*r.DistroParanoidPatch {
		t.Errorf("the facts' distro_paranoid_patch did not reach the report: %v", r.DistroParanoidPatch)
	}
}
