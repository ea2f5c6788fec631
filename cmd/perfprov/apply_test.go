package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// localSpec writes a spec for this machine (connection type "local") that only touches dir.
func localSpec(t *testing.T, dir string) string {
	t.Helper()
	specDir := t.TempDir()
	sp := `connection {
  type = "local"
}
host "here" {}

resource "directory" "d" {
  path = "` + dir + `/d"
  mode = "0750"
}

resource "file" "f" {
  path    = "${resource.directory.d.path}/f"
  content = "x\n"
  owner   = "` + applyTestUser(t) + `"
  group   = "` + applyTestGroup(t) + `"
}

resource "command" "c" {
  run     = "touch ` + dir + `/d/ran"
  creates = "` + dir + `/d/ran"
}
`
	if err := os.WriteFile(filepath.Join(specDir, "main.hcl"), []byte(sp), 0o600); err != nil {
		t.Fatal(err)
	}
	return specDir
}

func applyTestUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func applyTestGroup(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return g.Name
}

// applyCLI runs the command line in a working directory of the test's own: what a run leaves
// there (.perfprov/failed, .perfprov/logs) stays out of the source tree. Paths given must be
// absolute.
func applyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(t.TempDir())
	var out, errb bytes.Buffer
	code := realMain(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestApplyRefusesWithoutTerminal(t *testing.T) {
	sp := localSpec(t, t.TempDir())
	code, _, stderr := applyCLI(t, "apply", sp)
	if code != 1 || !strings.Contains(stderr, "-auto-approve") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = applyCLI(t, "apply", "-json", sp)
	if code != 2 || !strings.Contains(stderr, "needs -auto-approve") {
		t.Errorf("-json without -auto-approve: exit %d, stderr %q", code, stderr)
	}
}

// TestPlanApplyLocal runs plan and apply through the CLI on this machine, inside a temporary
// directory only.
func TestPlanApplyLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the facts script on this machine")
	}
	dir := t.TempDir()
	sp := localSpec(t, dir)
	audit := filepath.Join(t.TempDir(), "audit.log")

	code, out, stderr := applyCLI(t, "plan", "-detailed-exitcode", sp)
	if code != 2 || !strings.Contains(out, "+ directory.d") || !strings.Contains(out, "Plan: 2 to add, 1 to change, 0 unchanged on 1 host") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, stderr = applyCLI(t, "apply", "-auto-approve", "-json", "-audit-log", audit, sp)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, stderr)
	}
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		types[m["type"].(string)]++
	}
	if types["planned_change"] != 3 || types["apply_start"] != 3 || types["host_summary"] != 1 || types["summary"] != 1 {
		t.Errorf("event types %v", types)
	}
	b, err := os.ReadFile(audit)
	if err != nil || strings.Count(string(b), "\n") != 6 || strings.Count(string(b), `"outcome":"attempt"`) != 3 {
		t.Errorf("audit log: %v\n%s", err, b)
	}
	code, out, _ = applyCLI(t, "plan", "-detailed-exitcode", sp)
	if code != 0 || !strings.Contains(out, "0 to add, 0 to change, 3 unchanged") {
		t.Errorf("second plan: exit %d\n%s", code, out)
	}
	code, out, _ = applyCLI(t, "apply", "-auto-approve", "-audit-log", audit, sp)
	if code != 0 || !strings.Contains(out, "ok=3 changed=0") {
		t.Errorf("second apply: exit %d\n%s", code, out)
	}
}
