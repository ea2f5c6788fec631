package resource

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/distro"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// pkg: distribution packages are installed; only the missing ones, non-interactively. One query
// reads the state of every name.
type pkg struct {
	base
	names       []string
	manager     string
	updateCache bool
}

// packageKind is the package type: its schema (what validate checks) beside its implementation.
var packageKind = Kind{New: newPackage, Schema: &spec.ResourceSchema{
	Type: "package",
	Doc:  "Distribution packages are installed (apt, dnf, yum, zypper, apk or pacman: the facts' manager); only missing ones.",
	Attrs: []spec.AttrSchema{
		{Name: "names", Type: cty.List(cty.String), Required: true, Check: nonEmpty("names must list at least one package.", spec.CheckPackageName), Doc: "Package names."},
		{Name: "manager", Type: cty.String, Check: text(spec.CheckPackageManager), Doc: "Override the package manager found in facts."},
		{Name: "update_cache", Type: cty.Bool, Default: cty.False, Doc: "Refresh the package index before installing."},
	},
}}

func newPackage(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	p := &pkg{base: base{r}}
	var err error
	p.names, err = a.list("names")
	e.add(err)
	p.manager, _, err = a.str("manager")
	e.add(err)
	p.updateCache, err = a.boolean("update_cache", false)
	e.add(err)
	return p, e.err()
}

// detectManager is shell that sets pm, unless already set, to the manager the facts would choose
// (the family's by os-release ID and ID_LIKE, else the first found), and prints it: the read runs
// without the facts, and the install that follows uses the facts' manager (Target.Info).
var detectManager = distro.DetectScript(distro.OSReleaseFiles...) + "printf 'manager=%s\\n' \"$pm\"\n"

func (p *pkg) ReadScript() string {
	names := shell.Join(p.names...)
	return fmt.Sprintf("pm=%s\n%scase $pm in\n"+
		"apt) dpkg-query -W -f='pkg=${Package} ${db:Status-Abbrev}\\n' %s 2>/dev/null;;\n"+
		"dnf|yum|zypper) rpm -q --qf 'pkg=%%{NAME} ii\\n' %s 2>/dev/null | grep '^pkg=';;\n"+
		"apk) apk info -e %s 2>/dev/null | sed 's/^/pkg=/; s/$/ ii/';;\n"+
		// pacman -Q prints "name version" for each installed name, an error for the others.
		"pacman) pacman -Q %s 2>/dev/null | sed 's/^\\([^ ]*\\) .*/pkg=\\1 ii/';;\n"+
		"esac\ntrue\n", shell.Quote(p.manager), detectManager, names, names, names, names)
}

type pkgState struct {
	manager   string
	installed map[string]bool
}

func (p *pkg) Parse(s Section) (State, error) {
	st := pkgState{installed: map[string]bool{}}
	for _, line := range strings.Split(string(s.Stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "manager":
			st.manager = v
		case "pkg":
			f := strings.Fields(v)
			if len(f) >= 2 && (f[1] == "ii" || f[1] == "hi") {
				st.installed[f[0]] = true
			}
		}
	}
	return st, nil
}

func (p *pkg) missing(st pkgState) []string {
	var out []string
	for _, n := range p.names {
		base, _, _ := strings.Cut(n, ":") // dpkg prints names without :arch
		if !st.installed[n] && !st.installed[base] {
			out = append(out, n)
		}
	}
	return out
}

func (p *pkg) Diff(s State) (*Diff, error) {
	st := s.(pkgState)
	if st.manager == "" {
		return nil, fmt.Errorf("no supported package manager (%s) found on the host", strings.Join(spec.PackageManagers, ", "))
	}
	miss := p.missing(st)
	if len(miss) == 0 {
		return &Diff{}, nil
	}
	var have []string
	for n := range st.installed {
		if contains(p.names, n) {
			have = append(have, n)
		}
	}
	sort.Strings(have)
	act := Update
	if len(have) == 0 {
		act = Create
	}
	return &Diff{Action: act, Changes: []Change{{Attr: "installed", Old: strings.Join(have, ","), New: strings.Join(append(have, miss...), ",")}}}, nil
}

// installScript is the non-interactive install command of a manager.
func installScript(manager string, update bool, names []string) (string, error) {
	n := shell.Join(names...)
	var b strings.Builder
	switch manager {
	case "apt":
		b.WriteString("export DEBIAN_FRONTEND=noninteractive\n")
		if update {
			b.WriteString("apt-get update -q\n")
		}
		fmt.Fprintf(&b, "apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold %s\n", n)
	case "dnf", "yum":
		if update {
			fmt.Fprintf(&b, "%s makecache -q\n", manager)
		}
		fmt.Fprintf(&b, "%s install -y -q %s\n", manager, n)
	case "zypper":
		if update {
			b.WriteString("zypper --non-interactive refresh\n")
		}
		fmt.Fprintf(&b, "zypper --non-interactive install %s\n", n)
	case "apk":
		if update {
			b.WriteString("apk update -q\n")
		}
		fmt.Fprintf(&b, "apk add -q %s\n", n)
	case "pacman":
		// As Ansible's pacman module does: -Sy refreshes the index only (a full -Syu is the
		// administrator's call); --needed leaves installed packages alone.
		if update {
			b.WriteString("pacman -Sy --noconfirm\n")
		}
		fmt.Fprintf(&b, "pacman -S --noconfirm --needed %s\n", n)
	default:
		return "", fmt.Errorf("unsupported package manager %q", manager)
	}
	return "set -e\n" + b.String(), nil
}

func (p *pkg) Apply(ctx context.Context, t *Target, s State, _ *Diff) error {
	st := s.(pkgState)
	m := p.manager
	if m == "" {
		m = t.Info.PackageManager
	}
	if m == "" {
		m = st.manager
	}
	miss := p.missing(st)
	script, err := installScript(m, p.updateCache, miss)
	if err != nil {
		return err
	}
	_, err = run(ctx, t, transport.Command{Script: script, Timeout: 30 * time.Minute}, m+" install "+strings.Join(miss, " "))
	return err
}

func (p *pkg) Fingerprint() string { return Fingerprint("package", strings.Join(p.names, ",")) }
