package resource

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// user: a local user exists and belongs to the given supplementary groups. Memberships it has
// beyond those are kept; attributes of an existing user (shell, home, uid) are not changed.
type user struct {
	base
	name   string
	groups []string
	shell  string
	home   string
	system bool
	uid    int64
	hasUID bool
}

// userKind is the user type: its schema (what validate checks) beside its implementation.
var userKind = Kind{New: newUser, Schema: &spec.ResourceSchema{
	Type: "user",
	Doc:  "A local user exists and belongs to the given supplementary groups (existing memberships are kept).",
	Attrs: []spec.AttrSchema{
		{Name: "name", Type: cty.String, DefaultsToName: true, Check: text(loginName("user")), Doc: "User name; defaults to the resource name."},
		{Name: "groups", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String), Check: each(loginName("group")), Doc: "Supplementary groups to add the user to; other memberships are never dropped."},
		{Name: "shell", Type: cty.String, Check: text(hostPath("shell")), Doc: "Login shell for a new user."},
		{Name: "home", Type: cty.String, Check: text(hostPath("home")), Doc: "Home directory for a new user."},
		{Name: "system", Type: cty.Bool, Default: cty.False, Doc: "Create a system user."},
		{Name: "uid", Type: cty.Number, Check: wholeNumber("uid"), Doc: "Numeric UID for a new user."},
	},
}}

func newUser(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	u := &user{base: base{r}}
	var err error
	u.name, err = a.strOr("name", r.Name)
	e.add(err)
	u.groups, err = a.list("groups")
	e.add(err)
	u.shell, _, err = a.str("shell")
	e.add(err)
	u.home, _, err = a.str("home")
	e.add(err)
	u.system, err = a.boolean("system", false)
	e.add(err)
	u.uid, u.hasUID, err = a.integer("uid")
	e.add(err)
	if u.hasUID && u.uid < 0 {
		e.add(fmt.Errorf("uid must not be negative"))
	}
	return u, e.err()
}

