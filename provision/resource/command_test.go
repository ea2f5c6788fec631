package resource

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestScriptSummary(t *testing.T) {
	tests := []struct{ in, want string }{
		{"make install", "make install"},
		{"  set -e\nmake\nmake install\n", "set -e … (3 lines)"},
		{strings.Repeat("x", 100), strings.Repeat("x", 71) + "…"},
	}
	for _, tt := range tests {
		if got := scriptSummary(tt.in); got != tt.want {
			t.Errorf("scriptSummary(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnlessReasonInPlan: a failing unless guard is why a command will run; its last line of
// output is shown in the plan, and a sensitive guard's output never is.
func TestUnlessReasonInPlan(t *testing.T) {
	c := &localConn{}
	check := "echo checking; echo 'member alice: CapEff 0000000000000000, expected 0000004400080000' >&2; echo; exit 1"
	r := mustNew(t, mkres("command", "verify", map[string]cty.Value{"run": s("true"), "unless": s(check)}), nil)
	_, d, err := diffLocal(t, c, r)
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != Update || len(d.Changes) != 1 || d.Changes[0].Old != "unless exited non-zero: member alice: CapEff 0000000000000000, expected 0000004400080000" {
		t.Errorf("diff = %+v", d)
	}

	res := mkres("command", "secret", map[string]cty.Value{"run": s("true"), "unless": s("echo hunter2; exit 1")})
	res.Sensitive["unless"] = true
	_, d, err = diffLocal(t, c, mustNew(t, res, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.Changes[0].Old != "unless exited non-zero" {
		t.Errorf("a sensitive guard's output shows: %+v", d)
	}

	_, d, err = diffLocal(t, c, mustNew(t, mkres("command", "ok", map[string]cty.Value{"run": s("true"), "unless": s("echo fine")}), nil))
	if err != nil || !d.InSync() {
		t.Errorf("a passing guard: %+v, %v", d, err)
	}
}
