package hcl

import (
	"fmt"
	"os"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/spec"
)

// maxInstances bounds count and for_each so that a typo cannot make millions of resources.
const maxInstances = 10000

// maxCheckedHosts bounds how many hosts Load evaluates offline to find errors.
const maxCheckedHosts = 200

// modScope holds the values of one module while a host is evaluated.
type modScope struct {
	vars    map[string]cty.Value
	locals  map[string]cty.Value
	res     map[string]map[string]cty.Value // type -> name -> value
	mods    map[string]cty.Value            // module call -> object of its outputs
	outputs map[string]cty.Value
}

type evaluator struct {
	s         *Spec
	host      *spec.Host // nil: the load-time check that applies every resource with no host
	hostVal   cty.Value
	scopes    map[*module]*modScope
	instances map[*resourceDecl][]*spec.Resource
	applied   map[*resourceDecl]bool
	diags     hcl2.Diagnostics
}

func (e *evaluator) scope(m *module) *modScope {
	sc := e.scopes[m]
	if sc == nil {
		sc = &modScope{vars: map[string]cty.Value{}, locals: map[string]cty.Value{}, res: map[string]map[string]cty.Value{},
			mods: map[string]cty.Value{}, outputs: map[string]cty.Value{}}
		e.scopes[m] = sc
	}
	return sc
}

// objectOf is the object of the module's variables or locals (unknown where vals has none),
// narrowed to what u uses: an expression that reads local.a needs local.a only, and building every
// local into the context of every expression made a spec of n locals load in O(n^2).
func objectOf(m *module, kind string, vals map[string]cty.Value, u *usage) cty.Value {
	attrs := map[string]cty.Value{}
	add := func(n string) {
		if v, ok := vals[n]; ok {
			attrs[n] = v
		} else {
			attrs[n] = cty.DynamicVal
		}
	}
	switch {
	case u == nil:
	case u.whole && kind == "var":
		for _, v := range m.vars {
			add(v.name)
		}
	case u.whole:
		for _, l := range m.locals {
			add(l.name)
		}
	default:
		for n := range u.children {
			if (kind == "var" && m.varIdx[n] != nil) || (kind == "local" && m.localIdx[n] != nil) {
				add(n)
			}
		}
	}
	return cty.ObjectVal(attrs)
}

// pathVal is path.module, path.root and path.cwd; unknown when the expression does not read them
// (os.Getwd for every expression was a tenth of the load time of a large spec).
func (s *Spec) pathVal(m *module, used *usage) cty.Value {
	if used.child("path") == nil {
		return cty.DynamicVal
	}
	cwd, _ := os.Getwd()
	return cty.ObjectVal(map[string]cty.Value{
		"module": cty.StringVal(m.dir),
		"root":   cty.StringVal(s.state.rootDir),
		"cwd":    cty.StringVal(cwd),
	})
}

// staticCtx is the evaluation context of load-time values: variables, the locals that follow
// from them, and unknown everything else.
func (s *Spec) staticCtx(m *module, expr hcl2.Expression) *hcl2.EvalContext {
	used := usedBy(expr)
	return &hcl2.EvalContext{
		Variables: map[string]cty.Value{
			"var":      objectOf(m, "var", m.staticVars, used.child("var")),
			"local":    objectOf(m, "local", m.staticLocals, used.child("local")),
			"resource": cty.DynamicVal,
			"module":   cty.DynamicVal,
			"host":     cty.DynamicVal,
			"each":     cty.DynamicVal,
			"count":    cty.DynamicVal,
			"path":     s.pathVal(m, used),
		},
		Functions: m.funcs,
	}
}

// evalStatic computes the values known at load time: module inputs and locals that do not
// depend on hosts, resources or modules. Errors are left for the per-host evaluation.
func (s *Spec) evalStatic() {
	for _, n := range s.state.nodes {
		m := n.mod
		switch n.kind {
		case nVar:
			if m.call == nil {
				continue
			}
			val := n.v.def
			if a := m.call.inputs[n.v.name]; a != nil {
				v, d := a.Expr.Value(s.staticCtx(m.parent, a.Expr))
				if d.HasErrors() {
					v = cty.DynamicVal
				}
				val = v
			}
			if val == cty.NilVal {
				val = cty.DynamicVal
			}
			m.staticVars[n.v.name] = convertKeepMarks(val, n.v.typ, n.v.defaults)
		case nLocal:
			v, d := n.l.expr.Value(s.staticCtx(m, n.l.expr))
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			m.staticLocals[n.l.name] = v
		}
	}
}

