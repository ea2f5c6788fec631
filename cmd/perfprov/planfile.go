package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/planfile"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/spec"
)

// Saved plans: plan -out FILE writes one (internal/planfile), apply FILE applies exactly it,
// show FILE prints it.

// savePlan writes the plan of run, made from sp loaded with f, to path.
func savePlan(env *cliEnv, path string, sp *hcl.Spec, f *specFlags, specArg string, run *engine.Run) error {
	pf := &planfile.File{Perfprov: buildInfo().Version, Created: env.now().UTC(), Variables: map[string]json.RawMessage{}}
	sensitive := map[string]bool{}
	for _, v := range sp.RootVariables() {
		if v.Sensitive {
			sensitive[v.Name] = true
			pf.Sensitive = append(pf.Sensitive, v.Name)
			continue
		}
		if v.Value == cty.NilVal || !v.Value.IsWhollyKnown() {
			continue
		}
		b, err := ctyjson.Marshal(v.Value, v.Value.Type())
		if err != nil {
			return fmt.Errorf("save the plan: variable %s: %w", v.Name, err)
		}
		pf.Variables[v.Name] = b
	}
	in, err := recordedInputs(f, specArg, sensitive)
	if err != nil {
		return err
	}
	pf.Spec = in
	if pf.Files, err = planfile.FileDigests(sp.Files(), f.varFiles); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	pf.Hosts = planfile.FromRun(run)
	return planfile.Write(path, pf)
}

// recordedInputs is how the spec was loaded, with absolute paths; -var values of sensitive
// variables are left out (apply FILE takes them again).
func recordedInputs(f *specFlags, specArg string, sensitive map[string]bool) (planfile.Inputs, error) {
	var in planfile.Inputs
	var err error
	if in.Path, err = filepath.Abs(specArg); err != nil {
		return in, err
	}
	for _, p := range f.inventory {
		abs, err := filepath.Abs(p)
		if err != nil {
			return in, err
		}
		in.Inventory = append(in.Inventory, abs)
	}
	for _, p := range f.varFiles {
		abs, err := filepath.Abs(p)
		if err != nil {
			return in, err
		}
		in.VarFiles = append(in.VarFiles, abs)
	}
	for _, kv := range f.vars {
		name, _, _ := strings.Cut(kv, "=")
		if !sensitive[strings.TrimSpace(name)] {
			in.Vars = append(in.Vars, kv)
		}
	}
	in.Limit = f.limit
	if f.shard.IsSet() {
		in.Shard = f.shard.Shard.String()
	}
	return in, nil
}

// staleError is a saved plan that no longer matches the spec or a host.
func staleError(format string, args ...any) error {
	return fmt.Errorf("plan is stale: "+format, args...)
}

// applyPlanFile applies the saved plan at path: the spec loaded as the plan recorded (sensitive
// variables from vars, as given to apply now), every host of the plan planned again, and those
// whose reads or planned changes differ from the plan refused; the others are applied.
func applyPlanFile(ctx context.Context, env *cliEnv, path string, vars []string, asJSON bool, parallel int, auditPath string, res *applyResult) error {
	pf, err := planfile.Read(path)
	if err != nil {
		return err
	}
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(pf.Sensitive, strings.TrimSpace(name)) {
			return &usageError{msg: fmt.Sprintf("-var %s: the plan fixes every variable that is not sensitive; to change %s, make a new plan", name, name)}
		}
	}
	sf := specFlags{vars: append(stringList(slices.Clone(pf.Spec.Vars)), vars...), varFiles: pf.Spec.VarFiles, inventory: pf.Spec.Inventory, json: asJSON}
	sp, err := loadSpec(env, pf.Spec.Path, &sf)
	if err != nil {
		return err
	}
	if err := checkPlanInputs(pf, sp); err != nil {
		return err
	}
	var hosts []*spec.Host
	for _, ph := range pf.Hosts {
		h := sp.Host(ph.Name)
		if h == nil {
			return staleError("host %s of the plan is not in the spec any more; make a new plan", ph.Name)
		}
		if ph.Applicable() {
			hosts = append(hosts, h)
		}
	}
	out := newApplyOutput(env, asJSON)
	if len(hosts) == 0 {
		fmt.Fprintln(env.stderr, "perfprov apply: the plan holds no host that could be planned; nothing to do")
		out.Finish(&engine.Run{})
		return &exitError{code: exitFailure}
	}
	audit, err := engine.OpenAuditLog(auditPath)
	if err != nil {
		return err
	}
	defer audit.Close()
	cache, saveCache := openPerfCache(env, "apply")
	defer saveCache()
	opts := engineOptions(env, sp, parallel, cache)
	opts.Audit, opts.LogDir = audit, defaultLogDir
	opts.HostLock, opts.LockHolder = engine.LockPath, lockHolder(env)
	run := engine.Plan(ctx, sp, hosts, opts)
	defer run.Close()
	res.run = run
	run.SetEvents(out.Event)
	for _, h := range run.Hosts {
		if err := stale(pf, h); err != nil {
			run.Refuse(h.Name, err)
		}
	}
	run.Apply(ctx)
	out.Finish(run)
	if run.Interrupted || ctx.Err() != nil {
		return errInterrupted
	}
	reps, benchFail, stopped := benchAfterApply(ctx, env, sp, pf.Spec.Path, run, asJSON, parallel, false)
	res.reps = reps
	if stopped {
		return errInterrupted
	}
	saveRetryFile(env, "apply", union(runFailures(run), benchFail))
	if !run.Converged() || len(benchFail) > 0 {
		return &exitError{code: exitFailure}
	}
	return nil
}

