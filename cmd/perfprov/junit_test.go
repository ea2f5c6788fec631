package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joshdk/go-junit"
)

// junitCase is what a test expects of one testcase, as a JUnit parser reads it.
type junitCase struct {
	status  junit.Status
	message string // the failure's or skip's message ("" for a pass)
}

// readJUnit parses a -junit file with a JUnit XML parser (github.com/joshdk/go-junit) and returns
// its suites' testcases by "SUITE/NAME", checking that every testcase's classname is its suite
// (the host) and that each failure's message is one line.
func readJUnit(t *testing.T, path string) map[string]junitCase {
	t.Helper()
	suites, err := junit.IngestFile(path)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("parsing %s: %v\n%s", path, err, data)
	}
	got := map[string]junitCase{}
	for _, s := range suites {
		for _, c := range s.Tests {
			if c.Classname != s.Name {
				t.Errorf("%s/%s: classname %q, want the host", s.Name, c.Name, c.Classname)
			}
			if strings.Contains(c.Message, "\n") {
				t.Errorf("%s/%s: the message is not one line: %q", s.Name, c.Name, c.Message)
			}
			got[s.Name+"/"+c.Name] = junitCase{c.Status, c.Message}
		}
	}
	return got
}

func checkJUnit(t *testing.T, what string, got, want map[string]junitCase) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: no testcase %s (have %v)", what, k, got)
		case g.status != w.status || !strings.HasPrefix(g.message, w.message):
			t.Errorf("%s: %s is %s %q, want %s %q", what, k, g.status, g.message, w.status, w.message)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d testcases, want %d: %v", what, len(got), len(want), got)
	}
}

// TestBenchJUnit: bench -junit FILE writes a testsuite per host and a testcase per benchmark
// block; a failed verdict fails with the reason, an unreachable host too.
func TestBenchJUnit(t *testing.T) {
	sp, hist := benchDirs(t)
	env, _, stderr := benchEnv(withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"}))
	f := filepath.Join(t.TempDir(), "bench.xml")
	if code := exitCode(runBench(context.Background(), env, []string{"-junit", f, "-no-save", "-history", hist, sp}), env.stderr, "bench"); code != exitFailure {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	checkJUnit(t, "bench -junit", readJUnit(t, f), map[string]junitCase{
		"bm-1/counters":  {junit.StatusPassed, ""},
		"vm-1/counters":  {junit.StatusPassed, ""},
		"vm-2/counters":  {junit.StatusFailed, "/usr/bin/perf has no file capabilities"},
		"down/benchmark": {junit.StatusFailed, "dial tcp 127.0.0.4:22: connect: connection refused"},
	})
	// A path that cannot be written (under a regular file) fails the command, naming the flag.
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	env, _, stderr = benchEnv(withBench(map[string]string{"bm-1": "hw-pass"}))
	if code := exitCode(runBench(context.Background(), env, []string{"-junit", filepath.Join(notDir, "bench.xml"), "-limit", "bm-1", "-no-save", "-history", hist, sp}), env.stderr, "bench"); code != exitFailure ||
		!strings.Contains(stderr.String(), "perfprov bench: -junit: writing ") {
		t.Errorf("an unwritable -junit: exit %d\n%s", code, stderr)
	}
}

// TestApplyJUnit: apply -junit FILE on this machine and an unreachable host: the host testcase
// fails with the one-line cause (the failed resource, or unreachable), each resource is a
// testcase (a failure with its cause, a skip with the failure it depended on), and the XML holds
// causes with markup characters intact.
func TestApplyJUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the facts script on this machine")
	}
	dir := t.TempDir()
	sp := filepath.Join(t.TempDir(), "main.hcl")
	body := `connection {
  type = "local"
}
host "here" {}
host "gone" {
  address = "127.0.0.1"
  port    = 1
  connection {
    type = "ssh"
    user = "nobody"
  }
}

resource "directory" "d" {
  path = "` + dir + `/${host.name}"
  mode = "0750"
}
resource "command" "bad" {
  run = "echo 'cannot <open> & \"x\"' >&2; echo second line >&2; exit 3"
}
resource "file" "after" {
  path       = "${resource.directory.d.path}/f"
  content    = "x\n"
  depends_on = [resource.command.bad]
}
`
	if err := os.WriteFile(sp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	f := filepath.Join(t.TempDir(), "apply.xml")
	code, out, errs := applyCLI(t, "apply", "-auto-approve", "-junit", f, sp)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	checkJUnit(t, "apply -junit", readJUnit(t, f), map[string]junitCase{
		"here/converged":   {junit.StatusFailed, `1 resource failed: command.bad: command failed (exit 3): cannot <open> & "x"`},
		"here/directory.d": {junit.StatusPassed, ""},
		"here/command.bad": {junit.StatusFailed, `command failed (exit 3): cannot <open> & "x"`},
		"here/file.after":  {junit.StatusSkipped, "command.bad failed"},
		"gone/converged":   {junit.StatusFailed, "unreachable: connect to 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
	})
	// A saved plan applied with -junit: the same testcases (gone could not be planned, so the plan
	// leaves it alone and it is not in the run).
	os.RemoveAll(filepath.Join(dir, "here"))
	plan := filepath.Join(t.TempDir(), "p.plan")
	applyCLI(t, "plan", "-out", plan, sp)
	if code, out, errs := applyCLI(t, "apply", "-junit", f, plan); code != exitFailure {
		t.Fatalf("apply -junit FILE PLANFILE: exit %d, want 1\n%s%s", code, out, errs)
	}
	checkJUnit(t, "apply -junit of a saved plan", readJUnit(t, f), map[string]junitCase{
		"here/converged":   {junit.StatusFailed, `1 resource failed: command.bad: command failed (exit 3): cannot <open> & "x"`},
		"here/directory.d": {junit.StatusPassed, ""},
		"here/command.bad": {junit.StatusFailed, `command failed (exit 3): cannot <open> & "x"`},
		"here/file.after":  {junit.StatusSkipped, "command.bad failed"},
	})
	// Converged: every testcase passes; the run is the second apply, with nothing to change.
	good := filepath.Join(t.TempDir(), "main.hcl")
	os.WriteFile(good, []byte(strings.Replace(strings.Replace(body, `echo 'cannot`, `true || echo 'cannot`, 1), "exit 3", "true", 1)), 0o644)
	for range 2 {
		if code, out, errs := applyCLI(t, "apply", "-auto-approve", "-limit", "here", "-junit", f, good); code != exitOK {
			t.Fatalf("apply of a good spec: exit %d\n%s%s", code, out, errs)
		}
	}
	got := readJUnit(t, f)
	for k, c := range got {
		if c.status != junit.StatusPassed {
			t.Errorf("converged: %s is %s %q", k, c.status, c.message)
		}
	}
	if len(got) != 4 {
		t.Errorf("converged: %d testcases, want the host and its 3 resources: %v", len(got), got)
	}
}
