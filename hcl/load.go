package hcl

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

// LoadOptions are the inputs of a spec that come from outside it.
type LoadOptions struct {
	// Vars are -var NAME=VALUE arguments in command-line order (later wins).
	Vars []string
	// VarFiles are -var-file paths in command-line order; -var values win over them.
	VarFiles []string
	// Inventory files, when given, replace the spec's own host, group and connection blocks.
	Inventory []string
	// Getenv reads PERFPROV_VAR_<name> (the weakest source). Nil means no environment.
	Getenv func(string) string
	// Resources is the catalogue of resource types (provision/resource.Schemas): resource blocks
	// are decoded and their values checked by it. Without one, no resource type exists.
	Resources spec.Schemas
}

// Load parses and checks the spec at path (a directory of .hcl files, or one file). It returns
// every problem it finds, not just the first. Files are available from Files even when loading
// failed, so that diagnostics can show source snippets. The returned Spec is never nil.
func Load(path string, opts LoadOptions) (sp *Spec, diags hcl2.Diagnostics) {
	sp = &Spec{Dir: path, state: &specState{files: map[string]*hcl2.File{}}}
	defer func() {
		if r := recover(); r != nil {
			sp.state.loadFailed = true
			diags = append(diags, errorDiag(nil, "Internal error while loading the spec",
				fmt.Sprintf("perfprov failed unexpectedly (%v). This is a bug in perfprov; please report it with the spec that caused it.\n%s", r, firstStackLines(debug.Stack()))))
		}
		diags = sp.state.redact(dedupe(diags))
		sortDiagnostics(diags)
	}()
	diags = sp.load(path, opts)
	sp.state.loadFailed = diags.HasErrors()
	return sp, diags
}

func firstStackLines(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

// Files returns the parsed files by name, for printing diagnostics with snippets.
func (s *Spec) Files() map[string]*hcl2.File {
	if s == nil || s.state == nil {
		return nil
	}
	return s.state.files
}

// Host returns the named host, or nil.
func (s *Spec) Host(name string) *spec.Host {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Targets resolves -limit: names of hosts or groups, and @FILEs of them (empty: every host), in
// declaration order. An unknown name is an error that says which names exist.
func (s *Spec) Targets(limit []string) ([]*spec.Host, error) {
	return s.Select(limit, spec.Shard{})
}

// Select is the hosts a run works on: those -limit names (Targets; an entry @FILE stands for the
// names in FILE, one a line, as in Ansible's retry files) that are also in the shard
// (-shard K/N; the zero Shard is every host), in declaration order. It is the one place where a
// command's hosts are chosen, so that every command shards alike. A shard that holds none of
// them is an empty list, not an error: a fleet may have fewer hosts than shards for a while.
func (s *Spec) Select(limit []string, shard spec.Shard) ([]*spec.Host, error) {
	hosts, err := s.limit(limit)
	if err != nil || !shard.IsSet() {
		return hosts, err
	}
	var out []*spec.Host
	for _, h := range hosts {
		if shard.Contains(h.Name) {
			out = append(out, h)
		}
	}
	return out, nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// ResourceCount returns the number of resource blocks in the spec and its modules (before
// count and for_each expand them).
func (s *Spec) ResourceCount() int {
	if s.state == nil || s.state.root == nil {
		return 0
	}
	n := 0
	var walk func(m *module)
	walk = func(m *module) {
		n += len(m.resources)
		for _, c := range m.calls {
			if c.child != nil {
				walk(c.child)
			}
		}
	}
	walk(s.state.root)
	return n
}

// HCLFiles returns the .hcl files a spec path names: the file itself, or the directory's .hcl
// files sorted by name. It is what fmt formats and what Load reads.
func HCLFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, filepath.Join(path, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// Evaluate resolves the spec for one host with its facts (an object; cty.DynamicVal offline,
// which makes every value that reads host.facts unknown).
func (s *Spec) Evaluate(host string, facts cty.Value) (hc *spec.HostConfig, diags hcl2.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			hc = nil
			diags = append(diags, errorDiag(nil, "Internal error while evaluating the spec",
				fmt.Sprintf("perfprov failed unexpectedly evaluating host %q (%v). This is a bug in perfprov; please report it.\n%s", host, r, firstStackLines(debug.Stack()))))
		}
		if s.state != nil {
			diags = s.state.redact(diags)
		}
	}()
	if s.state == nil || s.state.root == nil || !s.state.graphOK || s.state.loadFailed {
		return nil, hcl2.Diagnostics{errorDiag(nil, "Spec not loaded", "Evaluate needs a spec that loaded without errors.")}
	}
	h := s.Host(host)
	if h == nil {
		var names []string
		for _, x := range s.Hosts {
			names = append(names, x.Name)
		}
		return nil, hcl2.Diagnostics{errorDiag(nil, "Unknown host",
			fmt.Sprintf("The spec declares no host named %q.%s", host, didYouMean(host, names)))}
	}
	if facts == cty.NilVal {
		facts = cty.DynamicVal
	}
	return s.evaluate(h, facts, false)
}

// dedupe drops diagnostics that repeat one already reported at the same position (a module
// loaded twice, a broken expression that is also unknown), keeping the first.
func dedupe(diags hcl2.Diagnostics) hcl2.Diagnostics {
	type key struct {
		file    string
		start   int
		summary string
	}
	seen := map[key]bool{}
	var out hcl2.Diagnostics
	for _, d := range diags {
		if d == nil {
			continue
		}
		var k key
		if d.Subject != nil {
			k = key{file: d.Subject.Filename, start: d.Subject.Start.Byte, summary: d.Summary + "\x00" + d.Detail}
		} else {
			k = key{file: "", start: -1, summary: d.Summary + "\x00" + d.Detail}
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
