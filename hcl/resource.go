package hcl

import (
	"fmt"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/spec"
)

// The resource block: its body checked against the catalogue's schema, its meta-arguments.

func resourceBodySchema(rs *spec.ResourceSchema) *hcl2.BodySchema {
	bs := &hcl2.BodySchema{}
	for _, a := range rs.Attrs {
		bs.Attributes = append(bs.Attributes, hcl2.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	for _, n := range spec.MetaArguments {
		bs.Attributes = append(bs.Attributes, hcl2.AttributeSchema{Name: n})
	}
	return bs
}

func decodeResource(m *module, b *hcl2.Block) hcl2.Diagnostics {
	typ, name := b.Labels[0], b.Labels[1]
	diags := checkIdentifier("resource", name, b.LabelRanges[1])
	rs := m.schemas[typ]
	if rs == nil {
		names := m.schemas.Names()
		return append(diags, errorDiag(rangePtr(b.LabelRanges[0]), "Unknown resource type",
			fmt.Sprintf("There is no resource type %q.%s The types are: %s.", typ, didYouMean(typ, names), strings.Join(names, ", "))))
	}
	content, cdiags := b.Body.Content(resourceBodySchema(rs))
	diags = append(diags, cdiags...)
	r := &resourceDecl{typ: typ, name: name, schema: rs, mod: m, attrs: map[string]*hcl2.Attribute{},
		dir: m.dir, declRange: b.DefRange, typeRange: b.LabelRanges[0], allHosts: true}
	for n, a := range content.Attributes {
		switch n {
		case "hosts":
			r.hostsExpr = a.Expr
		case "depends_on":
			trs, d := decodeDependsOn(a.Expr)
			diags = append(diags, d...)
			r.dependsOn = trs
		case "for_each":
			r.forEach = a.Expr
		case "count":
			r.count = a.Expr
		default:
			r.attrs[n] = a
		}
	}
	if r.forEach != nil && r.count != nil {
		later := content.Attributes["count"]
		if fe := content.Attributes["for_each"]; fe.Range.Start.Byte > later.Range.Start.Byte {
			later = fe
		}
		diags = append(diags, errorDiag(rangePtr(later.NameRange), "Conflicting count and for_each",
			fmt.Sprintf("Resource %s sets both count and for_each; use one of them.", r.key())))
	}
	diags = append(diags, checkOneOf(rs, r.attrs, b)...)
	for _, as := range rs.Attrs {
		if with := r.attrs[as.RequiredWith]; as.RequiredWith != "" && with != nil && r.attrs[as.Name] == nil {
			diags = append(diags, errorDiag(rangePtr(with.NameRange), fmt.Sprintf("Missing %s for %s", as.Name, as.RequiredWith),
				fmt.Sprintf("Resource %s sets %s, so it needs %s: %s.", r.key(), as.RequiredWith, as.Name, as.RequiredWhy)))
		}
	}
	if prev := m.resIdx[r.key()]; prev != nil {
		return append(diags, duplicate("resource", r.key(), prev.declRange, b.LabelRanges[1]))
	}
	m.resIdx[r.key()] = r
	m.resources = append(m.resources, r)
	m.order = append(m.order, r)
	return diags
}

// checkOneOf enforces the schema's groups of which exactly one attribute must be set.
func checkOneOf(rs *spec.ResourceSchema, attrs map[string]*hcl2.Attribute, b *hcl2.Block) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	for _, group := range rs.OneOf {
		var set []*hcl2.Attribute
		for _, n := range group {
			if a := attrs[n]; a != nil {
				set = append(set, a)
			}
		}
		// Both set is checked on the values (one may be null by a condition); none set is wrong here.
		if len(set) == 0 && !misspelled(b, group) {
			diags = append(diags, errorDiag(rangePtr(b.DefRange), "Missing required argument",
				fmt.Sprintf("A %s resource needs exactly one of %s; none is set.", rs.Type, quoteList(group))))
		}
	}
	return diags
}

// decodeDependsOn reads depends_on = [resource.TYPE.NAME, module.NAME, ...] without evaluating it.
func decodeDependsOn(expr hcl2.Expression) ([]hcl2.Traversal, hcl2.Diagnostics) {
	exprs, diags := hcl2.ExprList(expr)
	if diags.HasErrors() {
		return nil, hcl2.Diagnostics{errorDiag(rangePtr(expr.Range()), "Invalid depends_on",
			"depends_on must be a list of references such as [resource.file.config, module.libcap].")}
	}
	var out []hcl2.Traversal
	for _, e := range exprs {
		tr, d := hcl2.AbsTraversalForExpr(e)
		if d.HasErrors() || (tr.RootName() != "resource" && tr.RootName() != "module") {
			diags = append(diags, errorDiag(rangePtr(e.Range()), "Invalid depends_on reference",
				"Each depends_on entry must be a reference to a resource (resource.TYPE.NAME) or a module (module.NAME), written without quotes."))
			continue
		}
		out = append(out, tr)
	}
	return out, diags
}
