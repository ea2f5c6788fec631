package hcl

import (
	"fmt"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/hcl/dag"
)

type nodeKind int

const (
	nVar nodeKind = iota
	nLocal
	nResource
	nOutput
	nCallStart // a module call's own dependencies (its depends_on): every resource inside waits for them
	nCallEnd   // a module call is complete: every resource and output of the module
)

// node is one vertex of the dependency graph: something that has a value or must be applied.
type node struct {
	kind  nodeKind
	mod   *module
	v     *variableDecl
	l     *localDecl
	r     *resourceDecl
	o     *outputDecl
	c     *moduleCall
	deps  []*node
	index int // declaration order: ties in the evaluation order go to the earlier declaration
	rng   hcl2.Range
}

// String names the node as a reference would, for cycle messages.
func (n *node) String() string {
	p := n.mod.prefix()
	switch n.kind {
	case nVar:
		return p + "var." + n.v.name
	case nLocal:
		return p + "local." + n.l.name
	case nResource:
		return p + "resource." + n.r.key()
	case nOutput:
		return p + "output." + n.o.name
	case nCallStart:
		return p + "module." + n.c.name + " (depends_on)"
	default:
		return p + "module." + n.c.name
	}
}

func (n *node) addDep(d *node) {
	for _, x := range n.deps {
		if x == d {
			return
		}
	}
	n.deps = append(n.deps, d)
}

// scope says which reference roots an expression may use.
type scope struct {
	static   bool // load-time values only: var, local, path
	each     bool
	count    bool
	what     string // "a resource's hosts", for messages
	selfOnly string // variable validation: only var.<selfOnly>
}

var hostAttrs = []string{"name", "address", "port", "groups", "vars", "facts"}
var pathAttrs = []string{"module", "root", "cwd"}
var rootNames = []string{"var", "local", "resource", "module", "host", "each", "count", "path"}

// refs resolves the references of expr (in module m) to graph nodes, reporting invalid ones.
func refs(m *module, expr hcl2.Expression, sc scope) ([]*node, hcl2.Diagnostics) {
	if expr == nil {
		return nil, nil
	}
	return traversalRefs(m, expr.Variables(), sc)
}

func traversalRefs(m *module, trs []hcl2.Traversal, sc scope) ([]*node, hcl2.Diagnostics) {
	var out []*node
	var diags hcl2.Diagnostics
	for _, tr := range trs {
		n, d := resolveRef(m, tr, sc)
		diags = append(diags, d...)
		if n != nil {
			out = append(out, n)
		}
	}
	return out, diags
}

