package hcl

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/modules"
	"github.com/perfprov/perfprov/spec"
)

// maxModuleDepth stops runaway module nesting (a module that calls itself through another).
const maxModuleDepth = 8

var rootSchema = &hcl2.BodySchema{Blocks: []hcl2.BlockHeaderSchema{
	{Type: "host", LabelNames: []string{"name"}},
	{Type: "group", LabelNames: []string{"name"}},
	{Type: "connection"},
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "locals"},
	{Type: "resource", LabelNames: []string{"type", "name"}},
	{Type: "module", LabelNames: []string{"name"}},
	{Type: "output", LabelNames: []string{"name"}},
	{Type: "rollout"},
	{Type: "benchmark", LabelNames: []string{"name"}},
}}

// rootOnlyBlocks may appear only in the root spec, not in modules.
var rootOnlyBlocks = map[string]bool{"host": true, "group": true, "connection": true, "rollout": true, "benchmark": true}

var variableSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"}},
	Blocks:     []hcl2.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "condition", Required: true}, {Name: "error_message", Required: true},
}}

var outputSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"},
}}

// reservedVariableNames would clash with module call arguments or meta-arguments.
var reservedVariableNames = map[string]bool{"source": true, "hosts": true, "depends_on": true, "count": true, "for_each": true}

// rawRoot holds the root-only blocks until hosts and groups are decoded.
type rawRoot struct {
	hosts, groups, connections, rollouts, benchmarks []*hcl2.Block
}

// add keeps a root-only block for later decoding; it reports whether b was one.
func (r *rawRoot) add(b *hcl2.Block) bool {
	switch b.Type {
	case "host":
		r.hosts = append(r.hosts, b)
	case "group":
		r.groups = append(r.groups, b)
	case "connection":
		r.connections = append(r.connections, b)
	case "rollout":
		r.rollouts = append(r.rollouts, b)
	case "benchmark":
		r.benchmarks = append(r.benchmarks, b)
	default:
		return false
	}
	return true
}

