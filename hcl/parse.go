package hcl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

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
