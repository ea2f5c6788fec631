package hcl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/hcl/funcs"
)

// EnvVarPrefix is the prefix of environment variables that set spec variables.
const EnvVarPrefix = "PERFPROV_VAR_"

// varValue is a value for a root variable and where it came from.
type varValue struct {
	val    cty.Value
	source string      // "-var", "the var-file x.hcl", "PERFPROV_VAR_x", "the default"
	rng    *hcl2.Range // where the value is written, if in a file
}

// assignRootVars gives every root variable its value: default < environment < var-files (in
// order) < -var (in order). Values are converted to the variable's type and validated.
func (s *Spec) assignRootVars(opts LoadOptions) hcl2.Diagnostics {
	a := &varAssigner{st: s.state, root: s.state.root, values: map[string]varValue{}, failed: map[string]bool{}}
	a.defaults()
	if opts.Getenv != nil {
		a.fromEnv(opts.Getenv)
	}
	for _, file := range opts.VarFiles {
		a.fromFile(file)
	}
	for _, kv := range opts.Vars {
		a.fromFlag(kv)
	}
	for _, v := range a.root.vars {
		a.finish(v)
	}
	return a.diags
}

// varAssigner collects the root variables' values from their sources, the later winning.
type varAssigner struct {
	st       *specState
	root     *module
	diags    hcl2.Diagnostics
	values   map[string]varValue
	failed   map[string]bool // set, but to a value that did not parse: not also "no value"
	declared []string
}

func (a *varAssigner) add(d ...*hcl2.Diagnostic) { a.diags = append(a.diags, d...) }

func (a *varAssigner) defaults() {
	for _, v := range a.root.vars {
		a.declared = append(a.declared, v.name)
		if v.def != cty.NilVal {
			a.values[v.name] = varValue{val: v.def, source: "its default", rng: v.defRange}
			if v.sensitive && v.defRange != nil {
				a.st.noSnippetRanges = append(a.st.noSnippetRanges, *v.defRange)
			}
		}
	}
}

// parseText parses a value given outside HCL files: strings stay raw, other types are HCL
// expressions.
func (a *varAssigner) parseText(v *variableDecl, text, source string) (cty.Value, hcl2.Diagnostics) {
	root := a.root
	// As in Terraform: a string, or a variable without a type, takes the text as it is.
	if v.typ == cty.String || v.typ == cty.DynamicPseudoType {
		return cty.StringVal(text), nil
	}
	expr, d := hclsyntax.ParseExpression([]byte(text), "<value for var."+v.name+">", hcl2.Pos{Line: 1, Column: 1})
	var val cty.Value
	if !d.HasErrors() {
		val, d = constValue(root, expr, "A variable value")
	}
	if d.HasErrors() {
		// The text is not echoed for a sensitive variable.
		what := ""
		if !v.sensitive {
			what = " " + strconv.Quote(redactShort(text))
		}
		return cty.DynamicVal, hcl2.Diagnostics{errorDiag(nil, "Invalid value for variable",
			fmt.Sprintf("The value%s for variable %q given by %s is not a valid %s: values of this type are written as HCL, such as 3, true, [\"a\", \"b\"] or { k = \"v\" }; only string variables take text as it is.",
				what, v.name, source, typeexpr.TypeString(v.typ)))}
	}
	return val, nil
}

func (a *varAssigner) fromEnv(getenv func(string) string) {
	for _, v := range a.root.vars {
		if text := getenv(EnvVarPrefix + v.name); text != "" {
			src := EnvVarPrefix + v.name
			val, d := a.parseText(v, text, src)
			a.add(d...)
			a.failed[v.name] = a.failed[v.name] || d.HasErrors()
			if !d.HasErrors() {
				a.values[v.name] = varValue{val: val, source: src}
			}
		}
	}
}

func (a *varAssigner) fromFile(file string) {
	st, root := a.st, a.root
	src, err := readSpecFile(file)
	if err != nil {
		a.add(errorDiag(nil, "Cannot read variable file", fmt.Sprintf("-var-file %s: %v.", file, err)))
		return
	}
	f, d := parseHCL(src, file)
	if f != nil {
		st.files[file] = f
	}
	a.add(d...)
	if d.HasErrors() || f == nil {
		return
	}
	attrs, d := f.Body.JustAttributes()
	a.add(d...)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
	for _, n := range names {
		at := attrs[n]
		v := root.varIdx[n]
		if v == nil {
			a.add(warnDiag(rangePtr(at.NameRange), "Value for undeclared variable",
				fmt.Sprintf("The variable file sets %q, but the spec declares no such variable, so the value is ignored.%s", n, didYouMean(n, a.declared))))
			continue
		}
		if v.sensitive {
			st.noSnippetRanges = append(st.noSnippetRanges, at.Range)
		}
		val, d := constValue(root, at.Expr, "A value in a variable file")
		a.add(d...)
		a.failed[n] = a.failed[n] || d.HasErrors()
		if !d.HasErrors() {
			a.values[n] = varValue{val: val, source: "the variable file " + file, rng: rangePtr(at.Expr.Range())}
		}
	}
}

