package hcl

import (
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/perfprov/perfprov/hcl/funcs"
	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/spec"
)

// specState is the loader's internal state: parsed files, the module tree, the dependency graph
// and the values known at load time.
type specState struct {
	files   map[string]*hcl2.File
	rootDir string
	root    *module
	// nodes in evaluation order (dependencies first); complete only when graphOK.
	nodes      []*node
	graphOK    bool
	loadFailed bool // Load reported errors: Evaluate refuses the spec

	groupIdx   map[string]*spec.Group
	hostIdx    map[string]*spec.Host
	benchmarks []*benchmarkDecl

	// sensitiveStrings are the string values of sensitive variables, redacted from any diagnostic.
	sensitiveStrings []string
	// noSnippetRanges are source ranges that hold sensitive values: diagnostics there show no source line.
	noSnippetRanges []hcl2.Range
}

// sensitiveMark marks values derived from sensitive variables while expressions are evaluated.
const sensitiveMark = "sensitive"

// module is one module instance: the root spec or a module call's child, with its declarations.
type module struct {
	addr   string // "" for the root, "module.NAME" (nested: "module.a.module.b") otherwise
	dir    string // directory relative local paths resolve against (Resource.Dir, path.module)
	mfs    moduleFS
	funcs  map[string]function.Function
	parent *module
	call   *moduleCall // the call that made this module (nil for the root)
	source string      // canonical source, to detect a module that calls itself

	vars      []*variableDecl
	varIdx    map[string]*variableDecl
	locals    []*localDecl
	localIdx  map[string]*localDecl
	resources []*resourceDecl
	resIdx    map[string]*resourceDecl // "TYPE.NAME"
	calls     []*moduleCall
	callIdx   map[string]*moduleCall
	outputs   []*outputDecl
	outIdx    map[string]*outputDecl
	// schemas is the catalogue of resource types, the same for every module of a spec.
	schemas spec.Schemas
	// order holds resources and module calls in declaration order (*resourceDecl or *moduleCall).
	order []any

	// values known at load time (no host): root variables and what follows from them.
	staticVars   map[string]cty.Value
	staticLocals map[string]cty.Value
}

func newModule(addr, dir string, mfs moduleFS, parent *module, schemas spec.Schemas) *module {
	return &module{
		addr: addr, dir: dir, mfs: mfs, funcs: funcs.Table(mfs.read), parent: parent, schemas: schemas,
		varIdx: map[string]*variableDecl{}, localIdx: map[string]*localDecl{},
		resIdx: map[string]*resourceDecl{}, callIdx: map[string]*moduleCall{}, outIdx: map[string]*outputDecl{},
		staticVars: map[string]cty.Value{}, staticLocals: map[string]cty.Value{},
	}
}

// prefix returns the module's address followed by a dot, or "" for the root.
func (m *module) prefix() string {
	if m.addr == "" {
		return ""
	}
	return m.addr + "."
}

// where names the module for messages.
func (m *module) where() string {
	if m.addr == "" {
		return "the root spec"
	}
	return m.addr
}

type variableDecl struct {
	name        string
	typ         cty.Type
	defaults    *typeexpr.Defaults
	def         cty.Value // cty.NilVal: no default (required)
	defRange    *hcl2.Range
	description string
	sensitive   bool
	validations []*validationDecl
	declRange   hcl2.Range
	node        *node
}

type validationDecl struct {
	condition hcl2.Expression
	message   hcl2.Expression
	rng       hcl2.Range
}

type localDecl struct {
	name string
	expr hcl2.Expression
	rng  hcl2.Range
	node *node
}

type resourceDecl struct {
	typ, name  string
	schema     *spec.ResourceSchema
	mod        *module
	attrs      map[string]*hcl2.Attribute
	hostsExpr  hcl2.Expression
	hosts      []string // resolved host names; nil: every host
	allHosts   bool
	dependsOn  []hcl2.Traversal
	forEach    hcl2.Expression
	count      hcl2.Expression
	dir        string
	declRange  hcl2.Range
	typeRange  hcl2.Range
	node       *node
	depsResAll []*resourceDecl // resources this one depends on directly (through locals and modules)
}

func (r *resourceDecl) key() string { return r.typ + "." + r.name }

// addr is the resource's address without instance key.
func (r *resourceDecl) addr() string { return r.mod.prefix() + r.typ + "." + r.name }

type moduleCall struct {
	name      string
	source    string
	sourceRng hcl2.Range
	inputs    map[string]*hcl2.Attribute
	hostsExpr hcl2.Expression
	hosts     []string
	allHosts  bool
	dependsOn []hcl2.Traversal
	parent    *module
	child     *module
	declRange hcl2.Range
	start     *node // the call: its depends_on
	end       *node // every resource and output of the child
}

type outputDecl struct {
	name      string
	expr      hcl2.Expression
	sensitive bool
	rng       hcl2.Range
	node      *node
}

type benchmarkDecl struct {
	name      string
	body      map[string]*hcl2.Attribute
	hostsExpr hcl2.Expression
	hosts     []string
	allHosts  bool
	declRange hcl2.Range
}

// redact replaces sensitive values in diagnostics and drops source lines that would show them.
func (st *specState) redact(diags hcl2.Diagnostics) hcl2.Diagnostics {
	if st == nil {
		return diags
	}
	for _, d := range diags {
		if d == nil {
			continue
		}
		for _, s := range st.sensitiveStrings {
			if s == "" {
				continue
			}
			d.Summary = strings.ReplaceAll(d.Summary, s, redact.InText)
			d.Detail = strings.ReplaceAll(d.Detail, s, redact.InText)
		}
		d.Expression, d.EvalContext = nil, nil
		if d.Subject != nil {
			for _, r := range st.noSnippetRanges {
				if r.Filename == d.Subject.Filename && r.Start.Line <= d.Subject.End.Line && d.Subject.Start.Line <= r.End.Line {
					d.Extra = noSnippet{}
				}
			}
		}
	}
	return diags
}