func stepRange(tr hcl2.Traversal, i int) *hcl2.Range {
	if i < len(tr) {
		return rangePtr(tr[i].SourceRange())
	}
	return rangePtr(tr.SourceRange())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// buildGraph makes the dependency graph of every module, checks every reference, orders the
// nodes and reports cycles.
// buildGraph makes a node for every variable, local, resource, module call and output of the
// spec and its modules, links each to what its expressions refer to, orders them (reporting
// cycles) and records each resource's direct resource dependencies.
func (s *Spec) buildGraph() hcl2.Diagnostics {
	st := s.state
	g := &graphBuilder{}
	g.addModule(st.root)
	var diags hcl2.Diagnostics
	for _, n := range g.all {
		deps, d := nodeDeps(n)
		diags = append(diags, d...)
		for _, x := range deps {
			if x != nil {
				n.addDep(x)
			}
		}
	}
	order, cycles := topoSort(g.all)
	for _, cyc := range cycles {
		parts := make([]string, len(cyc))
		for i, x := range cyc {
			parts[i] = x.String()
		}
		parts = append(parts, cyc[0].String())
		diags = append(diags, errorDiag(rangePtr(cyc[0].rng), "Dependency cycle",
			fmt.Sprintf("These depend on each other in a cycle, so there is no order to apply them in: %s. Remove one of the references or depends_on entries.", strings.Join(parts, " -> "))))
	}
	st.nodes = order
	// References with errors were left out of the graph: evaluation can still run and find
	// other errors; only a cycle leaves no order to evaluate in.
	st.graphOK = len(cycles) == 0
	for _, n := range g.all {
		if n.kind == nResource {
			n.r.depsResAll = directResourceDeps(n)
		}
	}
	return diags
}

// graphBuilder numbers the nodes in declaration order (the order topoSort prefers).
type graphBuilder struct{ all []*node }

func (g *graphBuilder) add(n *node) *node {
	n.index = len(g.all)
	g.all = append(g.all, n)
	return n
}

// addModule adds m's nodes, and its children's between each call's start and end.
func (g *graphBuilder) addModule(m *module) {
	add := g.add
	for _, v := range m.vars {
		v.node = add(&node{kind: nVar, mod: m, v: v, rng: v.declRange})
	}
	for _, l := range m.locals {
		l.node = add(&node{kind: nLocal, mod: m, l: l, rng: l.rng})
	}
	for _, it := range m.order {
		switch x := it.(type) {
		case *resourceDecl:
			x.node = add(&node{kind: nResource, mod: m, r: x, rng: x.declRange})
		case *moduleCall:
			x.start = add(&node{kind: nCallStart, mod: m, c: x, rng: x.declRange})
			if x.child != nil {
				g.addModule(x.child)
			}
			x.end = add(&node{kind: nCallEnd, mod: m, c: x, rng: x.declRange})
		}
	}
	for _, o := range m.outputs {
		o.node = add(&node{kind: nOutput, mod: m, o: o, rng: o.rng})
	}
}

// nodeDeps returns the nodes n's expressions refer to, with the diagnostics of bad references.
func nodeDeps(n *node) (deps []*node, d hcl2.Diagnostics) {
	m := n.mod
	full := scope{}
	collect := func(ns []*node, dd hcl2.Diagnostics) {
		deps = append(deps, ns...)
		d = append(d, dd...)
	}
	switch n.kind {
	case nVar:
		if m.call != nil {
			if a := m.call.inputs[n.v.name]; a != nil {
				collect(refs(m.parent, a.Expr, full))
			}
		}
		for _, val := range n.v.validations {
			_, dd := refs(m, val.condition, scope{selfOnly: n.v.name})
			d = append(d, dd...)
			_, dd = refs(m, val.message, scope{selfOnly: n.v.name})
			d = append(d, dd...)
		}
	case nLocal:
		collect(refs(m, n.l.expr, full))
	case nOutput:
		collect(refs(m, n.o.expr, full))
	case nResource:
		r := n.r
		names := make([]string, 0, len(r.attrs))
		for k := range r.attrs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			collect(refs(m, r.attrs[k].Expr, scope{each: r.forEach != nil, count: r.count != nil}))
		}
		collect(refs(m, r.forEach, full))
		collect(refs(m, r.count, full))
		// hosts is checked (and reported) when targets are resolved.
		hostDeps, _ := refs(m, r.hostsExpr, scope{static: true, what: "A resource's hosts"})
		deps = append(deps, hostDeps...)
		collect(traversalRefs(m, r.dependsOn, full))
		if m.call != nil {
			deps = append(deps, m.call.start)
		}
	case nCallStart:
		c := n.c
		collect(traversalRefs(m, c.dependsOn, full))
		hostDeps, _ := refs(m, c.hostsExpr, scope{static: true, what: "A module's hosts"})
		deps = append(deps, hostDeps...)
		if m.call != nil {
			deps = append(deps, m.call.start)
		}
	case nCallEnd:
		if ch := n.c.child; ch != nil {
			for _, r := range ch.resources {
				deps = append(deps, r.node)
			}
			for _, c := range ch.calls {
				deps = append(deps, c.end)
			}
			for _, o := range ch.outputs {
				deps = append(deps, o.node)
			}
			for _, v := range ch.vars {
				deps = append(deps, v.node)
			}
		}
	}
	return deps, d
}

// directResourceDeps finds the first resources reached from resource node n through locals,
// variables, outputs and modules.
func directResourceDeps(n *node) []*resourceDecl {
	seen := map[*node]bool{n: true}
	var found []*resourceDecl
	var walk func(x *node)
	walk = func(x *node) {
		for _, d := range x.deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			if d.kind == nResource {
				found = append(found, d.r)
				continue
			}
			walk(d)
		}
	}
	walk(n)
	sort.Slice(found, func(i, j int) bool { return found[i].node.index < found[j].node.index })
	return found
}

// topoSort orders nodes so that dependencies come first, preferring declaration order, and returns
// one cycle for every strongly connected component that has one.
func topoSort(all []*node) ([]*node, [][]*node) {
	deps := make([][]int, len(all))
	for i, n := range all {
		for _, d := range n.deps {
			deps[i] = append(deps[i], d.index)
		}
	}
	var order []*node
	for _, v := range dag.Order(deps) {
		order = append(order, all[v])
	}
	if len(order) == len(all) {
		return order, nil
	}
	var cycles [][]*node
	for _, comp := range dag.CyclicComponents(deps) {
		start := cycleStart(all, comp)
		var cyc []*node
		for _, v := range dag.CycleFrom(deps, start.index, comp) {
			// Module calls' bookkeeping nodes add nothing a person wrote.
			if all[v].kind != nCallStart {
				cyc = append(cyc, all[v])
			}
		}
		if len(cyc) == 0 {
			cyc = []*node{start}
		}
		cycles = append(cycles, cyc)
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i][0].index < cycles[j][0].index })
	return order, cycles
}

// cycleStart picks where a cycle's message starts: the earliest declared resource (what a person
// wrote references between), else the earliest declared node.
func cycleStart(all []*node, comp []int) *node {
	start := all[comp[0]]
	for _, v := range comp {
		x := all[v]
		better := x.kind == nResource && start.kind != nResource
		same := (x.kind == nResource) == (start.kind == nResource)
		if better || (same && x.index < start.index) {
			start = x
		}
	}
	return start
}