// convertKeepMarks converts to ty, keeping the value's marks on the whole result; a value that
// does not convert becomes unknown.
func convertKeepMarks(v cty.Value, ty cty.Type, defs *typeexpr.Defaults) cty.Value {
	unm, marks := v.UnmarkDeep()
	if defs != nil {
		unm = defs.Apply(unm)
	}
	conv, err := convert.Convert(unm, ty)
	if err != nil {
		return cty.UnknownVal(ty)
	}
	if len(marks) > 0 {
		conv = conv.WithMarks(marks)
	}
	return conv
}

func (e *evaluator) ctx(m *module, expr hcl2.Expression, extra map[string]cty.Value) *hcl2.EvalContext {
	sc := e.scope(m)
	used := usedBy(expr)
	usedRes := used.child("resource")
	resTypes := map[string]cty.Value{}
	byType := map[string]map[string]cty.Value{}
	for _, r := range usedResources(m, usedRes) {
		v, ok := sc.res[r.typ][r.name]
		if !ok && e.host != nil && !e.applied[r] {
			v, ok = cty.DynamicVal.Mark(notApplied{r.mod.prefix() + "resource." + r.key()}), true
		}
		if ok {
			if byType[r.typ] == nil {
				byType[r.typ] = map[string]cty.Value{}
			}
			byType[r.typ][r.name] = v
		}
	}
	for t, names := range byType {
		resTypes[t] = cty.ObjectVal(names)
	}
	mods := map[string]cty.Value{}
	for _, c := range m.calls {
		if v, ok := sc.mods[c.name]; ok {
			mods[c.name] = v
		} else {
			mods[c.name] = cty.DynamicVal
		}
	}
	vars := map[string]cty.Value{
		"var":      objectOf(m, "var", sc.vars, used.child("var")),
		"local":    objectOf(m, "local", sc.locals, used.child("local")),
		"resource": cty.ObjectVal(resTypes),
		"module":   cty.ObjectVal(mods),
		"host":     e.hostVal,
		"path":     e.s.pathVal(m, used),
	}
	for k, v := range extra {
		vars[k] = v
	}
	return &hcl2.EvalContext{Variables: vars, Functions: m.funcs}
}

// usedResources are the resources of m that u (the usage of "resource") reads.
func usedResources(m *module, u *usage) []*resourceDecl {
	if u == nil {
		return nil
	}
	var out []*resourceDecl
	anyWhole := u.whole
	for typ, tu := range u.children {
		if tu.whole {
			anyWhole = true
			continue
		}
		for name := range tu.children {
			if r := m.resIdx[typ+"."+name]; r != nil {
				out = append(out, r)
			}
		}
	}
	for _, r := range m.resources {
		if !anyWhole {
			break
		}
		if u.whole || (u.children[r.typ] != nil && u.children[r.typ].whole) {
			out = append(out, r)
		}
	}
	return out
}

// notApplied marks the value of a resource that does not apply to the host being evaluated.
// Locals and outputs may carry it harmlessly; a resource or benchmark that uses it is an error.
type notApplied struct{ addr string }

// notAppliedIn returns the address of a not-applied resource a value was derived from, or "".
func notAppliedIn(v cty.Value) string {
	_, marks := v.UnmarkDeep()
	for m := range marks {
		if na, ok := m.(notApplied); ok {
			return na.addr
		}
	}
	return ""
}

func hasSensitive(marks cty.ValueMarks) bool {
	_, ok := marks[sensitiveMark]
	return ok
}

// eval evaluates expr in module m.
func (e *evaluator) eval(m *module, expr hcl2.Expression, extra map[string]cty.Value) (cty.Value, hcl2.Diagnostics) {
	v, d := expr.Value(e.ctx(m, expr, extra))
	if d.HasErrors() {
		return cty.DynamicVal, d
	}
	return v, d
}

// evalUsed evaluates an expression whose value a host will use (a resource's attributes, count
// and for_each, a benchmark): it must not read a resource that does not apply to the host.
func (e *evaluator) evalUsed(m *module, expr hcl2.Expression, extra map[string]cty.Value, user string) (cty.Value, hcl2.Diagnostics) {
	v, d := e.eval(m, expr, extra)
	if addr := notAppliedIn(v); addr != "" && !d.HasErrors() {
		d = append(d, errorDiag(rangePtr(expr.Range()), "Reference to a resource not applied to this host",
			fmt.Sprintf("%s uses a value of %s, which does not apply to host %q (its hosts, or its module's hosts, leave the host out).", user, addr, e.host.Name)))
		return cty.DynamicVal, d
	}
	return v, d
}

