package bench

import (
	"fmt"
	"path"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

// SpecCaps returns the capability set the spec applies to the benchmark's perf binary: the caps
// of the capabilities resource (a built-in module's or a plain one) whose path is b.Perf. The
// benchmark then expects exactly that CapEff, so that a spec that adds cap_ipc_lock on purpose
// is not failed for it, and a set that differs from the spec's is. found is false when no
// capabilities resource targets that path (b.Perf a bare name, or perf set up by other means):
// the expected set then follows the kernel (PerfmonCaps, or SysAdminCaps before Linux 5.8).
func SpecCaps(hc *spec.HostConfig, b *spec.Benchmark) (caps CapMask, found bool, err error) {
	if hc == nil || b == nil || !strings.HasPrefix(b.Perf, "/") {
		return 0, false, nil
	}
	want := path.Clean(b.Perf)
	for _, r := range hc.Resources {
		if r.Type != "capabilities" {
			continue
		}
		p, ok := ctyString(r.Attrs["path"])
		if !ok || path.Clean(p) != want {
			continue
		}
		if flags, ok := ctyString(r.Attrs["flags"]); ok && !strings.Contains(flags, "e") {
			// Without the effective flag the kernel raises nothing at exec (perf does not raise
			// permitted capabilities itself): the spec expects an empty CapEff, which the
			// default set would contradict. Leave the expectation to the kernel's default.
			return 0, false, nil
		}
		list := r.Attrs["caps"]
		if list.IsNull() || !list.IsWhollyKnown() || !(list.Type().IsListType() || list.Type().IsTupleType() || list.Type().IsSetType()) {
			return 0, false, nil
		}
		var names []string
		for _, v := range list.AsValueSlice() {
			s, ok := ctyString(v)
			if !ok {
				return 0, false, nil
			}
			names = append(names, s)
		}
		m, err := Caps(names...)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", r.Addr, err)
		}
		if m == 0 {
			return 0, false, nil // caps = [] removes them: nothing to expect from the spec
		}
		return m, true, nil
	}
	return 0, false, nil
}

func ctyString(v cty.Value) (string, bool) {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}
