package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// benchOptions are bench's flags.
type benchOptions struct {
	spec    specFlags
	html    string
	compare bool
	// compareWith are the earlier runs to compare with (-compare-with, repeatable): history
	// directories (their newest run before this one) or saved runs and bench -json outputs. The
	// shards' runs merge into one earlier fleet. None: the newest run in historyDir.
	compareWith stringList
	historyDir  string
	noSave      bool
	parallel    int
	nonMember   string
	junit       string
}

func runBench(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "bench", "bench [-json] [-junit FILE] [-html FILE] [-compare] [-compare-with DIR|FILE]... [-history DIR] [-no-save] [-non-member USER] [-limit HOSTS|GROUPS] [-shard K/N] [-ask-become-pass] [-parallel N] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var o benchOptions
	o.spec.register(fs, true)
	o.spec.registerBecome(fs)
	fs.BoolVar(&o.spec.json, "json", false, "print one JSON object per host and line, after the format's header line")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report (fleet summary, accuracy and history charts, host table) to `FILE`")
	fs.BoolVar(&o.compare, "compare", false, "show what changed on each host since the previous saved run")
	fs.Var(&o.compareWith, "compare-with", "compare with the newest earlier run in the history `DIR`, or with this saved run or bench -json FILE (repeatable: several shards' merge into one fleet; implies -compare)")
	fs.StringVar(&o.historyDir, "history", bench.DefaultHistoryDir, "`DIR` where each run is saved with a timestamp")
	fs.BoolVar(&o.noSave, "no-save", false, "do not save this run in the history")
	fs.IntVar(&o.parallel, "parallel", 0, "hosts benchmarked at once (default: rollout.parallel, else 50)")
	fs.StringVar(&o.nonMember, "non-member", bench.DefaultNonMember, "`USER` outside the perf group whose exec of perf must be refused")
	fs.StringVar(&o.junit, "junit", "", "also write the verdicts as JUnit XML to `FILE`: a testsuite per host, a testcase per benchmark")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	jr := junitReport{path: o.junit, start: env.now()}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	if err := checkParallel(fs, o.parallel); err != nil {
		return err
	}
	if o.spec.json {
		startJSON(env, "bench", view.StreamBench)
	}
	sp, err := loadSpec(env, path, &o.spec)
	if err != nil {
		return err
	}
	hosts, none, err := o.spec.targets(env, sp, "bench")
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if none { // -json: the header, and no host
		saveRetryFile(env, "bench", nil)
		return jr.write(env, "bench", nil, func(w io.Writer, el time.Duration) error { return view.WriteBenchJUnit(w, nil, el) })
	}
	if err := o.spec.askBecome(env); err != nil {
		return err
	}
	start := env.now().UTC()
	reps, interrupted := benchHosts(ctx, env, sp, hosts, hostsAtOnce(o.parallel, sp), bench.Options{NonMember: o.nonMember})
	err = benchOutputs(ctx, env, o, path, sp, hosts, reps, interrupted, start)
	return jr.write(env, "bench", err, func(w io.Writer, el time.Duration) error { return view.WriteBenchJUnit(w, reps, el) })
}

