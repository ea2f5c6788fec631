package hcl

import (
	"io"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// LoadOptions are the inputs of a spec that come from outside it.
type LoadOptions struct {
	// Vars are -var NAME=VALUE arguments in command-line order (later wins).
	Vars []string
	// VarFiles are -var-file paths in command-line order; -var values win over them.
	VarFiles []string
	// Getenv reads PERFPROV_VAR_<name> (the weakest source). Nil means no environment.
	Getenv func(string) string
}

// Load parses and checks the spec at path (a directory of .hcl files, or one file). It returns
// every problem it finds, not just the first. Files are available from Files even when loading
// failed, so that diagnostics can show source snippets.
func Load(path string, opts LoadOptions) (*Spec, hcl2.Diagnostics) {
	panic("not implemented yet")
}

// Files returns the parsed files by name, for printing diagnostics with snippets.
func (s *Spec) Files() map[string]*hcl2.File { return nil }

// Evaluate resolves the spec for one host with its facts (an object; cty.DynamicVal offline,
// which makes every value that reads host.facts unknown).
func (s *Spec) Evaluate(host string, facts cty.Value) (*HostConfig, hcl2.Diagnostics) {
	panic("not implemented yet")
}

// Targets resolves -limit: names of hosts or groups (empty: every host), in declaration order.
// An unknown name is an error that says which names exist.
func (s *Spec) Targets(limit []string) ([]*Host, error) {
	panic("not implemented yet")
}

// WriteDiagnostics prints diagnostics for a person: file:line:col, a source snippet, the summary
// and the detail. files may be nil (no snippets).
func WriteDiagnostics(w io.Writer, diags hcl2.Diagnostics, files map[string]*hcl2.File, color bool) {
	panic("not implemented yet")
}
