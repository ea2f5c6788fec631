package linuxcap

import "testing"

func TestNumberAndName(t *testing.T) {
	for _, s := range []string{"cap_perfmon", "CAP_PERFMON", "perfmon", "38", "cap_38", " 38 "} {
		if n, err := Number(s); err != nil || n != 38 {
			t.Errorf("Number(%q) = %d, %v", s, n, err)
		}
	}
	for _, s := range []string{"cap_nonsense", "64", "-1", "cap_64", ""} {
		if _, err := Number(s); err == nil {
			t.Errorf("Number(%q) accepted", s)
		}
	}
	if n, ok := Name(40); !ok || n != "cap_checkpoint_restore" {
		t.Errorf("Name(40) = %q, %v", n, ok)
	}
	if _, ok := Name(41); ok {
		t.Error("Name(41) is in the table")
	}
	if Known() != 1<<41-1 {
		t.Errorf("Known() = %x", Known())
	}
}

func TestIsSpecName(t *testing.T) {
	for _, s := range []string{"cap_perfmon", "cap_sys_ptrace", "0", "38", "63"} {
		if !IsSpecName(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"CAP_PERFMON", "perfmon", "cap_bogus", "64", "99", "038", "+5", "-1", "cap_38", ""} {
		if IsSpecName(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