// benchOutputs prints and saves a bench run's reports, and returns its outcome.
func benchOutputs(ctx context.Context, env *cliEnv, o benchOptions, path string, sp *hcl.Spec, hosts []*spec.Host, reps []*bench.HostReport, interrupted bool, start time.Time) error {
	if len(reps) == 0 && !interrupted {
		fmt.Fprintln(env.stderr, "perfprov bench: no benchmark block targets these hosts")
		return &exitError{code: exitFailure}
	}

	if o.spec.json {
		if err := view.WriteBenchJSON(env.stdout, reps); err != nil {
			return err
		}
	} else {
		if err := view.WriteBenchTable(env.stdout, reps); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, view.BenchSummary(reps))
	}
	if o.html != "" {
		// The page draws the runs saved before this one; without them it has no history chart.
		earlier, err := bench.Recent(o.historyDir, start, view.HistoryRuns-1)
		if err != nil {
			fmt.Fprintf(env.stderr, "perfprov bench: warning: the HTML report's history leaves out a run: %v\n", err)
		}
		page := view.BenchPage{Reports: reps, Generated: start, History: earlier}
		if err := writeBenchHTML(o.html, page); err != nil {
			return err
		}
		if !o.spec.json {
			fmt.Fprintf(env.stdout, "HTML report: %s\n", o.html)
		}
	}
	if o.compare || len(o.compareWith) > 0 {
		prev, err := previousRun(env, o, start)
		if err != nil {
			return err
		}
		prev = selectedOnly(prev, sp, hosts)
		w := env.stdout
		if o.spec.json {
			w = env.stderr // stdout stays one JSON object per line
		}
		var changes []bench.Change
		if prev != nil {
			changes = bench.Compare(prev.Reports, reps)
		}
		view.WriteBenchChanges(w, prev, changes)
	}
	if !o.noSave && !interrupted {
		abs, _ := filepath.Abs(path)
		if _, err := bench.Save(o.historyDir, &bench.Record{Time: start, Spec: abs, Reports: reps}); err != nil {
			fmt.Fprintf(env.stderr, "perfprov bench: warning: %v\n", err)
		}
	}
	if interrupted || ctx.Err() != nil {
		return errInterrupted
	}
	failed := benchFailures(reps)
	saveRetryFile(env, "bench", failed)
	if len(failed) > 0 {
		return &exitError{code: exitFailure}
	}
	return nil
}

// previousRun is the earlier run -compare compares with: the newest one in -history, or the
// runs -compare-with names merged into one fleet (a host in two of them is an error, as in
// report). nil: there is none.
func previousRun(env *cliEnv, o benchOptions, start time.Time) (*bench.Record, error) {
	if len(o.compareWith) == 0 {
		prev, _, err := bench.Previous(o.historyDir, start)
		return prev, err
	}
	var streams []*view.Stream
	for _, p := range o.compareWith {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			_, file, err := bench.Previous(p, start)
			if err != nil {
				return nil, err
			}
			if file == "" {
				fmt.Fprintf(env.stderr, "perfprov bench: %s holds no run before this one\n", p)
				continue
			}
			p = file
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		s, err := view.ReadStream(p, data)
		if err != nil {
			return nil, err
		}
		if s.Kind != view.StreamBench && s.Kind != view.StreamApply && s.Kind != "" {
			return nil, fmt.Errorf("%s is the output of %s, not of a benchmark", p, s.Kind)
		}
		streams = append(streams, s)
	}
	fleet, err := view.MergeStreams(streams, nil)
	if err != nil {
		return nil, err
	}
	reps := fleet.Reports()
	if len(reps) == 0 {
		return nil, nil
	}
	// Since when: the oldest of the runs, as saved, else as its reports say.
	rec := &bench.Record{Reports: reps}
	for _, s := range streams {
		if t := s.Saved(); !t.IsZero() && (rec.Time.IsZero() || t.Before(rec.Time)) {
			rec.Time = t
		}
	}
	for _, r := range reps {
		if rec.Time.IsZero() || r.Time.Before(rec.Time) {
			rec.Time = r.Time
		}
	}
	return rec, nil
}

// selectedOnly drops from the earlier run the hosts this run left out on purpose (-limit, -shard):
// they are not "no longer benchmarked". Hosts the spec no longer has stay, and are.
func selectedOnly(prev *bench.Record, sp *hcl.Spec, hosts []*spec.Host) *bench.Record {
	if prev == nil {
		return nil
	}
	out := *prev
	out.Reports = nil
	for _, r := range prev.Reports {
		selected := slices.ContainsFunc(hosts, func(h *spec.Host) bool { return h.Name == r.Host })
		if selected || sp.Host(r.Host) == nil {
			out.Reports = append(out.Reports, r)
		}
	}
	return &out
}