func (a *varAssigner) fromFlag(kv string) {
	root := a.root
	name, text, ok := strings.Cut(kv, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		a.add(errorDiag(nil, "Invalid -var option",
			fmt.Sprintf("The option -var %q is not of the form NAME=VALUE.", redactAfterEquals(kv))))
		return
	}
	v := root.varIdx[name]
	if v == nil {
		a.add(errorDiag(nil, "Value for undeclared variable",
			fmt.Sprintf("-var sets %q, but the spec declares no such variable.%s Declare it with a variable \"%s\" block.", name, didYouMean(name, a.declared), name)))
		return
	}
	val, d := a.parseText(v, text, "-var")
	a.add(d...)
	a.failed[name] = a.failed[name] || d.HasErrors()
	if !d.HasErrors() {
		a.values[name] = varValue{val: val, source: "-var " + name + "=..."}
	}
}

// finish converts v's value to its type and validates it; a variable without one is an error.
func (a *varAssigner) finish(v *variableDecl) {
	st, root := a.st, a.root
	vv, ok := a.values[v.name]
	if !ok && a.failed[v.name] {
		root.staticVars[v.name] = cty.UnknownVal(v.typ)
		return
	}
	if !ok {
		a.add(errorDiag(rangePtr(v.declRange), "No value for required variable",
			fmt.Sprintf("Variable %q has no default, so it must be set with -var %s=VALUE, -var-file, or the environment variable %s%s.%s",
				v.name, v.name, EnvVarPrefix, v.name, describeSuffix(v.description))))
		root.staticVars[v.name] = cty.UnknownVal(v.typ)
		return
	}
	val := vv.val
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		rng := vv.rng
		a.add(errorDiag(rng, "Invalid value for variable",
			fmt.Sprintf("The value for variable %q from %s is not of type %s: %s.", v.name, vv.source, typeexpr.TypeString(v.typ), err)))
		root.staticVars[v.name] = cty.UnknownVal(v.typ)
		return
	}
	if v.sensitive {
		st.sensitiveStrings = append(st.sensitiveStrings, sensitiveStrings(conv)...)
		conv = conv.Mark(sensitiveMark)
	}
	root.staticVars[v.name] = conv
	a.add(validateVariable(root, v, conv, vv.source)...)
}

func redactAfterEquals(s string) string {
	if i := strings.IndexByte(s, '='); i >= 0 {
		return s[:i+1] + "..."
	}
	return s
}

// sensitiveStrings collects the strings inside a value, to redact them from messages.
func sensitiveStrings(v cty.Value) []string {
	var out []string
	_ = cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
		x, _ = x.Unmark()
		if x.IsKnown() && !x.IsNull() && x.Type() == cty.String {
			if s := x.AsString(); len(s) >= 3 {
				out = append(out, s)
			}
		}
		return true, nil
	})
	return out
}

// validateVariable runs a variable's validation blocks against its value.
func validateVariable(m *module, v *variableDecl, val cty.Value, source string) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	ctx := &hcl2.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.name: val})},
		Functions: m.funcs,
	}
	for _, vd := range v.validations {
		res, d := vd.condition.Value(ctx)
		if d.HasErrors() {
			diags = append(diags, errorDiag(rangePtr(vd.condition.Range()), "Invalid variable validation condition",
				fmt.Sprintf("The validation condition of variable %q could not be evaluated: %s.", v.name, funcs.DiagnosticsText(d))))
			continue
		}
		res, _ = res.UnmarkDeep()
		if !res.IsKnown() {
			continue
		}
		b, err := convert.Convert(res, cty.Bool)
		if err != nil || b.IsNull() {
			diags = append(diags, errorDiag(rangePtr(vd.condition.Range()), "Invalid variable validation condition",
				fmt.Sprintf("The validation condition of variable %q must be true or false.", v.name)))
			continue
		}
		if b.True() {
			continue
		}
		msg := fmt.Sprintf("Variable %q failed its validation.", v.name)
		if mv, md := vd.message.Value(ctx); !md.HasErrors() {
			mv, _ = mv.UnmarkDeep()
			if mv.IsKnown() && !mv.IsNull() && mv.Type() == cty.String {
				msg = mv.AsString()
			}
		}
		vdiag := errorDiag(rangePtr(vd.condition.Range()), "Invalid value for variable",
			fmt.Sprintf("%s\n\nThe value of var.%s comes from %s; it was checked by the validation rule at %s:%d.",
				strings.TrimSpace(msg), v.name, source, vd.rng.Filename, vd.rng.Start.Line))
		diags = append(diags, vdiag)
	}
	return diags
}

var variableSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}},
	Blocks:     []hcl2.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "condition", Required: true}, {Name: "error_message", Required: true},
}}

// reservedVariableNames would clash with module call arguments or meta-arguments.
var reservedVariableNames = map[string]bool{"source": true, "hosts": true, "depends_on": true, "count": true, "for_each": true}

