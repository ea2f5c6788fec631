package resource

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// build: commands build a tree. The stamp (dir/.perfprov-build.stamp) is a digest of every input:
// the commands, env, triggers, artifacts and the fingerprints of the resources it depends on (a
// source's archive sha256, a patch's shas...). The build runs again when the stamp differs or an
// artifact is missing. Its output goes to dir/.perfprov-build.log on the host; on failure the last
// 40 lines are shown and the whole log is copied to the controller.
type build struct {
	base
	dir       string
	commands  []string
	env       map[string]string
	artifacts []string
	triggers  map[string]string
	timeout   time.Duration
	stamp     string
}

const (
	buildStamp = ".perfprov-build.stamp"
	buildLog   = ".perfprov-build.log"
)

// buildKind is the build type: its schema (what validate checks) beside its implementation.
var buildKind = Kind{New: newBuild, Schema: &spec.ResourceSchema{
	Type: "build",
	Doc:  "Commands build a tree; a stamp of the inputs decides whether to rebuild.",
	Attrs: []spec.AttrSchema{
		{Name: "dir", Type: cty.String, Required: true, Check: text(hostPath("dir")), Doc: "Directory the commands run in."},
		{Name: "commands", Type: cty.List(cty.String), Required: true, Doc: "Shell commands, run in order; the first failure stops the build."},
		{Name: "env", Type: cty.Map(cty.String), Default: cty.MapValEmpty(cty.String), Check: envNames, Doc: "Environment for the commands (not for secrets)."},
		{Name: "artifacts", Type: cty.List(cty.String), Default: cty.ListValEmpty(cty.String), Doc: "Paths the build must leave; missing ones fail it and trigger a rebuild next time."},
		{Name: "triggers", Type: cty.Map(cty.String), Default: cty.MapValEmpty(cty.String), Doc: "Extra values that, when changed, force a rebuild."},
		{Name: "timeout", Type: cty.String, Default: cty.StringVal("60m"), Check: text(spec.CheckTimeout), Doc: "Time limit for the whole build."},
	},
}}

func newBuild(r *spec.Resource, env *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	b := &build{base: base{r}}
	var err error
	b.dir, _, err = a.str("dir")
	e.add(err)
	b.commands, err = a.list("commands")
	e.add(err)
	if len(b.commands) == 0 && err == nil {
		e.add(fmt.Errorf("commands must list at least one command"))
	}
	b.env, err = a.strMap("env")
	e.add(err)
	arts, err := a.list("artifacts")
	e.add(err)
	for _, x := range arts {
		if !strings.HasPrefix(x, "/") {
			x = path.Join(b.dir, x)
		}
		e.add(spec.CheckHostPath("artifact", x))
		b.artifacts = append(b.artifacts, x)
	}
	b.triggers, err = a.strMap("triggers")
	e.add(err)
	to, err := a.strOr("timeout", "60m")
	e.add(err)
	if b.timeout, err = time.ParseDuration(to); err != nil || b.timeout <= 0 {
		e.add(fmt.Errorf("timeout %q must be a positive duration such as \"30m\"", to))
	}
	parts := []string{"build", b.dir, strings.Join(b.commands, "\x00"), sortedPairs(b.env), sortedPairs(b.triggers), strings.Join(b.artifacts, "\x00")}
	for _, d := range r.DependsOn {
		fp := ""
		if env.DepFingerprint != nil {
			fp = env.DepFingerprint(d)
		}
		parts = append(parts, d+"="+fp)
	}
	b.stamp = Fingerprint(parts...)
	return b, e.err()
}

func (b *build) ReadScript() string {
	var s strings.Builder
	fmt.Fprintf(&s, "d=%s\nif [ -f \"$d/%s\" ]; then printf 'stamp=%%s\\n' \"$(head -c 64 \"$d/%s\")\"; fi\n", shell.Quote(b.dir), buildStamp, buildStamp)
	for _, x := range b.artifacts {
		fmt.Fprintf(&s, "[ -e %s ] || printf 'missing=%%s\\n' %s\n", shell.Quote(x), shell.Quote(x))
	}
	s.WriteString("true\n")
	return s.String()
}

type buildState struct {
	stamp   string
	missing []string
}

func (b *build) Parse(s Section) (State, error) {
	var st buildState
	for _, line := range strings.Split(string(s.Stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "stamp":
			st.stamp = v
		case "missing":
			st.missing = append(st.missing, v)
		}
	}
	return st, nil
}

func (b *build) Diff(x State) (*Diff, error) {
	st := x.(buildState)
	var ch []Change
	if st.stamp != b.stamp {
		old := short(st.stamp)
		if old == "" {
			old = "(never built)"
		}
		ch = append(ch, Change{Attr: "inputs", Old: old, New: short(b.stamp)})
	}
	if len(st.missing) > 0 {
		ch = append(ch, Change{Attr: "artifacts", Old: "missing " + strings.Join(st.missing, ", "), New: "present"})
	}
	if len(ch) == 0 {
		return &Diff{}, nil
	}
	return &Diff{Action: Update, Changes: ch}, nil
}

func (b *build) Apply(ctx context.Context, t *Target, _ State, _ *Diff) error {
	var s strings.Builder
	fmt.Fprintf(&s, "d=%s\ncd \"$d\" || exit 1\nlog=\"$d/%s\"\nrm -f \"$d/%s\"\n(\n%s\n", shell.Quote(b.dir), buildLog, buildStamp, exports(b.env))
	for _, c := range b.commands {
		fmt.Fprintf(&s, "printf '+ %%s\\n' %s\nsh -c %s || exit $?\n", shell.Quote(c), shell.Quote(c))
	}
	s.WriteString(") </dev/null >\"$log\" 2>&1\nrc=$?\nif [ $rc -ne 0 ]; then tail -n 40 \"$log\" >&2; exit $rc; fi\n")
	for _, x := range b.artifacts {
		fmt.Fprintf(&s, "[ -e %s ] || { echo 'the build did not leave artifact '%s >&2; exit 4; }\n", shell.Quote(x), shell.Quote(x))
	}
	fmt.Fprintf(&s, "printf '%%s\\n' %s > \"$d/%s\"\n", b.stamp, buildStamp)
	res, err := t.Conn.Run(ctx, transport.Command{Script: s.String(), Privileged: true, Timeout: b.timeout})
	if err != nil {
		return fmt.Errorf("build in %s: %w", b.dir, err)
	}
	if res.OK() {
		return nil
	}
	local := b.keepLog(ctx, t)
	return fmt.Errorf("build in %s failed (exit %d); full log: %s on the host%s; last lines:\n%s",
		b.dir, res.ExitStatus, path.Join(b.dir, buildLog), local, strings.TrimRight(string(res.Stderr), "\n"))
}

// keepLog copies the host's build log to the controller; it returns " and PATH" or "".
func (b *build) keepLog(ctx context.Context, t *Target) string {
	if t.LogDir == "" {
		return ""
	}
	if err := os.MkdirAll(t.LogDir, 0o700); err != nil {
		return ""
	}
	name := strings.NewReplacer("/", "_", "\"", "", "[", "_", "]", "").Replace(b.r.Addr) + ".log"
	p := filepath.Join(t.LogDir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return ""
	}
	defer f.Close()
	if err := t.Conn.Download(ctx, path.Join(b.dir, buildLog), f); err != nil {
		return ""
	}
	return " and " + p
}

func (b *build) Fingerprint() string { return b.stamp }
