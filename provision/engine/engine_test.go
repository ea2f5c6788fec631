package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBatchFraming(t *testing.T) {
	marker := newMarker()
	snippets := []string{
		"echo a=1; echo b=2",
		"echo partial; exit 3",
		"echo to-stderr >&2; echo out",
		"echo '@@perfprov-000000000000000000000000 END 3 0'; printf 'no newline'; printf 'err no newline' >&2",
		"cat; echo after-stdin", // stdin is closed: cat must not hang
		"exit 0",
		"cd / && echo moved; false", // in the script's shell: its status, and the directory restored
		"pwd",
		`echo "$LC_ALL"`, // what the snippets parse is in the C locale
	}
	// The snippets that exit run in subshells; the others in the script's shell (InShellReader).
	inShell := []bool{true, false, true, true, true, false, true, false, true}
	var out, stderr bytes.Buffer
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", batchScript(marker, "", snippets, inShell))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=de_DE.UTF-8")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("script: %v", err)
	}
	secs, errs := parseBatch(out.Bytes(), stderr.Bytes(), marker, len(snippets))
	want := []struct {
		stdout, stderr string
		status         int
	}{
		{"a=1\nb=2\n", "", 0},
		{"partial\n", "", 3},
		{"out\n", "to-stderr\n", 0},
		{"@@perfprov-000000000000000000000000 END 3 0\nno newline", "err no newline", 0},
		{"after-stdin\n", "", 0},
		{"", "", 0},
		{"moved\n", "", 1},
		{dir + "\n", "", 0},
		{"C\n", "", 0},
	}
	for i, w := range want {
		if errs[i] != nil {
			t.Errorf("section %d: %v", i, errs[i])
			continue
		}
		if string(secs[i].Stdout) != w.stdout || string(secs[i].Stderr) != w.stderr || secs[i].Status != w.status {
			t.Errorf("section %d = %q %q %d, want %q %q %d", i, secs[i].Stdout, secs[i].Stderr, secs[i].Status, w.stdout, w.stderr, w.status)
		}
	}
	// A cut-short output fails only the sections it lost.
	full := out.Bytes()
	cut := full[:bytes.Index(full, []byte(marker+" BEGIN 2"))]
	_, errs = parseBatch(cut, stderr.Bytes(), marker, len(snippets))
	if errs[0] != nil || errs[1] != nil || errs[2] == nil || errs[5] == nil {
		t.Errorf("cut output errors: %v", errs)
	}
}

// fleetRun plans and applies a fake fleet.
func fleetRun(t *testing.T, f *fakeFleet, opts Options) *Run {
	t.Helper()
	r := PlanAndApply(context.Background(), f.spec, f.hosts, opts)
	r.Close()
	return r
}

// failureRun applies a fleet of three hosts where one resource fails on h2, with an audit log;
// view_test.go renders its recap.
func failureRun(t *testing.T) (f *fakeFleet, r *Run, audit string) {
	t.Helper()
	dir := t.TempDir()
	f = newFleet(dir, 3,
		fakeDecl{name: "group", want: "perf_users"},
		fakeDecl{name: "build", want: "perf", deps: []string{"fake.group"}, fail: "make: *** [perf] Error 2", failOn: []string{"h2"}},
		fakeDecl{name: "perms", want: "0750", deps: []string{"fake.build"}},
		fakeDecl{name: "caps", want: "cap_perfmon=ep", deps: []string{"fake.perms"}},
		fakeDecl{name: "sysctl", want: "2"},
	)
	opts := f.options()
	audit = filepath.Join(dir, "audit.log")
	a, err := OpenAuditLog(audit)
	if err != nil {
		t.Fatal(err)
	}
	opts.Audit = a
	r = fleetRun(t, f, opts)
	a.Close()
	return f, r, audit
}

func TestFailureSkipsDependentsOnly(t *testing.T) {
	f, r, audit := failureRun(t)
	if r.Converged() {
		t.Fatal("a failed host must keep the run from converging")
	}
	for _, h := range r.Hosts {
		wantStatus := StatusChanged
		if h.Name == "h2" {
			wantStatus = StatusFailed
		}
		if h.Status != wantStatus {
			t.Errorf("%s: status %s, want %s", h.Name, h.Status, wantStatus)
		}
	}
	h2 := r.Hosts[1]
	got := map[string]Status{}
	for _, rr := range h2.Resources {
		got[rr.Addr] = rr.Status
	}
	want := map[string]Status{"fake.group": StatusChanged, "fake.build": StatusFailed, "fake.perms": StatusSkipped, "fake.caps": StatusSkipped, "fake.sysctl": StatusChanged}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("h2 %s: %s, want %s", k, got[k], v)
		}
	}
	if c := h2.Resources[3].Cause; !strings.Contains(c, "fake.build failed") {
		t.Errorf("caps skipped because %q", c)
	}
	// Audit: an attempt line before each change and its outcome after, the failure recorded.
	b, _ := os.ReadFile(audit)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2*(5+3+5) {
		t.Errorf("audit has %d lines, want 26:\n%s", len(lines), b)
	}
	outcomes := map[string]int{}
	for i, l := range lines {
		var rec auditRecord
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("audit line %d: %v", i+1, err)
		}
		outcomes[rec.Outcome]++
		if i == 0 && (rec.Host == "" || rec.Resource == "" || rec.Action != "create" || rec.After["value"] == "" || rec.Time == "" || rec.Outcome != "attempt") {
			t.Errorf("audit record %+v", rec)
		}
	}
	if outcomes["attempt"] != 13 || outcomes["failed"] == 0 || outcomes["attempt"] != outcomes["changed"]+outcomes["failed"] {
		t.Errorf("audit outcomes %v: want 13 attempts, each with an outcome, some failed", outcomes)
	}

	// Second run: the failing resource is fixed; everything converges, and the converged hosts
	// see nothing to change.
	f.spec.resources[1].fail = ""
	r = fleetRun(t, f, f.options())
	if !r.Converged() {
		for _, h := range r.Hosts {
			t.Errorf("second run: %s %s %v", h.Name, h.Status, h.Err)
		}
		t.FailNow()
	}
	if r.Hosts[0].Status != StatusOK || r.Hosts[1].Status != StatusChanged {
		t.Errorf("second run statuses %s %s", r.Hosts[0].Status, r.Hosts[1].Status)
	}
	// A no-op run: one command per host (the batched read; facts are faked here).
	r = fleetRun(t, f, f.options())
	for _, h := range r.Hosts {
		if n := f.conns[h.Name].runs.Load(); n != 1 {
			t.Errorf("%s: %d commands for a no-op run, want 1 batched read", h.Name, n)
		}
		if !f.conns[h.Name].closed.Load() {
			t.Errorf("%s: connection not closed", h.Name)
		}
	}
}

