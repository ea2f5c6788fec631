package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
)

// reportOptions are report's flags.
type reportOptions struct {
	spec     specFlags // with -spec: the spec whose host order the table follows
	specPath string
	json     bool
}

// runReport merges the -json outputs of the shards of one run (apply, plan, facts or bench; a
// bench history directory stands for its newest run) and prints what one run over all their
// hosts would have printed: apply's recap, plan's plan, the facts or the benchmark fleet table.
// It exits as that run would have: 1 when a host failed.
func runReport(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "report", "report [-json] [-spec PATH [-var NAME=VALUE]... [-var-file FILE]... [-inventory FILE]...] FILE|DIR...")
	var o reportOptions
	o.spec.register(fs, false)
	fs.StringVar(&o.specPath, "spec", "", "print the hosts in the order of the spec at `PATH` (default: sorted by name)")
	fs.BoolVar(&o.json, "json", false, "print the merged -json stream instead of the table")
	if err := parseSpecArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{msg: "give the -json outputs to merge: perfprov report FILE..."}
	}
	var order []string
	if o.specPath != "" {
		sp, err := loadSpec(env, o.specPath, &o.spec)
		if err != nil {
			return err
		}
		for _, h := range sp.Hosts {
			order = append(order, h.Name)
		}
	}
	streams, err := readStreams(fs.Args())
	if err != nil {
		return err
	}
	fleet, err := view.MergeStreams(streams, order)
	if err != nil {
		return err
	}
	if fleet.Mismatch != "" {
		fmt.Fprintf(env.stderr, "perfprov report: warning: the recap may be incomplete: %s\n", fleet.Mismatch)
	}
	if o.json {
		err = view.WriteFleetJSON(env.stdout, fleet, header("report", ""))
	} else {
		err = view.WriteFleet(env.stdout, fleet)
	}
	if err != nil {
		return err
	}
	if fleetFailed(fleet) {
		return &exitError{code: exitFailure}
	}
	return nil
}

// readStreams reads each output; a directory is a bench history, read as its newest run.
func readStreams(paths []string) ([]*view.Stream, error) {
	var out []*view.Stream
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			files, err := bench.History(p)
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: no saved bench run in this directory", p)
			}
			p = files[len(files)-1]
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s, err := view.ReadStream(p, data)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// fleetFailed is the exit status one run over the fleet would have had: a host that did not
// converge (apply), could not be planned (plan), did not answer (facts), or failed its benchmark.
func fleetFailed(f *view.Fleet) bool {
	if slices.ContainsFunc(f.Reports(), func(r *bench.HostReport) bool { return r.Verdict == bench.Fail }) {
		return true
	}
	switch f.Kind {
	case view.StreamApply:
		return !f.Run().Converged() || f.Run().Interrupted
	case view.StreamPlan:
		return f.Run().HasErrors()
	case view.StreamFacts:
		return slices.ContainsFunc(f.Facts(), func(r view.FactsRow) bool { return !r.OK })
	}
	return false
}
