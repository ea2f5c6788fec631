package bench

import "testing"

func TestCapMasks(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"cap_perfmon", "cap_syslog", "cap_sys_ptrace"}, "0000004400080000"},
		{[]string{"CAP_PERFMON", "syslog", "19"}, "0000004400080000"},
		{[]string{"38", "34", "19"}, "0000004400080000"},
		{[]string{"cap_sys_admin", "cap_sys_ptrace", "cap_syslog"}, "0000000400280000"},
		{[]string{"cap_perfmon", "cap_sys_ptrace", "cap_syslog", "cap_ipc_lock"}, "0000004400084000"},
		{[]string{"cap_bpf"}, "0000008000000000"},
		{nil, "0000000000000000"},
	}
	for _, tt := range tests {
		m, err := Caps(tt.names...)
		if err != nil {
			t.Fatal(err)
		}
		if m.String() != tt.want {
			t.Errorf("Caps(%v) = %s, want %s", tt.names, m, tt.want)
		}
		back, err := ParseCapMask(tt.want)
		if err != nil || back != m {
			t.Errorf("ParseCapMask(%s) = %s, %v", tt.want, back, err)
		}
	}
	if PerfmonCaps.String() != "0000004400080000" {
		t.Errorf("PerfmonCaps = %s", PerfmonCaps)
	}
	if got := PerfmonCaps.Describe(); got != "cap_sys_ptrace,cap_syslog,cap_perfmon" {
		t.Errorf("Describe = %q", got)
	}
	if got := CapMask(1 << 50).Describe(); got != "cap_50" {
		t.Errorf("unknown cap: %q", got)
	}
	if _, err := Caps("cap_nonsense"); err == nil {
		t.Error("cap_nonsense accepted")
	}
	if _, err := Caps("64"); err == nil {
		t.Error("64 accepted")
	}
	if _, err := ParseCapMask("xyz"); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestParseCapText(t *testing.T) {
	p := "/opt/perf/bin/perf"
	tests := []struct {
		line string
		want CapMask
		any  bool
	}{
		{p + " cap_sys_ptrace,cap_syslog,cap_perfmon=ep", PerfmonCaps, true},   // libcap >= 2.41
		{p + " = cap_sys_ptrace,cap_syslog,cap_perfmon+ep", PerfmonCaps, true}, // libcap < 2.41
		{p + " = cap_sys_ptrace,cap_syslog,38+ep", PerfmonCaps, true},          // old libcap, number
		{p + " cap_perfmon=p", 0, true},                                        // permitted only
		{p + " cap_perfmon,cap_syslog=ep cap_syslog-e", MustCaps("cap_perfmon"), true},
		{"", 0, false},
		{p + " (No such file or directory)", 0, false},
	}
	for _, tt := range tests {
		got, any := parseCapText(tt.line, p)
		if got != tt.want || any != tt.any {
			t.Errorf("parseCapText(%q) = %s %v, want %s %v", tt.line, got, any, tt.want, tt.any)
		}
	}
}
