package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joshdk/go-junit"

	"github.com/perfprov/perfprov/internal/streamcheck"
)

// cliout is the machine-output test's set-up on the lab: two real hosts (the second one's probe
// fails, so its last file is skipped, its capabilities undone and its benchmark not run after
// apply; bench then fails it) and one that is unreachable (nothing listens on 127.0.0.1:1).
type cliout struct {
	work, inv, spec string
	good, bad       string
	ck              *streamcheck.Checker
}

func newCliout(t *testing.T) *cliout {
	t.Helper()
	lab := lab3(t)
	keepParanoid(t)
	c := &cliout{work: t.TempDir(), good: lab.Hosts[0].Name, bad: lab.Hosts[1].Name,
		spec: filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "cliout")}
	clean := func() {
		for _, h := range []string{c.good, c.bad} {
			hostTry(t, lab, h, "rm -rf /opt/cliout; userdel -r cliout 2>/dev/null; groupdel cliout_perf 2>/dev/null; true")
		}
	}
	clean()
	t.Cleanup(clean)
	c.inv = inventory(t, lab, "host \"nowhere\" {\n  address = \"127.0.0.1\"\n  port    = 1\n}\n", c.good, c.bad)
	ck, err := streamcheck.New()
	if err != nil {
		t.Fatal(err)
	}
	c.ck = ck
	return c
}

// run runs perfprov in the test's working directory with the inventory and the bad host.
func (c *cliout) run(t *testing.T, args ...string) result {
	t.Helper()
	return perfprov(t, c.work, args...)
}

