package hcl

import (
	"fmt"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
)

// ref is one traversal being resolved in module m, in scope sc.
type ref struct {
	m  *module
	tr hcl2.Traversal
	sc scope
}

// attr returns the name of step i (an attribute or a string index), if it is one.
func (r ref) attr(i int) (string, bool) {
	if i >= len(r.tr) {
		return "", false
	}
	switch x := r.tr[i].(type) {
	case hcl2.TraverseAttr:
		return x.Name, true
	case hcl2.TraverseIndex:
		if k := x.Key; k.IsKnown() && !k.IsNull() && k.Type().FriendlyName() == "string" {
			return k.AsString(), true
		}
	}
	return "", false
}

func (r ref) rng() *hcl2.Range { return rangePtr(r.tr.SourceRange()) }

func (r ref) bad(summary, detail string) (*node, hcl2.Diagnostics) {
	return nil, hcl2.Diagnostics{errorDiag(r.rng(), summary, detail)}
}

// resolveRef checks a reference and returns the graph node it depends on (nil for host, each,
// count and path, which are not nodes).
func resolveRef(m *module, tr hcl2.Traversal, sc scope) (*node, hcl2.Diagnostics) {
	r := ref{m: m, tr: tr, sc: sc}
	root := tr.RootName()
	if sc.static && root != "var" && root != "local" && root != "path" {
		hint := ""
		if len(tr) == 1 {
			hint = fmt.Sprintf(" If %q is a name, write it as a string: \"%s\".", root, root)
		}
		return r.bad("Reference not allowed here", fmt.Sprintf("%s must be known when the spec loads, so it can refer only to var.*, local.* and path.*, not to %s.%s", sc.what, traversalString(tr), hint))
	}
	if sc.selfOnly != "" && root != "var" {
		return r.bad("Invalid reference in variable validation", fmt.Sprintf("A validation condition can refer only to var.%s.", sc.selfOnly))
	}
	switch root {
	case "var":
		return r.variable()
	case "local":
		return r.local()
	case "resource":
		return r.resource()
	case "module":
		return r.module()
	case "host", "each", "count", "path":
		return r.builtin(root)
	}
	hint := ""
	if len(tr) == 1 && suggest(root, rootNames) == "" {
		hint = fmt.Sprintf(" If %q is meant as text, write it in quotes: \"%s\".", root, root)
	}
	return nil, hcl2.Diagnostics{errorDiag(rangePtr(tr[0].SourceRange()), "Unknown variable",
		fmt.Sprintf("There is no variable named %q.%s References start with var., local., resource., module., host., each., count. or path.%s", root, didYouMean(root, rootNames), hint))}
}

// variable resolves var.NAME.
func (r ref) variable() (*node, hcl2.Diagnostics) {
	m := r.m
	name, ok := r.attr(1)
	if !ok {
		return r.bad("Invalid reference", "A variable reference needs a name, as in var.NAME.")
	}
	v := m.varIdx[name]
	if v == nil {
		var names []string
		for _, x := range m.vars {
			names = append(names, x.name)
		}
		return nil, hcl2.Diagnostics{errorDiag(r.rng(), "Reference to undeclared input variable",
			fmt.Sprintf("An input variable named %q is not declared in %s.%s Declare it with a variable \"%s\" block.", name, m.where(), didYouMean(name, names), name))}
	}
	return v.node, nil
}

// local resolves local.NAME.
func (r ref) local() (*node, hcl2.Diagnostics) {
	m := r.m
	name, ok := r.attr(1)
	if !ok {
		return r.bad("Invalid reference", "A local value reference needs a name, as in local.NAME.")
	}
	l := m.localIdx[name]
	if l == nil {
		var names []string
		for _, x := range m.locals {
			names = append(names, x.name)
		}
		return nil, hcl2.Diagnostics{errorDiag(r.rng(), "Reference to undeclared local value",
			fmt.Sprintf("A local value named %q is not declared in %s.%s Declare it in a locals block.", name, m.where(), didYouMean(name, names)))}
	}
	return l.node, nil
}