// constValue evaluates an expression that may use functions but no references.
func constValue(m *module, expr hcl2.Expression, what string) (cty.Value, hcl2.Diagnostics) {
	if vars := expr.Variables(); len(vars) > 0 {
		return cty.DynamicVal, hcl2.Diagnostics{errorDiag(rangePtr(vars[0].SourceRange()), "Variables not allowed",
			fmt.Sprintf("%s must be a constant value: it cannot refer to %s.", what, traversalString(vars[0])))}
	}
	return expr.Value(&hcl2.EvalContext{Functions: m.funcs})
}

func decodeVariable(m *module, b *hcl2.Block) hcl2.Diagnostics {
	name := b.Labels[0]
	diags := checkIdentifier("variable", name, b.LabelRanges[0])
	if reservedVariableNames[name] {
		diags = append(diags, errorDiag(rangePtr(b.LabelRanges[0]), "Reserved variable name",
			fmt.Sprintf("%q is a module call argument, so it cannot be a variable name. Choose another name.", name)))
	}
	content, cdiags := b.Body.Content(variableSchema)
	diags = append(diags, cdiags...)
	v := &variableDecl{name: name, typ: cty.DynamicPseudoType, declRange: b.DefRange}
	if a := content.Attributes["type"]; a != nil {
		ty, defs, tdiags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.typ, v.defaults = ty, defs
		}
	}
	if a := content.Attributes["description"]; a != nil {
		val, d := constValue(m, a.Expr, "A variable description")
		diags = append(diags, d...)
		if !d.HasErrors() && val.Type() == cty.String && val.IsKnown() && !val.IsNull() {
			v.description = val.AsString()
		}
	}
	if a := content.Attributes["sensitive"]; a != nil {
		val, d := constValue(m, a.Expr, "sensitive")
		diags = append(diags, d...)
		if !d.HasErrors() {
			if bv, err := convert.Convert(val, cty.Bool); err != nil || bv.IsNull() || !bv.IsKnown() {
				diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid sensitive value", "sensitive must be true or false."))
			} else {
				v.sensitive = bv.True()
			}
		}
	}
	if a := content.Attributes["default"]; a != nil {
		val, d := constValue(m, a.Expr, "A variable default")
		diags = append(diags, d...)
		v.defRange = rangePtr(a.Expr.Range())
		if !d.HasErrors() {
			if v.defaults != nil {
				val = v.defaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.typ)
			if err != nil {
				diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid default value for variable",
					fmt.Sprintf("The default value of variable %q does not match its type %s: %s.", name, typeexpr.TypeString(v.typ), err)))
				conv = cty.UnknownVal(v.typ)
			}
			v.def = conv
		} else {
			v.def = cty.UnknownVal(v.typ)
		}
	}
	for _, vb := range content.Blocks {
		vc, vd := vb.Body.Content(validationSchema)
		diags = append(diags, vd...)
		if vc.Attributes["condition"] == nil || vc.Attributes["error_message"] == nil {
			continue
		}
		cond := vc.Attributes["condition"].Expr
		for _, tr := range cond.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 || getAttrName(tr[1]) != name {
				diags = append(diags, errorDiag(rangePtr(tr.SourceRange()), "Invalid reference in variable validation",
					fmt.Sprintf("The condition of variable %q can only refer to var.%s itself.", name, name)))
			}
		}
		v.validations = append(v.validations, &validationDecl{condition: cond, message: vc.Attributes["error_message"].Expr, rng: vb.DefRange})
	}
	if prev := m.varIdx[name]; prev != nil {
		return append(diags, duplicate("variable", name, prev.declRange, b.LabelRanges[0]))
	}
	m.varIdx[name] = v
	m.vars = append(m.vars, v)
	return diags
}

func decodeLocals(m *module, b *hcl2.Block) hcl2.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	// JustAttributes returns a map: restore source order.
	sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
	for _, n := range names {
		a := attrs[n]
		if prev := m.localIdx[n]; prev != nil {
			diags = append(diags, duplicate("local value", n, prev.rng, a.NameRange))
			continue
		}
		l := &localDecl{name: n, expr: a.Expr, rng: a.NameRange}
		m.localIdx[n] = l
		m.locals = append(m.locals, l)
	}
	return diags
}

// RootVariable is one root variable as loaded: its value, unless it is sensitive (then Value is
// cty.NilVal: a sensitive value never leaves the spec through this).
type RootVariable struct {
	Name      string
	Sensitive bool
	Value     cty.Value
}

// RootVariables returns the root module's variables in declaration order (a saved plan records
// the values of the ones that are not sensitive).
func (s *Spec) RootVariables() []RootVariable {
	if s == nil || s.state == nil || s.state.root == nil {
		return nil
	}
	root := s.state.root
	var out []RootVariable
	for _, v := range root.vars {
		rv := RootVariable{Name: v.name, Sensitive: v.sensitive}
		if !v.sensitive {
			rv.Value = root.staticVars[v.name]
		}
		out = append(out, rv)
	}
	return out
}
