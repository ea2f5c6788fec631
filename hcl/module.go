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
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/modules"
)

// Module calls and outputs: decoding them, loading the called modules (built-in or local) and
// checking their inputs.

// maxModuleDepth stops runaway module nesting (a module that calls itself through another).
const maxModuleDepth = 8

var outputSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"},
}}

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
