package resource

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// command: a shell command runs when its guards say so. The guards are evaluated in the batched
// read (they must be read-only); a command without creates or unless runs on every apply.
type command struct {
	base
	run     string
	creates string
	unless  string
	onlyIf  string
	runAs   string
	env     map[string]string
	timeout time.Duration
}

// commandKind is the command type: its schema (what validate checks) beside its implementation.
var commandKind = Kind{New: newCommand, Schema: &spec.ResourceSchema{
	Type: "command",
	Doc:  "A command runs when its guards say so.",
	Attrs: []spec.AttrSchema{
		{Name: "run", Type: cty.String, Required: true, Doc: "Shell command line."},
		{Name: "creates", Type: cty.String, Check: text(hostPath("creates")), Doc: "Skip when this path exists."},
		{Name: "unless", Type: cty.String, Doc: "Skip when this command exits 0."},
		{Name: "only_if", Type: cty.String, Doc: "Run only when this command exits 0."},
		{Name: "run_as", Type: cty.String, Check: text(loginName("user")), Doc: "Run as this user instead of root."},
		{Name: "env", Type: cty.Map(cty.String), Default: cty.MapValEmpty(cty.String), Check: envNames, Doc: "Environment for the command (not for secrets)."},
		{Name: "timeout", Type: cty.String, Default: cty.StringVal("10m"), Check: text(spec.CheckTimeout), Doc: `Time limit, such as "30s" or "5m".`},
	},
}}

func newCommand(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	c := &command{base: base{r}}
	var err error
	c.run, _, err = a.str("run")
	e.add(err)
	if strings.TrimSpace(c.run) == "" {
		e.add(fmt.Errorf("run must not be empty"))
	}
	c.creates, _, err = a.str("creates")
	e.add(err)
	c.unless, _, err = a.str("unless")
	e.add(err)
	c.onlyIf, _, err = a.str("only_if")
	e.add(err)
	c.runAs, _, err = a.str("run_as")
	e.add(err)
	c.env, err = a.strMap("env")
	e.add(err)
	to, err := a.strOr("timeout", "10m")
	e.add(err)
	if c.timeout, err = time.ParseDuration(to); err != nil || c.timeout <= 0 {
		e.add(fmt.Errorf("timeout %q must be a positive duration such as \"30s\" or \"5m\"", to))
	}
	return c, e.err()
}

// exports renders env as export lines, in key order.
func exports(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s; ", k, shell.Quote(env[k]))
	}
	return b.String()
}

func (c *command) ReadScript() string {
	var b strings.Builder
	if c.creates != "" {
		fmt.Fprintf(&b, "if [ -e %s ]; then echo creates=1; fi\n", shell.Quote(c.creates))
	}
	guard := func(key, cmd string) {
		fmt.Fprintf(&b, "if (%ssh -c %s) >/dev/null 2>&1 </dev/null; then echo %s=0; else echo %s=1; fi\n", exports(c.env), shell.Quote(cmd), key, key)
	}
	if c.unless != "" {
		// A failing unless is why the command will run: its last line of output (a check's
		// reason) goes into the plan, unless the guard is sensitive.
		if c.r.Sensitive["unless"] {
			guard("unless", c.unless)
		} else {
			fmt.Fprintf(&b, "if _pp_out=$( (%ssh -c %s) 2>&1 </dev/null); then echo unless=0; else echo unless=1; printf 'unless_why=%%s\\n' \"$(printf '%%s\\n' \"$_pp_out\" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-%d)\"; fi\n",
				exports(c.env), shell.Quote(c.unless), maxGuardReason)
		}
	}
	if c.onlyIf != "" {
		guard("only_if", c.onlyIf)
	}
	b.WriteString("true\n")
	return b.String()
}

// maxGuardReason bounds the guard output a plan shows, in bytes.
const maxGuardReason = 200

type commandState struct {
	created, unlessOK, onlyIfOK bool
	unlessWhy                   string // the failing unless guard's last line of output
}

func (c *command) Parse(s Section) (State, error) {
	m := kv(s.Stdout)
	return commandState{created: m["creates"] == "1", unlessOK: m["unless"] == "0", onlyIfOK: c.onlyIf == "" || m["only_if"] == "0",
		unlessWhy: strings.TrimSpace(m["unless_why"])}, nil
}

func (c *command) Diff(s State) (*Diff, error) {
	st := s.(commandState)
	if st.created || st.unlessOK || !st.onlyIfOK {
		return &Diff{}, nil
	}
	why := "no guard"
	switch {
	case c.creates != "":
		why = c.creates + " does not exist"
	case c.unless != "":
		why = "unless exited non-zero"
		if st.unlessWhy != "" {
			why += ": " + st.unlessWhy
		}
	case c.onlyIf != "":
		why = "only_if exited 0"
	}
	return &Diff{Action: Update, Changes: []Change{{Attr: "run", Old: why, New: scriptSummary(c.run), Sensitive: c.r.Sensitive["run"]}}}, nil
}

// scriptSummary is how a plan shows a command that will run: its first line, and how long it is.
// The whole script is in the spec; a plan line that holds all of it is unreadable.
func scriptSummary(script string) string {
	lines := strings.Split(strings.TrimSpace(script), "\n")
	first := strings.TrimSpace(lines[0])
	if r := []rune(first); len(r) > 72 {
		first = string(r[:71]) + "…"
	}
	if len(lines) > 1 {
		return fmt.Sprintf("%s … (%d lines)", first, len(lines))
	}
	return first
}

func (c *command) Apply(ctx context.Context, t *Target, _ State, _ *Diff) error {
	_, err := run(ctx, t, transport.Command{Script: c.run, Env: c.env, RunAs: c.runAs, Timeout: c.timeout}, "command")
	return err
}

// Verifiable: only a guard that the command itself satisfies can be checked after it ran.
func (c *command) Verifiable() bool { return c.creates != "" || c.unless != "" }

func (c *command) Fingerprint() string {
	return Fingerprint("command", c.run, c.creates, c.unless, c.onlyIf, c.runAs, sortedPairs(c.env))
}
