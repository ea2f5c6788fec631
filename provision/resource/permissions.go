package resource

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// permissions: an existing path has the given owner, group and mode. The path is made by an
// earlier resource; a missing one is an error (or pending while a dependency changes).
type permissions struct {
	base
	path string
	own  ownership
}

// permissionsKind is the permissions type: its schema (what validate checks) beside its implementation.
var permissionsKind = Kind{New: newPermissions, Schema: &spec.ResourceSchema{
	Type: "permissions",
	Doc:  "An existing path has the given owner, group and mode. Ownership changes come before the mode.",
	Attrs: []spec.AttrSchema{
		{Name: "path", Type: cty.String, Required: true, Check: text(hostPath("path")), Doc: "Absolute path that must exist (made by an earlier resource)."},
		{Name: "owner", Type: cty.String, Check: text(loginName("user")), Doc: "Owner user name (unchanged when unset)."},
		{Name: "group", Type: cty.String, Check: text(loginName("group")), Doc: "Group name (unchanged when unset)."},
		{Name: "mode", Type: cty.String, Check: text(spec.CheckMode), Doc: `Octal mode such as "0750" (unchanged when unset).`},
	},
}}

func newPermissions(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	p := &permissions{base: base{r}}
	var err error
	p.path, _, err = a.str("path")
	e.add(err)
	p.own, err = readOwnership(a, "", "", "")
	e.add(err)
	return p, e.err()
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (p *permissions) ReadsInShell() bool { return true }

func (p *permissions) ReadScript() string { return statSnippet(p.path) }

func (p *permissions) Prelude() prelude.Plan { return prelude.Plan{Stat: []string{p.path}} }

func (p *permissions) Parse(s Section) (State, error) { return parsePathState(kv(s.Stdout)) }

func (p *permissions) Diff(st State) (*Diff, error) {
	ps := st.(pathState)
	if !ps.exists {
		return nil, notReady("%s does not exist (permissions only change an existing path)", p.path)
	}
	ch := p.own.diff(ps)
	if len(ch) == 0 {
		return &Diff{}, nil
	}
	return &Diff{Action: Update, Changes: ch}, nil
}

func (p *permissions) Apply(ctx context.Context, t *Target, st State, d *Diff) error {
	return applyScript(ctx, t, p, st, d, "permissions on "+p.path)
}

func (p *permissions) ApplyScript(st State, _ *Diff) (string, bool) {
	return "set -e\n" + p.own.script(p.path, st.(pathState)), true
}

func (p *permissions) ApplyOutcome(_ State, res *transport.Result) error {
	return exitOutcome(res, "permissions on "+p.path)
}

func (p *permissions) Fingerprint() string {
	return Fingerprint("permissions", p.path, p.own.owner, p.own.group, fmtMode(p.own.mode))
}