func (e *evaluator) applies(r *resourceDecl) bool {
	if e.host == nil {
		return true
	}
	in := func(all bool, hosts []string) bool { return all || contains(hosts, e.host.Name) }
	if !in(r.allHosts, r.hosts) {
		return false
	}
	for m := r.mod; m.call != nil; m = m.parent {
		if !in(m.call.allHosts, m.call.hosts) {
			return false
		}
	}
	return true
}

func hostValue(h *spec.Host, facts cty.Value) cty.Value {
	groups := cty.ListValEmpty(cty.String)
	if len(h.Groups) > 0 {
		var gs []cty.Value
		for _, g := range h.Groups {
			gs = append(gs, cty.StringVal(g))
		}
		groups = cty.ListVal(gs)
	}
	vars := h.Vars
	if vars == cty.NilVal || vars.IsNull() {
		vars = cty.EmptyObjectVal
	}
	return cty.ObjectVal(map[string]cty.Value{
		"name":    cty.StringVal(h.Name),
		"address": cty.StringVal(h.Address),
		"port":    cty.NumberIntVal(int64(h.Port)),
		"groups":  groups,
		"vars":    vars,
		"facts":   facts,
	})
}

// evaluate resolves the spec for host h (nil: every resource, no host, for checking).
func (s *Spec) evaluate(h *spec.Host, facts cty.Value, _ bool) (*spec.HostConfig, hcl2.Diagnostics) {
	e := &evaluator{s: s, host: h, hostVal: cty.DynamicVal, scopes: map[*module]*modScope{},
		instances: map[*resourceDecl][]*spec.Resource{}, applied: map[*resourceDecl]bool{}}
	if h != nil {
		e.hostVal = hostValue(h, facts)
	}
	hc := &spec.HostConfig{Host: h}
	for _, n := range s.state.nodes {
		m := n.mod
		sc := e.scope(m)
		before := len(e.diags)
		switch n.kind {
		case nVar:
			sc.vars[n.v.name] = e.evalVar(n.v, m)
		case nLocal:
			v, d := e.eval(m, n.l.expr, nil)
			e.diags = append(e.diags, d...)
			sc.locals[n.l.name] = v
		case nOutput:
			v, d := e.eval(m, n.o.expr, nil)
			e.diags = append(e.diags, d...)
			if n.o.sensitive {
				v = v.Mark(sensitiveMark)
			}
			sc.outputs[n.o.name] = v
		case nCallEnd:
			if ch := n.c.child; ch != nil {
				outs := map[string]cty.Value{}
				csc := e.scope(ch)
				for _, o := range ch.outputs {
					if v, ok := csc.outputs[o.name]; ok {
						outs[o.name] = v
					} else {
						outs[o.name] = cty.DynamicVal
					}
				}
				sc.mods[n.c.name] = cty.ObjectVal(outs)
			}
		case nResource:
			if !e.applies(n.r) {
				continue
			}
			e.applied[n.r] = true
			insts := e.evalResource(n.r)
			e.instances[n.r] = insts
			hc.Resources = append(hc.Resources, insts...)
		}
		userRange(m, e.diags[before:])
	}
	for decl, insts := range e.instances {
		var deps []string
		for _, d := range decl.depsResAll {
			for _, di := range e.instances[d] {
				deps = append(deps, di.Addr)
			}
		}
		for _, in := range insts {
			in.DependsOn = append([]string(nil), deps...)
		}
	}
	for _, b := range s.state.benchmarks {
		if h != nil && !b.allHosts && !contains(b.hosts, h.Name) {
			continue
		}
		hc.Benchmarks = append(hc.Benchmarks, e.evalBenchmark(b))
	}
	return hc, e.diags
}

func (e *evaluator) evalVar(v *variableDecl, m *module) cty.Value {
	if m.call == nil {
		if val, ok := m.staticVars[v.name]; ok {
			return val
		}
		return cty.UnknownVal(v.typ)
	}
	val := v.def
	source := "its default"
	var rng *hcl2.Range
	if a := m.call.inputs[v.name]; a != nil {
		x, d := e.eval(m.parent, a.Expr, nil)
		e.diags = append(e.diags, d...)
		if d.HasErrors() {
			return cty.UnknownVal(v.typ)
		}
		val, source, rng = x, fmt.Sprintf("the input %s of module %q", v.name, m.call.name), rangePtr(a.Expr.Range())
	}
	if val == cty.NilVal {
		return cty.UnknownVal(v.typ)
	}
	unm, marks := val.UnmarkDeep()
	if v.defaults != nil {
		unm = v.defaults.Apply(unm)
	}
	conv, err := convert.Convert(unm, v.typ)
	if err != nil {
		if rng == nil {
			rng = v.defRange
		}
		e.diags = append(e.diags, errorDiag(rng, "Invalid value for module input",
			fmt.Sprintf("Module %q's input %q must be %s: %s.", m.call.name, v.name, typeexpr.TypeString(v.typ), err)))
		return cty.UnknownVal(v.typ)
	}
	conv = conv.WithMarks(marks)
	if v.sensitive {
		conv = conv.Mark(sensitiveMark)
	}
	if conv.IsWhollyKnown() {
		for _, d := range validateVariable(m, v, conv, source) {
			if rng != nil {
				d.Subject = rng
			}
			e.diags = append(e.diags, d)
		}
	}
	return conv
}

