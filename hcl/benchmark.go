package hcl

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/spec"
)

// The benchmark block: decoded when the spec loads, evaluated per host.

var benchmarkSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "hosts"}, {Name: "run_as", Required: true}, {Name: "perf"}, {Name: "events"},
	{Name: "require_hardware_counters"}, {Name: "tolerance"}, {Name: "repeat"},
}}

func (s *Spec) decodeBenchmarks(blocks []*hcl2.Block) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	seen := map[string]*benchmarkDecl{}
	for _, b := range blocks {
		name := b.Labels[0]
		content, d := b.Body.Content(benchmarkSchema)
		diags = append(diags, d...)
		diags = append(diags, checkIdentifier("benchmark", name, b.LabelRanges[0])...)
		bd := &benchmarkDecl{name: name, body: map[string]*hcl2.Attribute{}, declRange: b.DefRange, allHosts: true}
		for n, a := range content.Attributes {
			if n == "hosts" {
				bd.hostsExpr = a.Expr
				continue
			}
			bd.body[n] = a
			_, d := refs(s.state.root, a.Expr, scope{})
			diags = append(diags, d...)
		}
		if prev := seen[name]; prev != nil {
			diags = append(diags, duplicate("benchmark", name, prev.declRange, b.LabelRanges[0]))
			continue
		}
		seen[name] = bd
		s.state.benchmarks = append(s.state.benchmarks, bd)
	}
	return diags
}

func (e *evaluator) evalBenchmark(b *benchmarkDecl) *spec.Benchmark {
	m := e.s.state.root
	out := &spec.Benchmark{Name: b.name, Perf: "perf", Events: append([]string(nil), spec.DefaultBenchmarkEvents...), Tolerance: 0.01, Repeat: 1, Range: b.declRange}
	get := func(name string, ty cty.Type) (cty.Value, *hcl2.Attribute) {
		a := b.body[name]
		if a == nil {
			return cty.NullVal(ty), nil
		}
		v, d := e.evalUsed(m, a.Expr, nil, "benchmark "+b.name)
		e.diags = append(e.diags, d...)
		if d.HasErrors() {
			return cty.NullVal(ty), a
		}
		v, _ = v.UnmarkDeep()
		if ty == cty.DynamicPseudoType {
			return v, a
		}
		conv, err := convert.Convert(v, ty)
		if err != nil {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Incorrect attribute value type",
				fmt.Sprintf("The %s attribute of benchmark %q must be %s: %s.", name, b.name, friendlyType(ty), err)))
			return cty.NullVal(ty), a
		}
		if !conv.IsWhollyKnown() {
			return cty.NullVal(ty), nil
		}
		return conv, a
	}
	if v, a := get("run_as", cty.String); !v.IsNull() {
		out.RunAs = v.AsString()
		if !spec.ValidLoginName(out.RunAs) {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid run_as", fmt.Sprintf("%q is not a valid user name.", out.RunAs)))
		}
		if out.RunAs == "root" {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid run_as",
				"A benchmark runs as an unprivileged member of the perf group, never as root: root proves nothing about the setup."))
		}
	}
	if v, _ := get("perf", cty.String); !v.IsNull() {
		out.Perf = v.AsString()
	}
	if v, a := get("events", cty.List(cty.String)); !v.IsNull() {
		out.Events = nil
		for _, ev := range v.AsValueSlice() {
			if !ev.IsNull() {
				out.Events = append(out.Events, ev.AsString())
			}
		}
		if len(out.Events) == 0 {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid events", "events must name at least one perf event."))
		}
	}
	if v, _ := get("require_hardware_counters", cty.Bool); !v.IsNull() {
		out.RequireHardwareCounters = v.True()
	}
	if v, a := get("tolerance", cty.DynamicPseudoType); a != nil && v.IsKnown() && !v.IsNull() {
		t, ok := parseTolerance(v)
		if !ok {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid tolerance",
				`tolerance is a relative error such as 0.01, or a percentage string such as "1%"; it must be more than 0 and less than 1 (100%).`))
		} else {
			out.Tolerance = t
		}
	}
	if v, a := get("repeat", cty.Number); !v.IsNull() {
		n, acc := v.AsBigFloat().Int64()
		if acc != big.Exact || n < 1 || n > 1000 {
			e.diags = append(e.diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid repeat", "repeat must be a whole number from 1 to 1000."))
		} else {
			out.Repeat = int(n)
		}
	}
	return out
}

func parseTolerance(v cty.Value) (float64, bool) {
	var f float64
	switch v.Type() {
	case cty.String:
		t := strings.TrimSpace(v.AsString())
		if strings.HasSuffix(t, "%") {
			p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
			if err != nil {
				return 0, false
			}
			f = p / 100
		} else {
			p, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return 0, false
			}
			f = p
		}
	case cty.Number:
		f, _ = v.AsBigFloat().Float64()
	default:
		return 0, false
	}
	return f, f > 0 && f < 1
}