// writeBenchHTML writes the page next to its final name, then renames it into place.
func writeBenchHTML(path string, page view.BenchPage) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".perfprov-bench-*.html")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := view.WriteBenchHTML(tmp, page); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// benchHosts benchmarks every host, at most parallel at once, and returns the reports in host
// order, then benchmark order. The benchmark only reads, so the first SIGINT cancels at once.
func benchHosts(ctx context.Context, env *cliEnv, sp *hcl.Spec, hosts []*spec.Host, parallel int, bo bench.Options) ([]*bench.HostReport, bool) {
	ctx, cancel, stopped := cancelOnInterrupt(ctx, env)
	defer cancel()
	opts := connectOptions(env)
	perHost := make([][]*bench.HostReport, len(hosts))
	eachHost(ctx, hosts, parallel, func(i int, h *spec.Host) {
		perHost[i] = benchHost(ctx, env, sp, h, opts, bo, stopped)
	}, func(i int, h *spec.Host) {
		perHost[i] = []*bench.HostReport{benchFailed(env, h.Name, "", ctx.Err(), stopped)}
	})
	var out []*bench.HostReport
	for _, r := range perHost {
		out = append(out, r...)
	}
	return out, stopped.Load()
}

// benchHost connects, reads the host's facts (benchmarks may depend on them), evaluates the spec
// for the host and runs each of its benchmarks on the one connection. A host with no benchmark
// gives no report. A panic below (a bug) becomes this host's failure.
func benchHost(ctx context.Context, env *cliEnv, sp *hcl.Spec, h *spec.Host, opts connect.Options, bo bench.Options, stopped *atomic.Bool) (reps []*bench.HostReport) {
	defer func() {
		if r := recover(); r != nil {
			reps = []*bench.HostReport{benchFailed(env, h.Name, "", fmt.Errorf("internal error: %v", r), stopped)}
		}
	}()
	if err := ctx.Err(); err != nil {
		return []*bench.HostReport{benchFailed(env, h.Name, "", err, stopped)}
	}
	conn, err := env.open(ctx, h, opts)
	if err != nil {
		return []*bench.HostReport{benchFailed(env, h.Name, "", err, stopped)}
	}
	defer closeConn(conn)
	f, err := facts.Gather(ctx, conn)
	if err != nil {
		return []*bench.HostReport{benchFailed(env, h.Name, "", err, stopped)}
	}
	hc, diags := sp.Evaluate(h.Name, f.Value())
	if diags.HasErrors() {
		return []*bench.HostReport{benchFailed(env, h.Name, "", errors.New("evaluating the spec: "+diags.Error()), stopped)}
	}
	// The paranoid policy needs the facts' belief about the Debian/Ubuntu patch; the expected
	// CapEff is the set the spec applies to that perf, if it does.
	bo.DistroParanoidPatch = &f.DistroParanoidPatch
	bo.DistroParanoidPatchReason = f.DistroParanoidPatchReason
	for _, b := range hc.Benchmarks {
		o := bo
		caps, found, err := bench.SpecCaps(hc, b)
		if err != nil {
			reps = append(reps, benchFailed(env, h.Name, b.Name, err, stopped))
			continue
		}
		if found {
			o.ExpectedCaps = caps
		}
		r, err := bench.Run(ctx, conn, b, o)
		if err != nil {
			r = benchFailed(env, h.Name, b.Name, err, stopped)
		}
		reps = append(reps, r)
	}
	return reps
}

func closeConn(c transport.Conn) { _ = c.Close() }

// benchFailed is the report of a host the benchmark could not run on; the reason names the host
// once.
func benchFailed(env *cliEnv, host, benchmark string, err error, stopped *atomic.Bool) *bench.HostReport {
	msg := err.Error()
	if stopped.Load() && errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	msg = strings.TrimPrefix(msg, host+": ")
	return bench.FailedReport(host, benchmark, errors.New(msg), env.now())
}