func (s *Spec) load(p string, opts LoadOptions) hcl2.Diagnostics {
	st := s.state
	var diags hcl2.Diagnostics
	info, err := os.Stat(p)
	if err != nil {
		return hcl2.Diagnostics{errorDiag(nil, "Cannot read the spec", fmt.Sprintf("The spec path %q cannot be read: %v.", p, err))}
	}
	dir := p
	if !info.IsDir() {
		dir = filepath.Dir(p)
	}
	s.Dir = dir
	st.rootDir = dir
	names, err := HCLFiles(p)
	if err != nil {
		return hcl2.Diagnostics{errorDiag(nil, "Cannot read the spec", fmt.Sprintf("The spec directory %q cannot be listed: %v.", p, err))}
	}
	if len(names) == 0 {
		return hcl2.Diagnostics{errorDiag(nil, "No spec files", fmt.Sprintf("The directory %q holds no .hcl files. A spec is a directory of .hcl files, or one .hcl file.", p))}
	}
	root := newModule("", dir, moduleFS{dir: dir}, nil, opts.Resources)
	root.source = realDir(dir)
	st.root = root
	raw := &rawRoot{}
	for _, name := range names {
		src, err := readSpecFile(name)
		if err != nil {
			diags = append(diags, readDiag("Cannot read a spec file", name, err))
			continue
		}
		diags = append(diags, s.parseModuleFile(root, name, src, raw)...)
	}
	if len(opts.Inventory) > 0 {
		diags = append(diags, s.parseInventory(opts.Inventory, raw)...)
	}
	diags = append(diags, s.loadChildren(root, 1)...)

	// Hosts need variables and locals known at load time; resources need hosts to resolve their
	// hosts lists; evaluation needs everything.
	diags = append(diags, s.assignRootVars(opts)...)
	diags = append(diags, s.buildGraph()...)
	if st.graphOK {
		s.evalStatic()
	}
	diags = append(diags, s.decodeHostsAndGroups(raw)...)
	diags = append(diags, s.decodeRollout(raw.rollouts)...)
	diags = append(diags, s.decodeBenchmarks(raw.benchmarks)...)
	diags = append(diags, s.resolveTargets()...)
	if st.graphOK && !diags.HasErrors() {
		diags = append(diags, s.checkEveryHost()...)
	} else if st.graphOK {
		// Still look for errors in expressions, but only where they add to what is known.
		diags = mergeDiags(diags, s.checkEveryHost())
	}
	return diags
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// parseModuleFile parses one file of module m and decodes its blocks. raw collects root-only
// blocks (nil for child modules).
func (s *Spec) parseModuleFile(m *module, name string, src []byte, raw *rawRoot) hcl2.Diagnostics {
	f, diags := parseHCL(src, name)
	if f == nil {
		return diags
	}
	s.state.files[name] = f
	if f.Body == nil {
		return diags
	}
	content, cdiags := f.Body.Content(rootSchema)
	diags = append(diags, cdiags...)
	if content == nil {
		return diags
	}
	for _, b := range content.Blocks {
		if rootOnlyBlocks[b.Type] && raw == nil {
			diags = append(diags, errorDiag(rangePtr(b.TypeRange), "Block not allowed in a module",
				fmt.Sprintf("A %s block belongs in the root spec: modules declare variables, locals, resources, module calls and outputs. Move it to the root spec.", b.Type)))
			continue
		}
		if raw.add(b) {
			continue
		}
		switch b.Type {
		case "variable":
			diags = append(diags, decodeVariable(m, b)...)
		case "locals":
			diags = append(diags, decodeLocals(m, b)...)
		case "resource":
			diags = append(diags, decodeResource(m, b)...)
		case "module":
			diags = append(diags, decodeModuleCall(m, b)...)
		case "output":
			diags = append(diags, decodeOutput(m, b)...)
		}
	}
	return diags
}

func checkIdentifier(kind string, name string, rng hcl2.Range) hcl2.Diagnostics {
	if !hclsyntax.ValidIdentifier(name) {
		return hcl2.Diagnostics{errorDiag(&rng, "Invalid "+kind+" name",
			fmt.Sprintf("%q is not a valid %s name: use letters, digits, underscores and dashes, starting with a letter or underscore.", name, kind))}
	}
	return nil
}

func duplicate(kind, name string, first, again hcl2.Range) *hcl2.Diagnostic {
	return errorDiag(&again, "Duplicate "+kind,
		fmt.Sprintf("A %s named %q was already declared at %s:%d. Each %s needs a unique name.", kind, name, first.Filename, first.Start.Line, kind))
}

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
	if typ == "source" && r.attrs["url"] != nil && r.attrs["sha256"] == nil {
		diags = append(diags, errorDiag(rangePtr(r.attrs["url"].NameRange), "Missing sha256 for url",
			fmt.Sprintf("Resource %s downloads a url, so it needs sha256: the archive is verified before it is used.", r.key())))
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

func decodeModuleCall(m *module, b *hcl2.Block) hcl2.Diagnostics {
	name := b.Labels[0]
	diags := checkIdentifier("module", name, b.LabelRanges[0])
	attrs, adiags := b.Body.JustAttributes()
	diags = append(diags, adiags...)
	c := &moduleCall{name: name, inputs: map[string]*hcl2.Attribute{}, parent: m, declRange: b.DefRange, allHosts: true}
	for n, a := range attrs {
		switch n {
		case "source":
			c.sourceRng = a.Expr.Range()
			v, d := constValue(m, a.Expr, "A module source")
			diags = append(diags, d...)
			if !d.HasErrors() {
				if v.Type() != cty.String || v.IsNull() || !v.IsKnown() {
					diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid module source", `source must be a string such as "./modules/x" or "builtin/perf_users".`))
				} else {
					c.source = v.AsString()
				}
			}
		case "hosts":
			c.hostsExpr = a.Expr
		case "depends_on":
			trs, d := decodeDependsOn(a.Expr)
			diags = append(diags, d...)
			c.dependsOn = trs
		case "count", "for_each", "providers", "version":
			diags = append(diags, errorDiag(rangePtr(a.NameRange), "Unsupported module argument",
				fmt.Sprintf("Module calls do not support %q. Declare one module block per instance instead.", n)))
		default:
			c.inputs[n] = a
		}
	}
	if attrs["source"] == nil && !adiags.HasErrors() {
		diags = append(diags, errorDiag(rangePtr(b.DefRange), "Missing required argument",
			fmt.Sprintf(`Module %q needs a source: "./DIR" for a module on disk or "builtin/NAME" for a built-in module.`, name)))
	}
	if prev := m.callIdx[name]; prev != nil {
		return append(diags, duplicate("module", name, prev.declRange, b.LabelRanges[0]))
	}
	m.callIdx[name] = c
	m.calls = append(m.calls, c)
	m.order = append(m.order, c)
	return diags
}

func decodeOutput(m *module, b *hcl2.Block) hcl2.Diagnostics {
	name := b.Labels[0]
	diags := checkIdentifier("output", name, b.LabelRanges[0])
	content, cdiags := b.Body.Content(outputSchema)
	diags = append(diags, cdiags...)
	o := &outputDecl{name: name, rng: b.DefRange}
	if a := content.Attributes["value"]; a != nil {
		o.expr = a.Expr
	} else {
		o.expr = hcl2.StaticExpr(cty.NullVal(cty.DynamicPseudoType), b.DefRange)
	}
	if a := content.Attributes["sensitive"]; a != nil {
		val, d := constValue(m, a.Expr, "sensitive")
		diags = append(diags, d...)
		if !d.HasErrors() && val.Type() == cty.Bool && val.IsKnown() && !val.IsNull() {
			o.sensitive = val.True()
		}
	}
	if a := content.Attributes["description"]; a != nil {
		_, d := constValue(m, a.Expr, "An output description")
		diags = append(diags, d...)
	}
	if prev := m.outIdx[name]; prev != nil {
		return append(diags, duplicate("output", name, prev.rng, b.LabelRanges[0]))
	}
	m.outIdx[name] = o
	m.outputs = append(m.outputs, o)
	return diags
}

// builtinNames lists the built-in modules.
func builtinNames() []string {
	entries, err := fs.ReadDir(modules.FS, "builtin")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// loadChildren loads the modules that m calls, recursively.
func (s *Spec) loadChildren(m *module, depth int) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	for _, c := range m.calls {
		if c.source == "" {
			continue
		}
		child, d := s.loadModule(m, c, depth)
		diags = append(diags, d...)
		if child == nil {
			continue
		}
		c.child = child
		child.call = c
		diags = append(diags, s.loadChildren(child, depth+1)...)
		diags = append(diags, checkModuleInputs(c)...)
	}
	return diags
}

func (s *Spec) loadModule(parent *module, c *moduleCall, depth int) (*module, hcl2.Diagnostics) {
	src := c.source
	addr := parent.prefix() + "module." + c.name
	notFound := func(detail string) hcl2.Diagnostics {
		return hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Module source not found", detail)}
	}
	if depth > maxModuleDepth {
		return nil, hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Modules nested too deeply",
			fmt.Sprintf("Module %s is nested more than %d levels deep; a module probably calls itself.", addr, maxModuleDepth))}
	}
	type file struct {
		name string
		src  []byte
	}
	var files []file
	var child *module
	switch {
	case strings.HasPrefix(src, "builtin/"):
		bname := strings.TrimPrefix(src, "builtin/")
		fdir := path.Join("builtin", bname)
		entries, err := fs.ReadDir(modules.FS, fdir)
		if bname == "" || strings.Contains(bname, "/") || err != nil {
			return nil, notFound(fmt.Sprintf("There is no built-in module %q.%s The built-in modules are: %s.", src,
				didYouMean(bname, builtinNames()), strings.Join(prefixAll("builtin/", builtinNames()), ", ")))
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
				continue
			}
			b, err := fs.ReadFile(modules.FS, path.Join(fdir, e.Name()))
			if err != nil {
				continue
			}
			files = append(files, file{name: path.Join(fdir, e.Name()), src: b})
		}
		// A built-in module has no directory on disk: relative paths given to it (patch files,
		// tarballs) are the caller's, so they resolve against the caller's directory.
		child = newModule(addr, parent.dir, moduleFS{fsys: modules.FS, dir: fdir}, parent, parent.schemas)
		child.source = src
	case strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") || filepath.IsAbs(src):
		if parent.mfs.fsys != nil {
			return nil, hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Invalid module source",
				"A built-in module can only call other built-in modules.")}
		}
		dir := src
		if !filepath.IsAbs(src) {
			dir = filepath.Join(parent.mfs.dir, src)
		}
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			return nil, notFound(fmt.Sprintf("The module directory %q (from source %q) does not exist or is not a directory.", dir, src))
		}
		// A local module lies in the spec's own tree, symbolic links resolved: a source such as
		// "../../etc" must not read (and quote in diagnostics) files from anywhere else.
		if real, top := realDir(dir), realDir(s.state.rootDir); !within(real, top) {
			return nil, hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Module source outside the spec",
				fmt.Sprintf("Module source %q resolves to %q, which is outside the spec directory %q. A local module must be inside the spec's directory tree: move or copy it there.", src, real, top))}
		}
		names, err := HCLFiles(dir)
		if err != nil || len(names) == 0 {
			return nil, notFound(fmt.Sprintf("The module directory %q holds no .hcl files.", dir))
		}
		for _, n := range names {
			b, err := readSpecFile(n)
			if err != nil {
				return nil, hcl2.Diagnostics{readDiag("Cannot read a module file", n, err)}
			}
			files = append(files, file{name: n, src: b})
		}
		child = newModule(addr, dir, moduleFS{dir: dir}, parent, parent.schemas)
		child.source = realDir(dir)
	default:
		return nil, hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Invalid module source",
			fmt.Sprintf(`Module source %q is neither a local directory ("./DIR" or "../DIR") nor a built-in module ("builtin/NAME"). Registries and URLs are not supported.`, src))}
	}
	for a := parent; a != nil; a = a.parent {
		if a.source == child.source {
			return nil, hcl2.Diagnostics{errorDiag(rangePtr(c.sourceRng), "Module calls itself",
				fmt.Sprintf("Module %s has source %q, which is %s itself or one of the modules calling it.", addr, src, a.where()))}
		}
	}
	var diags hcl2.Diagnostics
	for _, f := range files {
		diags = append(diags, s.parseModuleFile(child, f.name, f.src, nil)...)
	}
	return child, diags
}

