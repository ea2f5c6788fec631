package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/planfile"
	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Default locations, relative to the working directory.
const (
	defaultAuditLog = ".perfprov/audit.log"
	defaultLogDir   = ".perfprov/logs"
)

func runApply(ctx context.Context, env *cliEnv, args []string) (err error) {
	fs := newFlagSet(env, "apply", "apply [-auto-approve] [-limit HOSTS|GROUPS] [-shard K/N] [-ask-become-pass] [-parallel N] [-json] [-junit FILE] [-audit-log FILE] [-var NAME=VALUE] [-var-file FILE] [PATH | PLANFILE]")
	var sf specFlags
	sf.register(fs, true)
	sf.registerBecome(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	parallel := fs.Int("parallel", 0, "hosts worked on at once (default: rollout.parallel, else 50)")
	fs.BoolVar(&sf.json, "json", false, "print one JSON object per line, the first the format's header (needs -auto-approve)")
	auditPath := fs.String("audit-log", defaultAuditLog, "append every change to this file (JSON lines)")
	junit := fs.String("junit", "", "also write the outcome as JUnit XML to `FILE`: a testsuite per host, with a testcase for the host, each resource and each benchmark")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	jr := junitReport{path: *junit, start: env.now()}
	var res applyResult
	defer func() {
		if res.run != nil {
			err = jr.write(env, "apply", err, func(w io.Writer, el time.Duration) error {
				return view.WriteApplyJUnit(w, res.run, res.reps, res.inSync, jr.start, el)
			})
		}
	}()
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	if err := checkParallel(fs, *parallel); err != nil {
		return err
	}
	if planfile.Sniff(path) {
		// A saved plan: applied as it is, without a prompt (it was reviewed when it was made).
		if len(sf.varFiles) > 0 || len(sf.inventory) > 0 || sf.limit != "" || sf.shard.IsSet() {
			return &usageError{msg: "a saved plan fixes the spec, its inventory, var files and hosts: only -var for sensitive variables, -ask-become-pass, -json, -junit, -parallel and -audit-log go with apply FILE"}
		}
		if err := sf.askBecome(env); err != nil {
			return err
		}
		if sf.json {
			startJSON(env, "apply", view.StreamApply)
		}
		return applyPlanFile(ctx, env, path, sf.vars, sf.json, *parallel, *auditPath, &res)
	}
	if sf.json && !*autoApprove {
		return &usageError{msg: "-json needs -auto-approve (there is no prompt in JSON mode)"}
	}
	if !*autoApprove && !(isTerminal(env.stdin) && isTerminal(env.stdout)) {
		fmt.Fprintln(env.stderr, "perfprov apply: refusing to apply without confirmation: stdin is not a terminal. Review the changes with 'perfprov plan', then run 'perfprov apply -auto-approve'.")
		return &exitError{code: exitFailure}
	}
	if sf.json {
		startJSON(env, "apply", view.StreamApply)
	}
	sp, err := loadSpec(env, path, &sf)
	if err != nil {
		return err
	}
	hosts, none, err := sf.targets(env, sp, "apply")
	if err != nil {
		return err
	}
	if none {
		if sf.json {
			newApplyOutput(env, true).Finish(&engine.Run{}) // the stream of no host: its summary
		}
		saveRetryFile(env, "apply", nil)
		return jr.write(env, "apply", nil, func(w io.Writer, el time.Duration) error {
			return view.WriteApplyJUnit(w, &engine.Run{}, nil, false, jr.start, el)
		})
	}
	if err := sf.askBecome(env); err != nil {
		return err
	}
	audit, err := engine.OpenAuditLog(*auditPath)
	if err != nil {
		return err
	}
	defer audit.Close()

	out := newApplyOutput(env, sf.json)
	cache, saveCache := openPerfCache(env, "apply")
	defer saveCache()
	opts := engineOptions(env, sp, *parallel, cache)
	opts.Audit = audit
	opts.LogDir = defaultLogDir
	opts.HostLock, opts.LockHolder = engine.LockPath, lockHolder(env)

	var run *engine.Run
	if *autoApprove {
		opts.Events = out.Event
		run = engine.PlanAndApply(ctx, sp, hosts, opts)
		defer run.Close()
		res.run = run
	} else {
		run = engine.Plan(ctx, sp, hosts, opts)
		defer run.Close()
		res.run = run
		view.WritePlan(env.stdout, run, useColorOut(env))
		if ctx.Err() != nil || run.Interrupted {
			return errInterrupted
		}
		if !run.HasChanges() {
			res.inSync = true
			res.reps, err = nothingToApply(ctx, env, sp, path, run, *parallel)
			return err
		}
		ok, err := confirm(env, fmt.Sprintf("\nApply these changes to %s? Only 'yes' is accepted: ", countHosts(len(hosts))))
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(env.stdout, "Apply cancelled.")
			return &exitError{code: exitFailure}
		}
		run.SetEvents(out.Event)
		run.Apply(ctx)
	}
	out.Finish(run)
	if run.Interrupted || ctx.Err() != nil {
		return errInterrupted
	}
	// Benchmark blocks run on the hosts that converged; a failed verdict fails the apply.
	reps, benchFail, stopped := benchAfterApply(ctx, env, sp, path, run, sf.json, *parallel, false)
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

// applyResult is what an apply did, for -junit: its run (nil before it started), the benchmarks
// after it, and whether it was a plan that found nothing to change (nothing was applied).
type applyResult struct {
	run    *engine.Run
	reps   []*bench.HostReport
	inSync bool
}

// nothingToApply ends an apply whose plan found nothing to change: it says so, and as the hosts in
// sync are converged, their benchmarks run as after an apply.
func nothingToApply(ctx context.Context, env *cliEnv, sp *hcl.Spec, path string, run *engine.Run, parallel int) ([]*bench.HostReport, error) {
	if run.HasErrors() {
		fmt.Fprintln(env.stdout, "\nNothing to apply on the hosts that could be planned; the errors above remain.")
	} else {
		fmt.Fprintln(env.stdout, "\nNo changes: every host matches the spec.")
	}
	reps, benchFail, stopped := benchAfterApply(ctx, env, sp, path, run, false, parallel, true)
	if stopped {
		return reps, errInterrupted
	}
	saveRetryFile(env, "apply", union(runFailures(run), benchFail))
	if len(benchFail) > 0 || run.HasErrors() {
		return reps, &exitError{code: exitFailure}
	}
	return reps, nil
}

// engineOptions wires the engine to the real connections, the facts cache and the CLI's interrupt.
// The caller saves perfCache when the run is over. The read script and memo caches are opened
// for this run, beside the perf cache's file (none kept on disk when the perf cache is not).
func engineOptions(env *cliEnv, sp *hcl.Spec, parallel int, perfCache *facts.PerfCache) engine.Options {
	ro := sp.Rollout
	if parallel > 0 {
		ro.Parallel = parallel
	}
	keys := map[string]string{}
	for _, h := range sp.Hosts {
		keys[h.Name] = factsCacheKey(h)
	}
	var reads *engine.ReadCache
	var memos *engine.MemoCache
	if p := perfCache.Path(); p != "" {
		reads = engine.OpenReadCache(filepath.Join(filepath.Dir(p), engine.ReadCacheFile))
		memos = engine.OpenMemoCache(filepath.Join(filepath.Dir(p), engine.MemoCacheFile), func(host string) string { return keys[host] })
	}
	return engine.Options{
		ReadCache: reads,
		Memo:      memos,
		Open: func(ctx context.Context, h *spec.Host) (transport.Conn, error) {
			return env.open(ctx, h, connectOptions(env))
		},
		Gather:      engine.CachedGather(perfCache, func(host string) string { return keys[host] }),
		Rollout:     ro,
		Interrupted: env.interrupted,
		Secret:      env.debug().Secret,
	}
}

// lockHolder is how this run names itself in a host's lock file, for a second run that is refused.
func lockHolder(env *cliEnv) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	user := env.getenv("USER")
	if user == "" {
		user = fmt.Sprintf("uid %d", os.Getuid())
	}
	return fmt.Sprintf("perfprov apply, pid %d on %s, user %s, since %s", os.Getpid(), host, user, time.Now().UTC().Format(time.RFC3339))
}

// confirm asks on the terminal; SIGINT while waiting cancels.
func confirm(env *cliEnv, prompt string) (bool, error) {
	fmt.Fprint(env.stdout, prompt)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(env.stdin).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		return strings.TrimSpace(s) == "yes", nil
	case <-env.interrupted:
		fmt.Fprintln(env.stdout)
		return false, errInterrupted
	}
}

// useColorOut reports whether stdout may use ANSI colours.
func useColorOut(env *cliEnv) bool { return colorAllowed(env) && isTerminal(env.stdout) }

// newApplyOutput is the progress view of apply (and of plan -json): JSON lines, a live view
// with a line per host on a terminal, or a plain line per host per step.
func newApplyOutput(env *cliEnv, asJSON bool) *view.Progress {
	live := !asJSON && isTerminal(env.stdout) && env.getenv("TERM") != "dumb"
	return view.NewProgress(env.stdout, asJSON, live, useColorOut(env))
}

// countHosts is "1 host" or "N hosts".
func countHosts(n int) string {
	if n == 1 {
		return "1 host"
	}
	return fmt.Sprintf("%d hosts", n)
}