type userState struct {
	exists bool
	groups []string // every group the user is in, primary included
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (u *user) ReadsInShell() bool { return true }

// ReadScript looks the user up in /etc/passwd and its groups in /etc/group, the files useradd
// and usermod write, as read by the batch's prelude (package prelude), with builtins: a user
// there who is in every group the spec names (by the group's member list or as its primary
// group) is what it should be, and groups= lists those. Otherwise id, one process, answers
// from all of the system's sources (NSS): a user or a membership the files do not have may
// still be there; id fails for a user that does not exist.
func (u *user) ReadScript() string {
	var b strings.Builder
	b.WriteString("_ok=; _gs=\n")
	b.WriteString(prelude.FirstLine("/etc/passwd", u.name+":", "_pl"))
	b.WriteString("if [ -n \"$_pl\" ]; then\n_t=${_pl#*:}; _t=${_t#*:}; _t=${_t#*:}; _pg=${_t%%:*}; _ok=1\n")
	for _, g := range u.groups {
		b.WriteString("_in=\n")
		b.WriteString(prelude.FirstLine("/etc/group", g+":", "_gl"))
		fmt.Fprintf(&b, `if [ -n "$_gl" ]; then _t=${_gl#*:}; _t=${_t#*:}; [ "${_t%%%%:*}" = "$_pg" ] && _in=1
case ,${_t#*:}, in *%s*) _in=1 ;; esac; fi
if [ -n "$_in" ]; then _gs="$_gs "%s; else _ok=; fi
`, shell.Quote(","+u.name+","), shell.Quote(g))
	}
	b.WriteString("fi\n")
	fmt.Fprintf(&b, `if [ -n "$_ok" ]; then echo exists=1; printf 'groups=%%s\n' "${_gs# }"
elif g=$(id -Gn %s 2>/dev/null); then echo exists=1; printf 'groups=%%s\n' "$g"; else echo exists=0; fi
`, shell.Quote(u.name))
	return b.String()
}

func (u *user) Prelude() prelude.Plan {
	p := prelude.Plan{Files: []prelude.File{{Path: "/etc/passwd", Needle: u.name + ":"}}}
	for _, g := range u.groups {
		p.Add(prelude.Plan{Files: []prelude.File{{Path: "/etc/group", Needle: g + ":"}}})
	}
	return p
}

func (u *user) Parse(s Section) (State, error) {
	m := kv(s.Stdout)
	return userState{exists: m["exists"] == "1", groups: strings.Fields(m["groups"])}, nil
}

func (u *user) missingGroups(st userState) []string {
	have := map[string]bool{}
	for _, g := range st.groups {
		have[g] = true
	}
	var out []string
	for _, g := range u.groups {
		if !have[g] && !contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

func (u *user) Diff(st State) (*Diff, error) {
	us := st.(userState)
	if !us.exists {
		ch := []Change{{Attr: "name", New: u.name}}
		if len(u.groups) > 0 {
			ch = append(ch, Change{Attr: "groups", New: strings.Join(u.groups, ",")})
		}
		return &Diff{Action: Create, Changes: ch}, nil
	}
	missing := u.missingGroups(us)
	if len(missing) == 0 {
		return &Diff{}, nil
	}
	old := append([]string(nil), us.groups...)
	sort.Strings(old)
	now := append(old, missing...)
	return &Diff{Action: Update, Changes: []Change{{Attr: "groups", Old: strings.Join(old, ","), New: strings.Join(now, ",")}}}, nil
}

func (u *user) Apply(ctx context.Context, t *Target, st State, d *Diff) error {
	return applyScript(ctx, t, u, st, d, "user "+u.name)
}

func (u *user) ApplyScript(st State, _ *Diff) (string, bool) {
	us := st.(userState)
	if !us.exists {
		return u.createScript(), true
	}
	missing := u.missingGroups(us)
	// -a appends: the memberships the user already has stay. busybox (Alpine without shadow):
	// addgroup USER GROUP adds one membership.
	return fmt.Sprintf("if command -v usermod >/dev/null 2>&1; then %s; else for g in %s; do addgroup %s \"$g\" || exit 1; done; fi\n",
		shell.Join("usermod", "-a", "-G", strings.Join(missing, ","), "--", u.name),
		shell.Join(missing...), shell.Quote(u.name)), true
}

// createScript is useradd where the host has it (shadow), else busybox's adduser followed by one
// addgroup per supplementary group (busybox adduser's -G is the primary group, not a list).
func (u *user) createScript() string {
	argv := []string{"useradd"}
	// busybox: -D no password (adduser would ask for one), -S system user, -H no home.
	bb := []string{"adduser", "-D"}
	if u.system {
		argv = append(argv, "-r")
		bb = append(bb, "-S", "-H")
	} else {
		argv = append(argv, "-m")
	}
	if u.shell != "" {
		argv = append(argv, "-s", u.shell)
		bb = append(bb, "-s", u.shell)
	}
	if u.home != "" {
		argv = append(argv, "-d", u.home)
		bb = append(bb, "-h", u.home)
	}
	if u.hasUID {
		id := strconv.FormatInt(u.uid, 10)
		argv = append(argv, "-u", id)
		bb = append(bb, "-u", id)
	}
	if len(u.groups) > 0 {
		argv = append(argv, "-G", strings.Join(u.groups, ","))
	}
	argv = append(argv, "--", u.name)
	bb = append(bb, u.name)
	busybox := shell.Join(bb...)
	if len(u.groups) > 0 {
		busybox += fmt.Sprintf(" && for g in %s; do addgroup %s \"$g\" || exit 1; done", shell.Join(u.groups...), shell.Quote(u.name))
	}
	return fmt.Sprintf("if command -v useradd >/dev/null 2>&1; then %s; else %s; fi\n", shell.Join(argv...), busybox)
}

func (u *user) ApplyOutcome(_ State, res *transport.Result) error {
	return exitOutcome(res, "user "+u.name)
}

func (u *user) Fingerprint() string {
	return Fingerprint("user", u.name, strings.Join(u.groups, ","))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