func prefixAll(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}

// checkModuleInputs reports inputs the module does not declare and required inputs not given.
func checkModuleInputs(c *moduleCall) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	child := c.child
	var declared []string
	for _, v := range child.vars {
		declared = append(declared, v.name)
	}
	var names []string
	for n := range c.inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if child.varIdx[n] == nil {
			a := c.inputs[n]
			diags = append(diags, errorDiag(rangePtr(a.NameRange), "Unsupported argument",
				fmt.Sprintf("Module %q (%s) has no input named %q.%s Its inputs are: %s.", c.name, c.source, n, didYouMean(n, declared), strings.Join(declared, ", "))))
		}
	}
	for _, v := range child.vars {
		if v.def == cty.NilVal && c.inputs[v.name] == nil {
			diags = append(diags, errorDiag(rangePtr(c.declRange), "Missing required module input",
				fmt.Sprintf("Module %q (%s) needs the input %q, which has no default.%s", c.name, c.source, v.name, describeSuffix(v.description))))
		}
	}
	return diags
}

func describeSuffix(desc string) string {
	if desc == "" {
		return ""
	}
	return " It is described as: " + strings.TrimSuffix(desc, ".") + "."
}

func getAttrName(t hcl2.Traverser) string {
	switch x := t.(type) {
	case hcl2.TraverseAttr:
		return x.Name
	case hcl2.TraverseRoot:
		return x.Name
	}
	return ""
}

