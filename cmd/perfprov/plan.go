package main

import (
	"context"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/spec"
)

// planOptions are plan's flags beyond the spec flags, and the hosts they select, passed to the
// online plan.
type planOptions struct {
	Hosts            []*spec.Host
	JSON             bool
	DetailedExitCode bool
	Parallel         int
	// Out is -out FILE: the plan is saved there (savePlan), with what it needs to load the spec
	// again (Spec, Flags, Path).
	Out   string
	Spec  *hcl.Spec
	Flags *specFlags
	Path  string
}

func runPlan(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "plan", "plan [-offline] [-limit HOSTS|GROUPS] [-shard K/N] [-ask-become-pass] [-json] [-detailed-exitcode] [-parallel N] [-out FILE] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var f specFlags
	f.register(fs, true)
	f.registerBecome(fs)
	offline := fs.Bool("offline", false, "connect to no host: print each host's resolved resources in apply order")
	fs.BoolVar(&f.json, "json", false, "print JSON lines, the first one the format's header (offline: then one document; online: one object per line)")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing would change, 2 when something would, 1 on errors")
	parallel := fs.Int("parallel", 0, "hosts planned at once (default: rollout.parallel, else 50)")
	out := fs.String("out", "", "save the plan to `FILE` (0600): perfprov apply FILE applies exactly it")
	if err := parseSpecArgs(fs, args); err != nil {
		return err
	}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	if err := checkParallel(fs, *parallel); err != nil {
		return err
	}
	if *offline && *out != "" {
		return &usageError{msg: "-out needs an online plan: -offline reads no host"}
	}
	if *offline && *detailed {
		return &usageError{msg: "-detailed-exitcode needs an online plan: -offline compares nothing"}
	}
	if *offline && f.askBecomePass {
		return &usageError{msg: "-ask-become-pass needs an online plan: -offline connects to no host"}
	}
	switch {
	case f.json && *offline:
		startJSON(env, "plan", view.StreamPlanOffline)
	case f.json:
		startJSON(env, "plan", view.StreamPlan)
	}
	sp, err := loadSpec(env, path, &f)
	if err != nil {
		return err
	}
	hosts, none, err := f.targets(env, sp, "plan")
	switch {
	case err != nil && *offline:
		return &usageError{msg: err.Error()}
	case err != nil:
		return err
	}
	opts := planOptions{Hosts: hosts, JSON: f.json, DetailedExitCode: *detailed, Parallel: *parallel, Out: *out, Spec: sp, Flags: &f, Path: path}
	switch {
	case none && *offline && f.json:
		return view.WriteOfflinePlanJSON(env.stdout, nil)
	case none && f.json:
		view.WritePlanSummaryJSON(env.stdout, &engine.Run{}) // the stream of no host: its summary
		return nil
	case none:
		return nil
	case !*offline:
		if err := f.askBecome(env); err != nil {
			return err
		}
		return runPlanOnline(ctx, env, sp, opts)
	}
	return planOffline(env, sp, opts)
}

func planOffline(env *cliEnv, sp *hcl.Spec, opts planOptions) error {
	var configs []*spec.HostConfig
	var diags hcl2.Diagnostics
	for _, h := range opts.Hosts {
		hc, d := sp.Evaluate(h.Name, cty.DynamicVal)
		diags = append(diags, d...)
		if hc != nil {
			configs = append(configs, hc)
		}
	}
	if len(diags) > 0 {
		hcl.WriteDiagnostics(env.stderr, diags, sp.Files(), useColor(env))
	}
	if diags.HasErrors() {
		return &exitError{code: exitFailure}
	}
	if opts.JSON {
		return view.WriteOfflinePlanJSON(env.stdout, configs)
	}
	view.WriteOfflinePlan(env.stdout, configs)
	return nil
}
