package resource

import (
	"testing"

	"github.com/perfprov/perfprov/internal/linuxcap"
)

func TestParseGetcapBothFormats(t *testing.T) {
	want, _ := linuxcap.NewSet([]string{"cap_perfmon", "cap_sys_ptrace", "cap_syslog"}, "ep")
	tests := []struct {
		name, line, path string
		want             linuxcap.Set
		wantErr          bool
	}{
		{"libcap 2.66", "/usr/bin/perf cap_sys_ptrace,cap_syslog,cap_perfmon=ep", "/usr/bin/perf", want, false},
		{"libcap 2.32 with number", "/usr/bin/perf = cap_sys_ptrace,cap_syslog,38+ep", "/usr/bin/perf", want, false},
		{"libcap 2.25 names", "/opt/perf/bin/perf = cap_sys_ptrace,cap_syslog,cap_perfmon+ep", "/opt/perf/bin/perf", want, false},
		{"order does not matter", "/p cap_syslog,cap_perfmon,cap_sys_ptrace=pe", "/p", want, false},
		{"upper case", "/p CAP_SYSLOG,CAP_PERFMON,CAP_SYS_PTRACE=ep", "/p", want, false},
		{"path with space", "/opt/my perf/perf cap_perfmon,cap_sys_ptrace,cap_syslog=ep", "/opt/my perf/perf", want, false},
		{"rootid suffix", "/p cap_perfmon,cap_sys_ptrace,cap_syslog=ep [rootid=1000]", "/p", want, false},
		{"none", "", "/p", linuxcap.Set{}, false},
		{"only p", "/p cap_perfmon=p", "/p", linuxcap.Set{P: 1 << 38}, false},
		{"mixed clauses", "/p cap_net_raw=ep cap_perfmon+i", "/p", linuxcap.Set{E: 1 << 13, P: 1 << 13, I: 1 << 38}, false},
		{"cap_NN", "/p cap_38=ep", "/p", linuxcap.Set{E: 1 << 38, P: 1 << 38}, false},
		{"unknown name", "/p cap_bogus=ep", "/p", linuxcap.Set{}, true},
		{"other path", "/q cap_perfmon=ep", "/p", linuxcap.Set{}, true},
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
