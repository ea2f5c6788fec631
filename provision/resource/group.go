package resource

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// group: a local group exists. An existing group is never changed (its GID stays).
type group struct {
	base
	name   string
	gid    int64
	hasGID bool
	system bool
}

// groupKind is the group type: its schema (what validate checks) beside its implementation.
var groupKind = Kind{New: newGroup, Schema: &spec.ResourceSchema{
	Type: "group",
	Doc:  "A local group exists.",
	Attrs: []spec.AttrSchema{
		{Name: "name", Type: cty.String, DefaultsToName: true, Check: text(loginName("group")), Doc: "Group name; defaults to the resource name."},
		{Name: "gid", Type: cty.Number, Check: wholeNumber("gid"), Doc: "Numeric GID for a new group; an existing group's GID is not changed."},
		{Name: "system", Type: cty.Bool, Default: cty.False, Doc: "Create a system group."},
	},
}}

func newGroup(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	g := &group{base: base{r}}
	var err error
	g.name, err = a.strOr("name", r.Name)
	e.add(err)
	g.gid, g.hasGID, err = a.integer("gid")
	e.add(err)
	if g.hasGID && g.gid < 0 {
		e.add(fmt.Errorf("gid must not be negative"))
	}
	g.system, err = a.boolean("system", false)
	e.add(err)
	return g, e.err()
}

type groupState struct {
	exists bool
	gid    string
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (g *group) ReadsInShell() bool { return true }

// ReadScript looks the group up in /etc/group, the file groupadd writes, as read by the batch's
// prelude (package prelude), with builtins; getent, one process, asks the system's sources
// (NSS) only for a name the file does not have, or without a prelude.
func (g *group) ReadScript() string {
	// Without the prelude's line: getent, and where busybox has none (Alpine's comes with
	// musl-utils, which a minimal image may lack) /etc/group read with the shell's own read.
	q := shell.Quote(g.name)
	return prelude.FirstLine("/etc/group", g.name+":", "l") + fmt.Sprintf(`if [ -z "$l" ]; then
if command -v getent >/dev/null 2>&1; then l=$(getent group %s); elif [ -r /etc/group ]; then while IFS= read -r x; do case $x in %s:*) l=$x; break ;; esac; done </etc/group; fi
fi
if [ -n "$l" ]; then echo exists=1; printf 'entry=%%s\n' "$l"; else echo exists=0; fi
`, q, q)
}

func (g *group) Prelude() prelude.Plan {
	return prelude.Plan{Files: []prelude.File{{Path: "/etc/group", Needle: g.name + ":"}}}
}

func (g *group) Parse(s Section) (State, error) {
	m := kv(s.Stdout)
	st := groupState{exists: m["exists"] == "1"}
	if st.exists {
		f := strings.Split(m["entry"], ":")
		if len(f) < 3 {
			return nil, fmt.Errorf("unreadable group entry %q", m["entry"])
		}
		st.gid = f[2]
	}
	return st, nil
}

func (g *group) Diff(st State) (*Diff, error) {
	if st.(groupState).exists {
		return &Diff{}, nil
	}
	ch := []Change{{Attr: "name", New: g.name}}
	if g.hasGID {
		ch = append(ch, Change{Attr: "gid", New: strconv.FormatInt(g.gid, 10)})
	}
	return &Diff{Action: Create, Changes: ch}, nil
}

func (g *group) Apply(ctx context.Context, t *Target, st State, d *Diff) error {
	return applyScript(ctx, t, g, st, d, "groupadd "+g.name)
}

func (g *group) ApplyScript(_ State, _ *Diff) (string, bool) {
	argv := []string{"groupadd"}
	bb := []string{"addgroup"} // busybox (Alpine without shadow)
	if g.system {
		argv = append(argv, "-r")
		bb = append(bb, "-S")
	}
	if g.hasGID {
		id := strconv.FormatInt(g.gid, 10)
		argv = append(argv, "-g", id)
		bb = append(bb, "-g", id)
	}
	argv = append(argv, "--", g.name)
	bb = append(bb, g.name)
	return fmt.Sprintf("if command -v groupadd >/dev/null 2>&1; then %s; else %s; fi\n", shell.Join(argv...), shell.Join(bb...)), true
}

func (g *group) ApplyOutcome(_ State, res *transport.Result) error {
	return exitOutcome(res, "groupadd "+g.name)
}

func (g *group) Fingerprint() string { return Fingerprint("group", g.name) }
