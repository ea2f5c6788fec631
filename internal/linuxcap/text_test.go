package linuxcap

import "testing"

func TestParseTextAllAndMinus(t *testing.T) {
	got, err := ParseText("=ep cap_sys_admin-ep")
	if err != nil {
		t.Fatal(err)
	}
	if got.E&(1<<21) != 0 || got.E&(1<<38) == 0 || got.P&1 == 0 {
		t.Errorf("=ep cap_sys_admin-ep gave %s", got)
	}
	if _, err := ParseText("cap_perfmon"); err == nil {
		t.Error("a clause without operator must fail")
	}
}

func TestSetString(t *testing.T) {
	c, err := NewSet([]string{"cap_syslog", "38", "sys_ptrace"}, "ep")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "cap_sys_ptrace,cap_syslog,cap_perfmon=ep"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := NewSet([]string{"cap_perfmon"}, "x"); err == nil {
		t.Error("flag x must fail")
	}
	if _, err := NewSet([]string{"64"}, "ep"); err == nil {
		t.Error("capability 64 must fail")
	}
}

func TestParseClause(t *testing.T) {
	c, ok := ParseClause("cap_a,cap_b=e+p")
	if !ok || c.Names != "cap_a,cap_b" || len(c.Steps) != 2 || c.Steps[0] != (Step{'=', "e"}) || c.Steps[1] != (Step{'+', "p"}) {
		t.Errorf("ParseClause = %+v, %v", c, ok)
	}
	if _, ok := ParseClause("(No"); ok {
		t.Error("a word without operator is a clause")
	}
	if c, _ := ParseClause("=ep"); !c.EveryCap() {
		t.Error("=ep does not name every capability")
	}
}
