package main

import (
	"context"
	"fmt"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/engine"
)

// runPlanOnline connects to the targeted hosts, reads them and prints what apply would change.
// With -detailed-exitcode: 0 nothing to change, 2 changes, 1 errors.
func runPlanOnline(ctx context.Context, env *cliEnv, sp *hcl.Spec, opts planOptions) error {
	cache, saveCache := openPerfCache(env, "plan")
	defer saveCache()
	eo := engineOptions(env, sp, opts.Parallel, cache)
	eo.CloseAfterPlan = true
	if opts.JSON {
		var out = newApplyOutput(env, true)
		eo.Events = func(e engine.Event) {
			if e.Type == engine.EventPlannedChange || e.Type == engine.EventHostSummary {
				out.Event(e)
			}
		}
	}
	run := engine.Plan(ctx, sp, opts.Hosts, eo)
	defer run.Close()
	if opts.JSON {
		view.WritePlanSummaryJSON(env.stdout, run)
	} else {
		view.WritePlan(env.stdout, run, useColorOut(env))
	}
	if opts.Out != "" && !run.Interrupted && ctx.Err() == nil {
		if err := savePlan(env, opts.Out, opts.Spec, opts.Flags, opts.Path, run); err != nil {
			return err
		}
		if !opts.JSON {
			fmt.Fprintf(env.stdout, "\nSaved the plan to %s. To apply exactly it: perfprov apply %s\n", opts.Out, opts.Out)
		}
	}
	switch {
	case run.Interrupted || ctx.Err() != nil:
		return errInterrupted
	case run.HasErrors():
		if !opts.JSON {
			fmt.Fprintln(env.stderr, "perfprov plan: some hosts or resources could not be planned (see above)")
		}
		return &exitError{code: exitFailure}
	case opts.DetailedExitCode && run.HasChanges():
		return &exitError{code: 2}
	}
	return nil
}