// benchAfterApply runs the spec's benchmarks at the end of apply on every targeted host that
// converged, prints the fleet table after the recap (or one "benchmark" JSON event per host
// report), and saves the run in the default history. A host that did not converge is not
// benchmarked: it is reported as skipped. It returns the hosts that failed their benchmark and
// whether a SIGINT stopped it. inSync says the run was a plan that found nothing to change (apply
// without -auto-approve then stops before applying): its hosts planned without error count as
// converged.
func benchAfterApply(ctx context.Context, env *cliEnv, sp *hcl.Spec, specPath string, run *engine.Run, asJSON bool, parallel int, inSync bool) (reports []*bench.HostReport, failed []string, interrupted bool) {
	type hostBench struct {
		host    *spec.Host
		names   []string // its benchmark blocks, known without facts
		skipped string   // why it is not benchmarked
	}
	var targets []hostBench
	var todo []*spec.Host
	for _, h := range run.Hosts {
		// Which blocks target a host does not depend on facts: an offline evaluation tells.
		hc, _ := sp.Evaluate(h.Name, cty.DynamicVal)
		if hc == nil || len(hc.Benchmarks) == 0 {
			continue
		}
		hb := hostBench{host: h.Host}
		for _, b := range hc.Benchmarks {
			hb.names = append(hb.names, b.Name)
		}
		if why := notConverged(h, inSync); why != "" {
			hb.skipped = why
		} else {
			todo = append(todo, h.Host)
		}
		targets = append(targets, hb)
	}
	if len(targets) == 0 {
		return nil, nil, false
	}
	start := env.now().UTC()
	done, stopped := benchHosts(ctx, env, sp, todo, hostsAtOnce(parallel, sp), bench.Options{NonMember: bench.DefaultNonMember})
	byHost := map[string][]*bench.HostReport{}
	for _, r := range done {
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	var reps, measured []*bench.HostReport
	for _, t := range targets {
		if t.skipped != "" {
			for _, name := range t.names {
				reps = append(reps, bench.SkippedReport(t.host.Name, name, t.skipped, start))
			}
			continue
		}
		reps = append(reps, byHost[t.host.Name]...)
		measured = append(measured, byHost[t.host.Name]...)
	}
	if asJSON {
		view.WriteBenchEventsJSON(env.stdout, reps)
	} else {
		fmt.Fprintln(env.stdout, "\nBenchmark:")
		_ = view.WriteBenchTable(env.stdout, reps)
		fmt.Fprintln(env.stdout, view.BenchSummary(reps))
	}
	if len(measured) > 0 && !stopped {
		abs, _ := filepath.Abs(specPath)
		if _, err := bench.Save(bench.DefaultHistoryDir, &bench.Record{Time: start, Spec: abs, Reports: measured}); err != nil {
			fmt.Fprintf(env.stderr, "perfprov apply: warning: %v\n", err)
		}
	}
	return reps, benchFailures(reps), stopped
}

// notConverged says why a host of an apply run is not benchmarked ("" when it converged).
func notConverged(h *engine.HostRun, inSync bool) string {
	switch h.Status {
	case engine.StatusOK, engine.StatusChanged:
		return ""
	case "", engine.StatusPlanned:
		if inSync && h.Err == nil && h.Count(engine.StatusFailed) == 0 {
			return ""
		}
	}
	why := "not benchmarked: the host did not converge (" + string(h.Status) + ")"
	if h.Status == "" {
		why = "not benchmarked: the host was not applied"
	}
	if h.Err != nil {
		msg, _, _ := strings.Cut(strings.TrimPrefix(h.Err.Error(), h.Name+": "), "\n")
		why += ": " + msg
	}
	return why
}