func TestVerificationCatchesAnApplyThatChangedNothing(t *testing.T) {
	f := newFleet(t.TempDir(), 1, fakeDecl{name: "liar", want: "x", noStick: true}, fakeDecl{name: "after", want: "y", deps: []string{"fake.liar"}})
	r := fleetRun(t, f, f.options())
	rr := r.Hosts[0].Resources[0]
	if rr.Status != StatusFailed || !strings.Contains(rr.Err.Error(), "still differs") {
		t.Fatalf("liar: %s %v", rr.Status, rr.Err)
	}
	if r.Hosts[0].Resources[1].Status != StatusSkipped {
		t.Error("a dependent of an unverified change must be skipped")
	}
}

// planRun plans two hosts: h1 with a create, a change, an unchanged, a sensitive and a broken
// resource, h2 down; view_test.go renders it. The caller closes the run.
func planRun(t *testing.T) *Run {
	t.Helper()
	dir := t.TempDir()
	f := newFleet(dir, 2,
		fakeDecl{name: "a", want: "1"},
		fakeDecl{name: "b", want: "2"},
		fakeDecl{name: "secret", want: "hunter2", sensitive: true},
		fakeDecl{name: "broken", want: "!prepare"},
	)
	f.down["h2"] = true
	os.WriteFile(filepath.Join(dir, "h1", "b"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(dir, "h1", "a"), []byte("1"), 0o644)
	return Plan(context.Background(), f.spec, f.hosts, f.options())
}

func TestPlanOutputAndPending(t *testing.T) {
	r := planRun(t)
	defer r.Close()
	if !r.HasChanges() || !r.HasErrors() {
		t.Errorf("HasChanges %v HasErrors %v", r.HasChanges(), r.HasErrors())
	}
	s := r.Summarize()
	if s.Add != 1 || s.Change != 1 || s.Unchanged != 1 || s.Unreachable != 1 {
		t.Errorf("summary %+v", s)
	}
}

// interruptedRun applies two hosts one at a time and interrupts during h1's first step;
// view_test.go renders its recap.
func interruptedRun(t *testing.T) *Run {
	t.Helper()
	f := newFleet(t.TempDir(), 2, fakeDecl{name: "slow", want: "1"}, fakeDecl{name: "next", want: "2"})
	block := make(chan struct{})
	f.spec.blocks["fake.slow"] = block
	intr := make(chan struct{})
	opts := f.options()
	opts.Rollout.Parallel = 1
	opts.Interrupted = intr
	var events []Event
	opts.Events = func(e Event) {
		events = append(events, e)
		if e.Type == EventApplyStart && e.Address == "fake.slow" {
			close(intr) // SIGINT while the first step is in flight
			close(block)
		}
	}
	return fleetRun(t, f, opts)
}

func TestInterruptFinishesStepInFlight(t *testing.T) {
	r := interruptedRun(t)
	if !r.Interrupted {
		t.Fatal("run not marked interrupted")
	}
	h1, h2 := r.Hosts[0], r.Hosts[1]
	if h1.Resources[0].Status != StatusChanged {
		t.Errorf("the step in flight must finish: %s %v", h1.Resources[0].Status, h1.Resources[0].Err)
	}
	if h1.Resources[1].Status != StatusNotStarted {
		t.Errorf("the next step must not start: %s", h1.Resources[1].Status)
	}
	if h2.Status != StatusNotStarted {
		t.Errorf("h2 must not start: %s", h2.Status)
	}
}

func TestEventsJSON(t *testing.T) {
	f := newFleet(t.TempDir(), 1, fakeDecl{name: "a", want: "1"}, fakeDecl{name: "s", want: "pw", sensitive: true})
	var buf bytes.Buffer
	opts := f.options()
	opts.Events = func(e Event) {
		e.Elapsed = 0
		b, _ := json.Marshal(e)
		buf.Write(append(b, '\n'))
	}
	fleetRun(t, f, opts)
	if strings.Contains(buf.String(), `"pw"`) {
		t.Error("sensitive value in events")
	}
	types := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		types[m["type"].(string)] = true
	}
	for _, ty := range []string{EventPlannedChange, EventApplyStart, EventApplyComplete, EventHostSummary} {
		if !types[ty] {
			t.Errorf("no %s event", ty)
		}
	}
}

var _ = time.Second
