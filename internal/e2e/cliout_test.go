package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/streamcheck"
)

// cliout is the machine-output test's set-up on the lab: two real hosts (the second one's probe
// fails, so its last file is skipped and its benchmark not run after apply) and one that is
// unreachable (nothing listens on 127.0.0.1:1).
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
// Lines that starts with the format's header and validates, line by line, against the schema.
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
		{"apply", "apply", []string{"apply", "-auto-approve", "-json", "-inventory", c.inv, "-var", bad, c.spec}},
		{"bench", "bench", []string{"bench", "-json", "-no-save", "-inventory", c.inv, "-var", bad, c.spec}},
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
}