// traversalString renders a traversal as source text, e.g. var.x or resource.file.a["k"].
func traversalString(tr hcl2.Traversal) string {
	var b strings.Builder
	for _, t := range tr {
		switch x := t.(type) {
		case hcl2.TraverseRoot:
			b.WriteString(x.Name)
		case hcl2.TraverseAttr:
			b.WriteString("." + x.Name)
		case hcl2.TraverseIndex:
			b.WriteString("[" + keyString(x.Key) + "]")
		case hcl2.TraverseSplat:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

func keyString(k cty.Value) string {
	if !k.IsKnown() || k.IsNull() {
		return "?"
	}
	switch k.Type() {
	case cty.String:
		return fmt.Sprintf("%q", k.AsString())
	case cty.Number:
		return k.AsBigFloat().Text('f', -1)
	}
	return "?"
}

// misspelled reports whether the block has an unsupported argument that looks like a misspelling
// of one of names: that argument's own error already says what is wrong.
func misspelled(b *hcl2.Block, names []string) bool {
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return false
	}
	for n := range body.Attributes {
		if !contains(names, n) && suggest(n, names) != "" {
			return true
		}
	}
	return false
}

// inventorySchema is what an inventory file may hold: where the hosts are and how to reach them.
var inventorySchema = &hcl2.BodySchema{Blocks: []hcl2.BlockHeaderSchema{
	{Type: "host", LabelNames: []string{"name"}},
	{Type: "group", LabelNames: []string{"name"}},
	{Type: "connection"},
}}

// parseInventory replaces the spec's own host, group and connection blocks with those of the
// inventory files, as Ansible's -i does: the same spec then runs against another fleet.
func (s *Spec) parseInventory(paths []string, raw *rawRoot) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	raw.hosts, raw.groups, raw.connections = nil, nil, nil
	for _, name := range paths {
		src, err := readSpecFile(name)
		if err != nil {
			diags = append(diags, errorDiag(nil, "Cannot read the inventory",
				fmt.Sprintf("Reading the inventory file %s failed: %v.", name, err)))
			continue
		}
		f, pdiags := parseHCL(src, name)
		diags = append(diags, pdiags...)
		if f == nil || f.Body == nil {
			continue
		}
		s.state.files[name] = f
		content, cdiags := f.Body.Content(inventorySchema)
		for _, d := range cdiags {
			if d.Summary == "Unsupported block type" || d.Summary == "Unsupported argument" {
				d.Detail = "An inventory file holds only host, group and connection blocks; the rest of the spec stays in the spec."
			}
		}
		diags = append(diags, cdiags...)
		if content == nil {
			continue
		}
		for _, b := range content.Blocks {
			raw.add(b) // inventorySchema admits only host, group and connection
		}
	}
	return diags
}
