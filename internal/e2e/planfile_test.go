package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSavedPlan: plan -out writes a 0600 file without the sensitive value; show prints it; apply
// FILE applies exactly it on the host that did not change and refuses, as stale, the host changed
// since (the others go on); a changed spec or a -var for a variable the plan fixes is refused.
func TestSavedPlan(t *testing.T) {
	lab, hs := faultHosts(t)
	a, b := hs[0], hs[1]
	const secret = "Pl4n-t0ken-UVW"
	undo := "rm -rf /opt/ppplan; groupdel ppplan 2>/dev/null; true"
	for _, h := range []string{a, b} {
		hostExec(t, lab, h, undo)
		t.Cleanup(func() { hostTry(t, lab, h, undo) })
	}
	work := t.TempDir()
	spec := filepath.Join(work, "spec")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "planfile", "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec, "main.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := filepath.Join(work, "secret.tfvars")
	if err := os.WriteFile(vars, []byte(`token = "`+secret+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := inventory(t, lab, "", a, b)
	plan := filepath.Join(work, "changes.plan")
	r := perfprov(t, work, "plan", "-out", plan, "-var-file", vars, "-var", "mode=0750", "-inventory", inv, spec)
	mustCode(t, r, 0, "plan -out")
	if !strings.Contains(r.stdout, "Saved the plan to "+plan) {
		t.Errorf("plan -out does not say where the plan went:\n%s", r.stdout)
	}
	st, err := os.Stat(plan)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %04o, want 0600", st.Mode().Perm())
	}
	if body, _ := os.ReadFile(plan); strings.Contains(string(body), secret) {
		t.Errorf("the plan file holds the sensitive value:\n%s", body)
	}
	show := perfprov(t, work, "show", plan)
	mustCode(t, show, 0, "show")
	for _, want := range []string{"Host " + a + ":", "+ group.pf", "+ file.token", "Plan: 6 to add"} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, show.stdout)
		}
	}
	if strings.Contains(show.out, secret) {
		t.Errorf("show prints the sensitive value")
	}
	sj := perfprov(t, work, "show", "-json", plan)
	mustCode(t, sj, 0, "show -json")
	if _, file, _ := strings.Cut(sj.stdout, "\n"); !strings.HasPrefix(sj.stdout, `{"format_version":"1.0","type":"version",`) ||
		!strings.HasPrefix(file, `{"format_version":"1.0","kind":"perfprov-plan"`) {
		t.Errorf("show -json is not the header line, then the plan file with its format version:\n%.300s", sj.stdout)
	}

	// A -var for a variable the plan fixes is a usage error.
	mustCode(t, perfprov(t, work, "apply", "-var", "mode=0700", plan), 2, "apply FILE -var of a fixed variable")

	// b changes after the plan: apply refuses it as stale and applies a.
	hostExec(t, lab, b, "groupadd ppplan")
	r = perfprov(t, work, "apply", plan)
	mustCode(t, r, 1, "apply of a plan stale on one host")
	want := "plan is stale: " + b + " changed since the plan was made (the read of group.pf"
	if !strings.Contains(r.out, want) {
		t.Errorf("no %q in:\n%s", want, r.out)
	}
	if got := hostExec(t, lab, a, "cat /opt/ppplan/token; stat -c ' %G %a' /opt/ppplan"); got != secret+" ppplan 750" {
		t.Errorf("%s after apply FILE: %q", a, got)
	}
	if _, ok := hostTry(t, lab, b, "test -e /opt/ppplan"); ok {
		t.Errorf("%s was changed though its plan was stale", b)
	}
	if strings.Contains(r.out, secret) {
		t.Errorf("apply FILE prints the sensitive value")
	}

	// The spec changes after the plan: apply refuses it as a whole.
	if err := os.WriteFile(filepath.Join(spec, "main.hcl"), append(src, []byte("\n# edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r = perfprov(t, work, "apply", plan)
	mustCode(t, r, 1, "apply of a plan whose spec changed")
	if !strings.Contains(r.out, "plan is stale: the spec changed since the plan was made ("+filepath.Join(spec, "main.hcl")+")") {
		t.Errorf("no word of the changed spec:\n%s", r.out)
	}
}
