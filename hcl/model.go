// Package hcl loads perfprov specs: HCL files that declare hosts, groups, connection settings,
// variables, resources, modules, rollout and benchmarks.
//
// Loading is in two steps, as in Terraform: Load parses and checks everything that can be checked
// without a host (syntax, schemas, references, types of static values, the dependency graph), and
// Evaluate resolves one host's resources with that host's facts. Expressions stay unevaluated until
// the context they read exists; offline, facts are unknown values and show as such.
package hcl

import "github.com/perfprov/perfprov/spec"

// Spec is a loaded spec: a directory of .hcl files (or one file) and the modules it calls.
type Spec struct {
	// Dir is the directory the spec was loaded from.
	Dir string
	// Hosts in declaration order, with group membership and connection settings resolved.
	Hosts []*spec.Host
	// Groups by declaration order; membership is the union of both sides of the declaration.
	Groups  []*spec.Group
	Rollout spec.Rollout

	// unexported loader state (parsed bodies, variables, locals, module tree) lives in other files.
	state *specState
}
