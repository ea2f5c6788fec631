package bench

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

func TestSpecCaps(t *testing.T) {
	capsRes := func(path string, caps []string, flags string) *spec.Resource {
		var vals []cty.Value
		for _, c := range caps {
			vals = append(vals, cty.StringVal(c))
		}
		list := cty.ListValEmpty(cty.String)
		if len(vals) > 0 {
			list = cty.ListVal(vals)
		}
		f := cty.NullVal(cty.String)
		if flags != "" {
			f = cty.StringVal(flags)
		}
		return &spec.Resource{Addr: "module.perf_users.capabilities.perf", Type: "capabilities",
			Attrs: map[string]cty.Value{"path": cty.StringVal(path), "caps": list, "flags": f}}
	}
	other := &spec.Resource{Addr: "file.x", Type: "file", Attrs: map[string]cty.Value{"path": cty.StringVal("/opt/perf/bin/perf")}}
	tests := []struct {
		name  string
		perf  string
		res   []*spec.Resource
		want  CapMask
		found bool
		err   bool
	}{
		{"the module's set", "/opt/perf/bin/perf", []*spec.Resource{other, capsRes("/opt/perf/bin/perf", []string{"cap_perfmon", "cap_sys_ptrace", "cap_syslog"}, "")}, PerfmonCaps, true, false},
		{"path cleaned, numbers, extra cap", "/opt/perf/bin/perf", []*spec.Resource{capsRes("/opt/perf//bin/perf", []string{"38", "cap_sys_ptrace", "CAP_SYSLOG", "cap_ipc_lock"}, "ep")}, PerfmonCaps | MustCaps("cap_ipc_lock"), true, false},
		{"another path", "/opt/perf/bin/perf", []*spec.Resource{capsRes("/usr/local/bin/perf", []string{"cap_perfmon"}, "")}, 0, false, false},
		{"bare perf name", "perf", []*spec.Resource{capsRes("/opt/perf/bin/perf", []string{"cap_perfmon"}, "")}, 0, false, false},
		{"not effective", "/opt/perf/bin/perf", []*spec.Resource{capsRes("/opt/perf/bin/perf", []string{"cap_perfmon"}, "p")}, 0, false, false},
		{"removed", "/opt/perf/bin/perf", []*spec.Resource{capsRes("/opt/perf/bin/perf", nil, "")}, 0, false, false},
		{"unknown name", "/opt/perf/bin/perf", []*spec.Resource{capsRes("/opt/perf/bin/perf", []string{"cap_bogus"}, "")}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := SpecCaps(&spec.HostConfig{Resources: tt.res}, &spec.Benchmark{Name: "b", Perf: tt.perf})
			if got != tt.want || found != tt.found || (err != nil) != tt.err {
				t.Errorf("got %s %v %v, want %s %v err=%v", got, found, err, tt.want, tt.found, tt.err)
			}
		})
	}
}