// checkPlanInputs refuses a plan whose files or non-sensitive variables are not what they were.
func checkPlanInputs(pf *planfile.File, sp *hcl.Spec) error {
	now, err := planfile.FileDigests(sp.Files(), pf.Spec.VarFiles)
	if err != nil {
		return staleError("%v", err)
	}
	if changed := planfile.ChangedFiles(pf.Files, now); len(changed) > 0 {
		return staleError("the spec changed since the plan was made (%s); make a new plan", strings.Join(changed, ", "))
	}
	for _, v := range sp.RootVariables() {
		if v.Sensitive {
			continue
		}
		was, ok := pf.Variables[v.Name]
		if !ok || v.Value == cty.NilVal || !v.Value.IsWhollyKnown() {
			continue
		}
		b, err := ctyjson.Marshal(v.Value, v.Value.Type())
		if err == nil && !bytes.Equal(b, was) {
			return staleError("variable %s is %s now, %s in the plan (from the environment?); make a new plan", v.Name, b, was)
		}
	}
	return nil
}

// stale says why host h, planned again, no longer matches the saved plan (nil: it does).
func stale(pf *planfile.File, h *engine.HostRun) error {
	if h.Status != "" && h.Status != engine.StatusPlanned {
		return nil // it failed to plan now: reported as such
	}
	var saved *planfile.Host
	for i := range pf.Hosts {
		if pf.Hosts[i].Name == h.Name {
			saved = &pf.Hosts[i]
		}
	}
	if saved == nil {
		return staleError("%s is not in the plan", h.Name)
	}
	if h.ReadDigest == saved.ReadDigest && planfile.PlanDigest(h) == saved.PlanDigest {
		return nil
	}
	was := map[string]string{}
	for _, r := range saved.Resources {
		was[r.Address] = r.ReadDigest
	}
	var differ []string
	for _, rr := range h.Resources {
		if d, ok := was[rr.Addr]; !ok || d != rr.ReadDigest {
			differ = append(differ, rr.Addr)
		}
	}
	why := "what it would change is not what the plan says"
	if len(differ) > 0 {
		why = "the read of " + strings.Join(differ, ", ") + " differs"
	}
	return staleError("%s changed since the plan was made (%s); nothing was changed on it", h.Name, why)
}

// runShow prints a saved plan: per host, what it would change, or as the plan file's JSON.
func runShow(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "show", "show [-json] FILE")
	asJSON := fs.Bool("json", false, "print the format's header line, then the plan file as JSON on one line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "show takes one plan file (made with plan -out FILE)"}
	}
	pf, err := planfile.Read(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		startJSON(env, "show", view.StreamPlanFile)
		b, err := json.Marshal(pf)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(env.stdout, "Saved plan of %s, made %s by perfprov %s\n\n", pf.Spec.Path, pf.Created.Format(time.RFC3339), pf.Perfprov)
	view.WritePlan(env.stdout, pf.Run(), useColorOut(env))
	return nil
}
