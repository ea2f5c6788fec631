package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/provision/transport"
)

func init() {
	register(&command{name: "bench", synopsis: "Confirm, host by host, that a perf group member counts events correctly", run: runBench})
}

// benchOpen opens a connection to a host; tests replace it.
var benchOpen = connect.Open

// benchNow is the clock of the run's timestamp; tests replace it.
var benchNow = time.Now

// benchOptions are bench's flags.
type benchOptions struct {
	spec       specFlags
	html       string
	compare    bool
	historyDir string
	noSave     bool
	parallel   int
	nonMember  string
}

func runBench(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "bench", "bench [-json] [-html FILE] [-compare] [-history DIR] [-no-save] [-non-member USER] [-limit HOSTS|GROUPS] [-parallel N] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var o benchOptions
	o.spec.register(fs, true)
	fs.BoolVar(&o.spec.json, "json", false, "print one JSON object per host and line")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report (table and chart) to `FILE`")
	fs.BoolVar(&o.compare, "compare", false, "show what changed on each host since the previous saved run")
	fs.StringVar(&o.historyDir, "history", bench.DefaultHistoryDir, "`DIR` where each run is saved with a timestamp")
	fs.BoolVar(&o.noSave, "no-save", false, "do not save this run in the history")
	fs.IntVar(&o.parallel, "parallel", 0, "hosts benchmarked at once (default: rollout.parallel, else 20)")
	fs.StringVar(&o.nonMember, "non-member", bench.DefaultNonMember, "`USER` outside the perf group whose exec of perf must be refused")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	if o.parallel < 0 {
		return &usageError{msg: "-parallel must be at least 1"}
	}
	spec, err := loadSpec(env, path, &o.spec)
	if err != nil {
		return err
	}
	hosts, err := spec.Targets(o.spec.limitNames())
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	n := o.parallel
	if n == 0 {
		n = spec.Rollout.Parallel
	}
	if n <= 0 {
		n = defaultFactsParallel
	}

	start := benchNow().UTC()
	reps, interrupted := benchHosts(ctx, env, spec, hosts, n, bench.Options{NonMember: o.nonMember})
	if len(reps) == 0 && !interrupted {
		fmt.Fprintln(env.stderr, "perfprov bench: no benchmark block targets these hosts")
		return &exitError{code: exitFailure}
	}

	if o.spec.json {
		if err := bench.WriteJSON(env.stdout, reps); err != nil {
			return err
		}
	} else {
		if err := bench.WriteTable(env.stdout, reps); err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, bench.Summary(reps))
	}
	if o.html != "" {
		if err := writeBenchHTML(o.html, reps, start); err != nil {
			return err
		}
		if !o.spec.json {
			fmt.Fprintf(env.stdout, "HTML report: %s\n", o.html)
		}
	}
	if o.compare {
		prev, _, err := bench.Previous(o.historyDir, start)
		if err != nil {
			return err
		}
		w := env.stdout
		if o.spec.json {
			w = env.stderr // stdout stays one JSON object per line
		}
		var changes []bench.Change
		if prev != nil {
			changes = bench.Compare(prev.Reports, reps)
		}
		bench.WriteChanges(w, prev, changes)
	}
	if !o.noSave && !interrupted {
		abs, _ := filepath.Abs(path)
		if _, err := bench.Save(o.historyDir, &bench.Record{Time: start, Spec: abs, Reports: reps}); err != nil {
			fmt.Fprintf(env.stderr, "perfprov bench: warning: %v\n", err)
		}
	}
	switch {
	case interrupted || ctx.Err() != nil:
		return errInterrupted
	case slices.ContainsFunc(reps, func(r *bench.HostReport) bool { return r.Verdict == bench.Fail }):
		return &exitError{code: exitFailure}
	}
	return nil
}

// benchTolerance is the tolerance drawn in the HTML chart: the loosest of the run (the chart
// marks one line).
func benchTolerance(reps []*bench.HostReport) float64 {
	t := 0.0
	for _, r := range reps {
		t = max(t, r.Tolerance)
	}
	if t == 0 {
		return bench.DefaultTolerance
	}
	return t
}

// writeBenchHTML writes the page next to its final name, then renames it into place.
func writeBenchHTML(path string, reps []*bench.HostReport, generated time.Time) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".perfprov-bench-*.html")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := bench.WriteHTML(tmp, reps, benchTolerance(reps), generated); err != nil {
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
func benchHosts(ctx context.Context, env *cliEnv, spec *hcl.Spec, hosts []*hcl.Host, parallel int, bo bench.Options) ([]*bench.HostReport, bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stopped atomic.Bool
	go func() {
		select {
		case <-env.interrupted:
			stopped.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	opts := connect.Options{Getenv: env.getenv}
	perHost := make([][]*bench.HostReport, len(hosts))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				perHost[i] = []*bench.HostReport{benchFailed(h.Name, "", ctx.Err(), &stopped)}
				return
			}
			perHost[i] = benchHost(ctx, spec, h, opts, bo, &stopped)
		}()
	}
	wg.Wait()
	var out []*bench.HostReport
	for _, r := range perHost {
		out = append(out, r...)
	}
	return out, stopped.Load()
}

// benchHost connects, reads the host's facts (benchmarks may depend on them), evaluates the spec
// for the host and runs each of its benchmarks on the one connection. A host with no benchmark
// gives no report. A panic below (a bug) becomes this host's failure.
func benchHost(ctx context.Context, spec *hcl.Spec, h *hcl.Host, opts connect.Options, bo bench.Options, stopped *atomic.Bool) (reps []*bench.HostReport) {
	defer func() {
		if r := recover(); r != nil {
			reps = []*bench.HostReport{benchFailed(h.Name, "", fmt.Errorf("internal error: %v", r), stopped)}
		}
	}()
	if err := ctx.Err(); err != nil {
		return []*bench.HostReport{benchFailed(h.Name, "", err, stopped)}
	}
	conn, err := benchOpen(ctx, h, opts)
	if err != nil {
		return []*bench.HostReport{benchFailed(h.Name, "", err, stopped)}
	}
	defer closeConn(conn)
	f, err := facts.Gather(ctx, conn)
	if err != nil {
		return []*bench.HostReport{benchFailed(h.Name, "", err, stopped)}
	}
	hc, diags := spec.Evaluate(h.Name, f.Value())
	if diags.HasErrors() {
		return []*bench.HostReport{benchFailed(h.Name, "", errors.New("evaluating the spec: "+diags.Error()), stopped)}
	}
	for _, b := range hc.Benchmarks {
		r, err := bench.Run(ctx, conn, b, bo)
		if err != nil {
			r = benchFailed(h.Name, b.Name, err, stopped)
		}
		reps = append(reps, r)
	}
	return reps
}

func closeConn(c transport.Conn) { _ = c.Close() }

// benchFailed is the report of a host the benchmark could not run on; the reason names the host
// once.
func benchFailed(host, benchmark string, err error, stopped *atomic.Bool) *bench.HostReport {
	msg := err.Error()
	if stopped.Load() && errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	msg = strings.TrimPrefix(msg, host+": ")
	return bench.FailedReport(host, benchmark, errors.New(msg), benchNow())
}
