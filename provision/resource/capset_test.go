package resource

import "testing"

func TestParseGetcapBothFormats(t *testing.T) {
	want, _ := NewCapSet([]string{"cap_perfmon", "cap_sys_ptrace", "cap_syslog"}, "ep")
	tests := []struct {
		name, line, path string
		want             CapSet
		wantErr          bool
	}{
		{"libcap 2.66", "/usr/bin/perf cap_sys_ptrace,cap_syslog,cap_perfmon=ep", "/usr/bin/perf", want, false},
		{"libcap 2.32 with number", "/usr/bin/perf = cap_sys_ptrace,cap_syslog,38+ep", "/usr/bin/perf", want, false},
		{"libcap 2.25 names", "/opt/perf/bin/perf = cap_sys_ptrace,cap_syslog,cap_perfmon+ep", "/opt/perf/bin/perf", want, false},
		{"order does not matter", "/p cap_syslog,cap_perfmon,cap_sys_ptrace=pe", "/p", want, false},
		{"upper case", "/p CAP_SYSLOG,CAP_PERFMON,CAP_SYS_PTRACE=ep", "/p", want, false},
		{"path with space", "/opt/my perf/perf cap_perfmon,cap_sys_ptrace,cap_syslog=ep", "/opt/my perf/perf", want, false},
		{"rootid suffix", "/p cap_perfmon,cap_sys_ptrace,cap_syslog=ep [rootid=1000]", "/p", want, false},
		{"none", "", "/p", CapSet{}, false},
		{"only p", "/p cap_perfmon=p", "/p", CapSet{P: 1 << 38}, false},
		{"mixed clauses", "/p cap_net_raw=ep cap_perfmon+i", "/p", CapSet{E: 1 << 13, P: 1 << 13, I: 1 << 38}, false},
		{"cap_NN", "/p cap_38=ep", "/p", CapSet{E: 1 << 38, P: 1 << 38}, false},
		{"unknown name", "/p cap_bogus=ep", "/p", CapSet{}, true},
		{"other path", "/q cap_perfmon=ep", "/p", CapSet{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseGetcap(tt.line, tt.path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %s (%+v), want %s", got, got, tt.want)
			}
		})
	}
}

func TestParseCapTextAllAndMinus(t *testing.T) {
	got, err := ParseCapText("=ep cap_sys_admin-ep")
	if err != nil {
		t.Fatal(err)
	}
	if got.E&(1<<21) != 0 || got.E&(1<<38) == 0 || got.P&1 == 0 {
		t.Errorf("=ep cap_sys_admin-ep gave %s", got)
	}
	if _, err := ParseCapText("cap_perfmon"); err == nil {
		t.Error("a clause without operator must fail")
	}
}

func TestCapSetString(t *testing.T) {
	c, err := NewCapSet([]string{"cap_syslog", "38", "sys_ptrace"}, "ep")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.String(), "cap_sys_ptrace,cap_syslog,cap_perfmon=ep"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := NewCapSet([]string{"cap_perfmon"}, "x"); err == nil {
		t.Error("flag x must fail")
	}
	if _, err := NewCapSet([]string{"64"}, "ep"); err == nil {
		t.Error("capability 64 must fail")
	}
}