// resource resolves resource.TYPE.NAME[KEY].ATTRIBUTE: the type, the name, the instance key
// (required exactly when the resource repeats) and the attribute are each checked.
func (r ref) resource() (*node, hcl2.Diagnostics) {
	m, tr := r.m, r.tr
	typ, ok := r.attr(1)
	if !ok {
		return r.bad("Invalid reference", "A resource reference is resource.TYPE.NAME, optionally followed by an instance key and an attribute.")
	}
	rs := m.schemas[typ]
	if rs == nil {
		return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 1), "Unknown resource type",
			fmt.Sprintf("There is no resource type %q.%s", typ, didYouMean(typ, m.schemas.Names())))}
	}
	name, ok := r.attr(2)
	if !ok {
		return r.bad("Invalid reference", fmt.Sprintf("A resource reference needs a name after the type, as in resource.%s.NAME.", typ))
	}
	rd := m.resIdx[typ+"."+name]
	if rd == nil {
		var names []string
		for _, x := range m.resources {
			if x.typ == typ {
				names = append(names, x.name)
			}
		}
		return nil, hcl2.Diagnostics{errorDiag(r.rng(), "Reference to undeclared resource",
			fmt.Sprintf("A %s resource named %q is not declared in %s.%s", typ, name, m.where(), didYouMean(name, names)))}
	}
	i := 3
	repeated := rd.count != nil || rd.forEach != nil
	if i < len(tr) {
		if _, isIdx := tr[i].(hcl2.TraverseIndex); isIdx {
			if !repeated {
				return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, i), "Unexpected resource instance key",
					fmt.Sprintf("resource.%s has neither count nor for_each, so it has no instance keys: refer to it as resource.%s.ATTRIBUTE.", rd.key(), rd.key()))}
			}
			i++
		} else if repeated {
			what := "count"
			if rd.forEach != nil {
				what = "for_each"
			}
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, i), "Missing resource instance key",
				fmt.Sprintf("resource.%s uses %s, so a reference must name one instance, as in resource.%s[KEY].ATTRIBUTE.", rd.key(), what, rd.key()))}
		}
	}
	if i < len(tr) {
		if a, ok := tr[i].(hcl2.TraverseAttr); ok && rs.Attr(a.Name) == nil {
			var names []string
			for _, x := range rs.Attrs {
				names = append(names, x.Name)
			}
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, i), "Unsupported attribute",
				fmt.Sprintf("A %s resource has no attribute %q.%s", typ, a.Name, didYouMean(a.Name, names)))}
		}
	}
	return rd.node, nil
}

// module resolves module.NAME.OUTPUT.
func (r ref) module() (*node, hcl2.Diagnostics) {
	m := r.m
	name, ok := r.attr(1)
	if !ok {
		return r.bad("Invalid reference", "A module reference is module.NAME.OUTPUT.")
	}
	c := m.callIdx[name]
	if c == nil {
		var names []string
		for _, x := range m.calls {
			names = append(names, x.name)
		}
		return nil, hcl2.Diagnostics{errorDiag(r.rng(), "Reference to undeclared module",
			fmt.Sprintf("No module named %q is called in %s.%s", name, m.where(), didYouMean(name, names)))}
	}
	if out, ok := r.attr(2); ok && c.child != nil && c.child.outIdx[out] == nil {
		var names []string
		for _, x := range c.child.outputs {
			names = append(names, x.name)
		}
		return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 2), "Unsupported attribute",
			fmt.Sprintf("Module %q (%s) has no output %q.%s Its outputs are: %s.", name, c.source, out, didYouMean(out, names), strings.Join(names, ", ")))}
	}
	return c.end, nil
}

// builtin checks host.*, each.*, count.* and path.*: values of the evaluation, not graph nodes.
func (r ref) builtin(root string) (*node, hcl2.Diagnostics) {
	sc := r.sc
	switch root {
	case "host":
		name, ok := r.attr(1)
		if !ok || !contains(hostAttrs, name) {
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 1), "Unsupported attribute",
				fmt.Sprintf("host has the attributes %s.%s", strings.Join(hostAttrs, ", "), didYouMean(name, hostAttrs)))}
		}
		return nil, nil
	case "each":
		if !sc.each {
			return r.bad("Reference to each outside for_each", "each.key and each.value exist only inside a resource that sets for_each (and not in the for_each expression itself).")
		}
		name, _ := r.attr(1)
		if name != "key" && name != "value" {
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 1), "Unsupported attribute", "each has the attributes key and value."+didYouMean(name, []string{"key", "value"}))}
		}
		return nil, nil
	case "count":
		if !sc.count {
			return r.bad("Reference to count outside count", "count.index exists only inside a resource that sets count (and not in the count expression itself).")
		}
		if name, _ := r.attr(1); name != "index" {
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 1), "Unsupported attribute", "count has the attribute index.")}
		}
		return nil, nil
	case "path":
		name, ok := r.attr(1)
		if !ok || !contains(pathAttrs, name) {
			return nil, hcl2.Diagnostics{errorDiag(stepRange(r.tr, 1), "Unsupported attribute",
				"path has the attributes module, root and cwd."+didYouMean(name, pathAttrs))}
		}
		return nil, nil
	}
	return nil, nil
}