// checkEveryHost evaluates the spec offline once with no host (every resource) and once per host,
// so that Load reports evaluation errors (types, values, missing attributes) before any
// connection. Errors seen only on some hosts name them.
func (s *Spec) checkEveryHost() hcl2.Diagnostics {
	_, diags := s.evaluate(nil, cty.DynamicVal, true)
	diags = mergeDiags(nil, diags)
	type key struct {
		file       string
		start, end int
		summary    string
	}
	keyOf := func(d *hcl2.Diagnostic) key {
		if d.Subject == nil {
			return key{summary: d.Summary + d.Detail}
		}
		return key{d.Subject.Filename, d.Subject.Start.Byte, d.Subject.End.Byte, d.Summary}
	}
	perHost := map[key][]string{}
	var order []*hcl2.Diagnostic
	hosts := s.Hosts
	if len(hosts) > maxCheckedHosts {
		hosts = hosts[:maxCheckedHosts]
	}
	for _, h := range hosts {
		_, d := s.evaluate(h, cty.DynamicVal, true)
		for _, x := range d {
			k := keyOf(x)
			if _, ok := perHost[k]; !ok {
				order = append(order, x)
			}
			perHost[k] = append(perHost[k], h.Name)
		}
	}
	for _, x := range order {
		names := perHost[keyOf(x)]
		if len(names) < len(hosts) {
			shown := names
			if len(shown) > 3 {
				shown = shown[:3]
			}
			note := fmt.Sprintf("This happens when evaluating for host %s", quoteList(shown))
			if len(names) > len(shown) {
				note += fmt.Sprintf(" and %d more", len(names)-len(shown))
			}
			x.Detail = strings.TrimSpace(x.Detail + " " + note + ".")
		}
	}
	return mergeDiags(diags, order)
}

// mergeDiags adds extra diagnostics to diags, leaving out those that point into a range that
// already has an error (one message per mistake) and exact repeats.
func mergeDiags(diags hcl2.Diagnostics, extra hcl2.Diagnostics) hcl2.Diagnostics {
	for _, x := range extra {
		dup := false
		for _, d := range diags {
			if x.Subject == nil || d.Subject == nil {
				if x.Subject == nil && d.Subject == nil && x.Summary == d.Summary && x.Detail == d.Detail {
					dup = true
				}
				continue
			}
			a, b := *x.Subject, *d.Subject
			if a.Filename == b.Filename && a.Start.Byte <= b.End.Byte && b.Start.Byte <= a.End.Byte {
				if d.Severity == hcl2.DiagError || x.Summary == d.Summary {
					dup = true
					break
				}
			}
		}
		if !dup {
			diags = append(diags, x)
		}
	}
	return diags
}

// blame returns the range to report a bad value at: when the expression only passes on a module
// input (var.NAME), the input's expression in the calling module, where the value was written.
func blame(m *module, expr hcl2.Expression) *hcl2.Range {
	for m.call != nil {
		st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
		if !ok || len(st.Traversal) != 2 || st.Traversal.RootName() != "var" {
			break
		}
		a := m.call.inputs[getAttrName(st.Traversal[1])]
		if a == nil {
			break
		}
		expr, m = a.Expr, m.parent
	}
	return rangePtr(expr.Range())
}

// userRange points diagnostics that fall inside a built-in module (which a person cannot edit) at
// the module call in their own spec, and says where in the module the problem was found.
func userRange(m *module, diags hcl2.Diagnostics) hcl2.Diagnostics {
	if m.mfs.fsys == nil {
		return diags
	}
	call := m.call
	for call != nil && call.parent.mfs.fsys != nil {
		call = call.parent.call
	}
	if call == nil {
		return diags
	}
	for _, d := range diags {
		if d.Subject == nil || !strings.HasPrefix(d.Subject.Filename, "builtin/") {
			continue
		}
		d.Detail = strings.TrimSpace(fmt.Sprintf("%s (Found in the built-in module %q at %s:%d, called here.)",
			d.Detail, strings.TrimPrefix(m.source, "builtin/"), d.Subject.Filename, d.Subject.Start.Line))
		d.Subject = rangePtr(call.declRange)
	}
	return diags
}