// stream checks a -json output against docs/json/perfprov.schema.json, saves it as name.json
// and returns its path.
func (c *cliout) stream(t *testing.T, what string, r result, stream string) string {
	t.Helper()
	got, n, err := c.ck.Stream([]byte(r.stdout))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != stream {
		t.Fatalf("%s: stream %q, want %q", what, got, stream)
	}
	t.Logf("%s: header and %d lines valid against the schema", what, n)
	p := filepath.Join(c.work, strings.ReplaceAll(what, " ", "-")+".json")
	if err := os.WriteFile(p, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMachineOutputOnLab: every -json stream of a real run on lab hosts (validate, plan
// -offline, facts, plan, apply with its benchmarks, bench, report of each, version) is JSON
// Lines that starts with the format's header and validates, line by line, against the schema;
// apply's and bench's -junit files, read by a JUnit parser, hold a testcase per host, resource
// and benchmark with the outcome and one-line cause of each.
func TestMachineOutputOnLab(t *testing.T) {
	c := newCliout(t)
	bad := "bad=" + c.bad
	for _, tc := range []struct {
		what   string
		args   []string
		code   int
		stream string
	}{
		{"validate", []string{"validate", "-json", "-inventory", c.inv, "-var", bad, c.spec}, 0, "validate"},
		{"plan offline", []string{"plan", "-offline", "-json", "-inventory", c.inv, "-var", bad, c.spec}, 0, "plan_offline"},
		{"version", []string{"version", "-json"}, 0, "version"},
	} {
		r := c.run(t, tc.args...)
		mustCode(t, r, tc.code, tc.what)
		c.stream(t, tc.what, r, tc.stream)
	}
	// Each of these fails as a whole: a host is unreachable (and, applied, one fails).
	streams := map[string]string{}
	for _, tc := range []struct {
		what, stream string
		args         []string
	}{
		{"facts", "facts", []string{"facts", "-json", "-inventory", c.inv, c.spec}},
		{"plan", "plan", []string{"plan", "-json", "-inventory", c.inv, "-var", bad, c.spec}},
		{"apply", "apply", []string{"apply", "-auto-approve", "-json", "-junit", filepath.Join(c.work, "apply.xml"), "-inventory", c.inv, "-var", bad, c.spec}},
		{"bench", "bench", []string{"bench", "-json", "-junit", filepath.Join(c.work, "bench.xml"), "-no-save", "-inventory", c.inv, "-var", bad, c.spec}},
	} {
		r := c.run(t, tc.args...)
		mustCode(t, r, 1, tc.what)
		streams[tc.what] = c.stream(t, tc.what, r, tc.stream)
		t.Logf("%s -json:\n%s", tc.what, r.stdout)
	}
	apply, _ := os.ReadFile(streams["apply"])
	for _, want := range []string{`"type":"apply_complete"`, `"type":"apply_errored","host":"` + c.bad + `"`, `"type":"apply_skipped"`,
		`"status":"unreachable"`, `"type":"benchmark","host":"` + c.good + `"`, `"verdict":"skipped"`} {
		if !strings.Contains(string(apply), want) {
			t.Errorf("apply -json lacks %s (what the test is for)", want)
		}
	}
	for what, p := range streams {
		r := c.run(t, "report", "-json", p)
		mustCode(t, r, 1, "report -json of "+what)
		c.stream(t, "report "+what, r, what)
	}
	// A saved plan: show -json prints it; apply -json FILE applies it (the bad host fails again).
	plan := filepath.Join(c.work, "p.plan")
	mustCode(t, c.run(t, "plan", "-out", plan, "-inventory", c.inv, "-var", bad, c.spec), 1, "plan -out")
	r := c.run(t, "show", "-json", plan)
	mustCode(t, r, 0, "show -json")
	c.stream(t, "show", r, "plan_file")
	r = c.run(t, "apply", "-json", plan)
	mustCode(t, r, 1, "apply -json FILE")
	c.stream(t, "apply plan", r, "apply")

	// -junit, read by a JUnit parser: a suite per host; apply's has the host, each resource and
	// each benchmark; bench's each benchmark.
	pass, skip, fail := junit.StatusPassed, junit.StatusSkipped, junit.StatusFailed
	want := map[string]junitWant{
		// The capabilities are undone on a host that fails after they were set (a half-set-up host
		// must not keep a privileged binary), so its benchmark then fails.
		c.bad + "/capabilities.perf":   {fail, "undone: the host failed after this change"},
		c.bad + "/converged":           {fail, "2 resources failed: capabilities.perf: undone: the host failed after this change; command.probe: command failed (exit 3): no probe on this host"},
		c.bad + "/command.probe":       {fail, "command failed (exit 3): no probe on this host"},
		c.bad + "/file.after_probe":    {skip, "command.probe failed"},
		c.bad + "/benchmark.counters":  {skip, "not benchmarked: the host did not converge (failed)"},
		"nowhere/converged":            {fail, "unreachable: connect to 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
		"nowhere/benchmark.counters":   {skip, "not benchmarked: the host did not converge (unreachable)"},
		c.good + "/converged":          {pass, ""},
		c.good + "/benchmark.counters": {pass, ""},
		c.good + "/command.probe":      {pass, ""},
		c.good + "/file.after_probe":   {pass, ""},
	}
	for _, r := range []string{"group.perf", "user.member", "directory.bin", "command.copy_perf", "permissions.perf", "capabilities.perf", "sysctl.paranoid"} {
		want[c.good+"/"+r] = junitWant{pass, ""}
		if _, ok := want[c.bad+"/"+r]; !ok {
			want[c.bad+"/"+r] = junitWant{pass, ""}
		}
	}
	checkJUnit(t, "apply -junit", filepath.Join(c.work, "apply.xml"), want)
	checkJUnit(t, "bench -junit", filepath.Join(c.work, "bench.xml"), map[string]junitWant{
		c.good + "/counters": {pass, ""},
		c.bad + "/counters":  {fail, "/opt/cliout/perf has no file capabilities"},
		"nowhere/benchmark":  {fail, "connect to 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused"},
	})
}

// junitWant is a testcase's status and the start of its message.
type junitWant struct {
	status  junit.Status
	message string
}

// checkJUnit parses a -junit file with a JUnit XML parser (github.com/joshdk/go-junit) and
// compares its testcases, by SUITE/NAME, with want: the same set, each with its status and
// one-line message; every testcase's classname is its suite's name (the host).
func checkJUnit(t *testing.T, what, path string, want map[string]junitWant) {
	t.Helper()
	suites, err := junit.IngestFile(path)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got := map[string]junitWant{}
	for _, s := range suites {
		for _, tc := range s.Tests {
			if tc.Classname != s.Name || strings.Contains(tc.Message, "\n") {
				t.Errorf("%s: %s/%s: classname %q, message %q", what, s.Name, tc.Name, tc.Classname, tc.Message)
			}
			got[s.Name+"/"+tc.Name] = junitWant{tc.Status, tc.Message}
		}
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g.status != w.status || !strings.HasPrefix(g.message, w.message) {
			t.Errorf("%s: %s is %+v, want %+v", what, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: an unexpected testcase %s %+v", what, k, g)
		}
	}
}
