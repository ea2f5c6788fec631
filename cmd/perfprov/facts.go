package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

func runFacts(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "facts", "facts [-json] [-limit HOSTS|GROUPS] [-shard K/N] [-parallel N] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var f specFlags
	f.register(fs, true)
	fs.BoolVar(&f.json, "json", false, `print JSON: the format's header line, then [{"host", "ok", "error", "facts"}] in the spec's host order`)
	parallel := fs.Int("parallel", 0, "hosts asked at once (default: rollout.parallel, else 50)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	if err := checkParallel(fs, *parallel); err != nil {
		return err
	}
	if f.json {
		startJSON(env, "facts", view.StreamFacts)
	}
	sp, err := loadSpec(env, path, &f)
	if err != nil {
		return err
	}
	hosts, none, err := f.targets(env, sp, "facts")
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if none {
		if f.json {
			return view.WriteFactsJSON(env.stdout, nil)
		}
		return nil
	}
	rows, interrupted := gatherFacts(ctx, env, hosts, hostsAtOnce(*parallel, sp))
	if f.json {
		if err := view.WriteFactsJSON(env.stdout, rows); err != nil {
			return err
		}
	} else {
		view.WriteFactsTable(env.stdout, rows)
	}
	switch {
	case interrupted || ctx.Err() != nil:
		return errInterrupted
	case slices.ContainsFunc(rows, func(r view.FactsRow) bool { return !r.OK }):
		return &exitError{code: exitFailure}
	}
	return nil
}

// gatherFacts asks every host for its facts, at most parallel at once, and returns one row per
// host in the order given. Facts are read-only, so the first SIGINT (env.interrupted) cancels the
// work in flight at once; interrupted reports that it happened.
func gatherFacts(ctx context.Context, env *cliEnv, hosts []*spec.Host, parallel int) (rows []view.FactsRow, interrupted bool) {
	ctx, cancel, stopped := cancelOnInterrupt(ctx, env)
	defer cancel()

	opts := connectOptions(env)
	// Versions of perf binaries seen before: a host whose perf is the same file is not made to
	// start it again (the most expensive part of the facts script).
	cache, save := openPerfCache(env, "facts")
	defer save()
	rows = make([]view.FactsRow, len(hosts))
	eachHost(ctx, hosts, parallel, func(i int, h *spec.Host) {
		rows[i] = hostFacts(ctx, env, h, opts, cache, stopped)
	}, func(i int, h *spec.Host) {
		rows[i] = factsFailed(h.Name, ctx.Err(), stopped)
	})
	return rows, stopped.Load()
}

// hostFacts connects to one host and gathers its facts. A panic below (a bug) becomes this host's
// error rather than the end of every host's run.
func hostFacts(ctx context.Context, env *cliEnv, h *spec.Host, opts connect.Options, cache *facts.PerfCache, stopped *atomic.Bool) (row view.FactsRow) {
	defer func() {
		if r := recover(); r != nil {
			row = view.FactsRow{Host: h.Name, Error: fmt.Sprintf("%s: internal error: %v", h.Name, r)}
		}
	}()
	if err := ctx.Err(); err != nil {
		return factsFailed(h.Name, err, stopped)
	}
	conn, err := env.open(ctx, h, opts)
	if err != nil {
		return factsFailed(h.Name, err, stopped)
	}
	defer closeQuietly(conn)
	key := factsCacheKey(h)
	f, err := facts.GatherWith(ctx, conn, facts.Options{KnownPerf: cache.Get(key)})
	if err != nil {
		return factsFailed(h.Name, err, stopped)
	}
	cache.Put(key, f)
	return view.FactsRow{Host: h.Name, OK: true, Facts: f}
}

// factsCacheKey names a host in the perf version cache: a spec host name may be reused for
// another machine, so its address is part of the key.
func factsCacheKey(h *spec.Host) string {
	if h.Conn.Type == "local" {
		return "local " + h.Name
	}
	return fmt.Sprintf("%s %s:%d", h.Name, h.Address, h.Port)
}

func closeQuietly(c transport.Conn) { _ = c.Close() }

func factsFailed(host string, err error, stopped *atomic.Bool) view.FactsRow {
	msg := err.Error()
	if stopped.Load() && errors.Is(err, context.Canceled) {
		msg = host + ": interrupted"
	}
	if !strings.HasPrefix(msg, host+": ") && !strings.HasPrefix(msg, host+" ") {
		msg = host + ": " + msg
	}
	return view.FactsRow{Host: host, Error: msg}
}

// openPerfCache opens the controller's cache of perf versions seen on hosts; save writes it back
// (a failure to save is a warning: the cache only saves time).
func openPerfCache(env *cliEnv, command string) (cache *facts.PerfCache, save func()) {
	cache = facts.OpenPerfCache(facts.PerfCachePath(env.getenv))
	return cache, func() {
		if err := cache.Save(); err != nil {
			fmt.Fprintf(env.stderr, "perfprov %s: warning: %v\n", command, err)
		}
	}
}
