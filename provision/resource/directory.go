package resource

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// directory: a directory exists with the given owner, group and mode.
type directory struct {
	base
	path string
	own  ownership
}

// directoryKind is the directory type: its schema (what validate checks) beside its implementation.
var directoryKind = Kind{New: newDirectory, Schema: &spec.ResourceSchema{
	Type: "directory",
	Doc:  "A directory exists with the given owner, group and mode (parents are created as needed).",
	Attrs: []spec.AttrSchema{
		{Name: "path", Type: cty.String, Required: true, Check: text(hostPath("path")), Doc: "Absolute path."},
		{Name: "owner", Type: cty.String, Check: text(loginName("user")), Doc: "Owner user name (unchanged when unset)."},
		{Name: "group", Type: cty.String, Check: text(loginName("group")), Doc: "Group name (unchanged when unset)."},
		{Name: "mode", Type: cty.String, Check: text(spec.CheckMode), Doc: `Octal mode such as "0755" (unchanged when unset).`},
	},
}}

func newDirectory(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	d := &directory{base: base{r}}
	var err error
	d.path, _, err = a.str("path")
	e.add(err)
	d.own, err = readOwnership(a, "", "", "")
	e.add(err)
	return d, e.err()
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (d *directory) ReadsInShell() bool { return true }

func (d *directory) ReadScript() string { return statSnippet(d.path) }

func (d *directory) Prelude() prelude.Plan { return prelude.Plan{Stat: []string{d.path}} }

func (d *directory) Parse(s Section) (State, error) { return parsePathState(kv(s.Stdout)) }

func (d *directory) Diff(st State) (*Diff, error) {
	ps := st.(pathState)
	if ps.exists && ps.kind != "directory" {
		return nil, fmt.Errorf("%s exists and is a %s, not a directory; remove it first", d.path, ps.kind)
	}
	ch := d.own.diff(ps)
	if !ps.exists {
		return &Diff{Action: Create, Changes: append([]Change{{Attr: "path", New: d.path}}, ch...)}, nil
	}
	if len(ch) == 0 {
		return &Diff{}, nil
	}
	return &Diff{Action: Update, Changes: ch}, nil
}

func (d *directory) Apply(ctx context.Context, t *Target, st State, diff *Diff) error {
	return applyScript(ctx, t, d, st, diff, "directory "+d.path)
}

func (d *directory) ApplyScript(st State, _ *Diff) (string, bool) {
	ps := st.(pathState)
	script := "set -e\n"
	own := d.own
	if !ps.exists {
		// Born private: the final owner and mode are set before anyone else may enter it.
		script += fmt.Sprintf("mkdir -p -m 0700 -- %s\n", shell.Quote(d.path))
		ps = pathState{exists: true, kind: "directory", owner: "root", group: "root", mode: 0o700}
		if !own.hasMode {
			own.mode, own.hasMode = 0o755, true
		}
	}
	return script + own.script(d.path, ps), true
}

func (d *directory) ApplyOutcome(_ State, res *transport.Result) error {
	return exitOutcome(res, "directory "+d.path)
}

func (d *directory) Fingerprint() string {
	return Fingerprint("directory", d.path, d.own.owner, d.own.group, fmtMode(d.own.mode))
}
