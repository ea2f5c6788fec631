package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/perfprov/perfprov/spec"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/transport"
)

// factsRow is one host's answer, as -json prints it.
type factsRow struct {
	Host  string       `json:"host"`
	OK    bool         `json:"ok"`
	Error string       `json:"error"`
	Facts *facts.Facts `json:"facts"`
}

func runFacts(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "facts", "facts [-json] [-limit HOSTS|GROUPS] [-parallel N] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var f specFlags
	f.register(fs, true)
	fs.BoolVar(&f.json, "json", false, `print JSON: [{"host", "ok", "error", "facts"}] in the spec's host order`)
	parallel := fs.Int("parallel", 0, "hosts asked at once (default: rollout.parallel, else 20)")
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
	sp, err := loadSpec(env, path, &f)
	if err != nil {
		return err
	}
	hosts, err := sp.Targets(f.limitNames())
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	rows, interrupted := gatherFacts(ctx, env, hosts, hostsAtOnce(*parallel, sp))
	if f.json {
		if err := writeFactsJSON(env.stdout, rows); err != nil {
			return err
		}
	} else {
		writeFactsTable(env.stdout, rows)
	}
	switch {
	case interrupted || ctx.Err() != nil:
		return errInterrupted
	case slices.ContainsFunc(rows, func(r factsRow) bool { return !r.OK }):
		return &exitError{code: exitFailure}
	}
	return nil
}

// gatherFacts asks every host for its facts, at most parallel at once, and returns one row per
// host in the order given. Facts are read-only, so the first SIGINT (env.interrupted) cancels the
// work in flight at once; interrupted reports that it happened.
func gatherFacts(ctx context.Context, env *cliEnv, hosts []*spec.Host, parallel int) (rows []factsRow, interrupted bool) {
	ctx, cancel, stopped := cancelOnInterrupt(ctx, env)
	defer cancel()

	opts := connectOptions(env)
	// Versions of perf binaries seen before: a host whose perf is the same file is not made to
	// start it again (the most expensive part of the facts script).
	cache, save := openPerfCache(env, "facts")
	defer save()
	rows = make([]factsRow, len(hosts))
	eachHost(ctx, hosts, parallel, func(i int, h *spec.Host) {
		rows[i] = hostFacts(ctx, env, h, opts, cache, stopped)
	}, func(i int, h *spec.Host) {
		rows[i] = factsFailed(h.Name, ctx.Err(), stopped)
	})
	return rows, stopped.Load()
}

// hostFacts connects to one host and gathers its facts. A panic below (a bug) becomes this host's
// error rather than the end of every host's run.
func hostFacts(ctx context.Context, env *cliEnv, h *spec.Host, opts connect.Options, cache *facts.PerfCache, stopped *atomic.Bool) (row factsRow) {
	defer func() {
		if r := recover(); r != nil {
			row = factsRow{Host: h.Name, Error: fmt.Sprintf("%s: internal error: %v", h.Name, r)}
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
	return factsRow{Host: h.Name, OK: true, Facts: f}
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

func factsFailed(host string, err error, stopped *atomic.Bool) factsRow {
	msg := err.Error()
	if stopped.Load() && errors.Is(err, context.Canceled) {
		msg = host + ": interrupted"
	}
	if !strings.HasPrefix(msg, host+": ") && !strings.HasPrefix(msg, host+" ") {
		msg = host + ": " + msg
	}
	return factsRow{Host: host, Error: msg}
}

func writeFactsJSON(w io.Writer, rows []factsRow) error {
	if rows == nil {
		rows = []factsRow{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// writeFactsTable prints one line per host: what decides whether unprivileged perf monitoring can
// be set up there. A host that did not answer shows its error instead.
func writeFactsTable(w io.Writer, rows []factsRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tOS\tKERNEL\tARCH\tCAPS\tPARANOID\tPMU\tPERF\tLIBCAP\tPRIV\tNOSUID")
	patched := false
	for _, r := range rows {
		if !r.OK {
			// The last cell of a line is not aligned, so a long error does not widen the columns.
			fmt.Fprintf(tw, "%s\tERROR: %s\n", r.Host, strings.TrimPrefix(r.Error, r.Host+": "))
			continue
		}
		f := r.Facts
		paranoid := "?"
		if f.PerfEvents {
			paranoid = strconv.Itoa(f.PerfEventParanoid)
			if f.DistroParanoidPatch && f.PerfEventParanoid > 2 {
				paranoid += "*"
				patched = true
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Host, dash(strings.TrimSpace(f.OSID+" "+f.OSVersion)), dash(f.KernelRelease), dash(f.Arch),
			capsCell(f), paranoid, pmuCell(f), perfCell(f), libcapCell(f), privCell(f), nosuidCell(f))
	}
	_ = tw.Flush()
	if patched {
		fmt.Fprintln(w, "* perf_event_paranoid > 2 on a kernel with the Debian/Ubuntu patch: CAP_PERFMON alone is not enough; set it to 2 or lower.")
	}
}

func capsCell(f *facts.Facts) string {
	switch {
	case f.CapLastCap < 0:
		return "?"
	case f.KernelPerfmonSupported:
		return fmt.Sprintf("%d perfmon", f.CapLastCap)
	default:
		return fmt.Sprintf("%d no-perfmon", f.CapLastCap)
	}
}

func pmuCell(f *facts.Facts) string {
	if !f.HasPMU {
		return "none"
	}
	return f.PMUType + ":" + strings.Join(f.PMU, ",")
}

func perfCell(f *facts.Facts) string {
	p := f.Perf
	kind := "elf"
	switch {
	case p.IsScript:
		kind = "script"
	case !p.IsELF:
		kind = "?"
	}
	switch {
	case p.Path == "":
		return "-"
	case p.Version != "":
		return p.Version + " (" + kind + ")"
	default:
		return "no version (" + kind + ")"
	}
}

func libcapCell(f *facts.Facts) string {
	switch {
	case f.Libcap.SetcapPath == "" && f.Libcap.Version == "":
		return "-"
	case f.Libcap.SetcapPath == "":
		return f.Libcap.Version + " (no setcap)"
	case f.Libcap.Version == "":
		return "?"
	}
	return f.Libcap.Version
}

func privCell(f *facts.Facts) string {
	switch {
	case f.IsRoot:
		return "root"
	case f.HasSudo && f.SudoNoPassword:
		return "sudo"
	case f.HasSudo:
		return "sudo+password"
	}
	return "none"
}

func nosuidCell(f *facts.Facts) string {
	if len(f.Mounts) == 0 {
		return "?" // mountinfo was not readable: unknown, not "none"
	}
	var out []string
	for _, p := range facts.InstallPrefixes {
		if m, ok := f.Mounts[p]; ok && m.NoSuid {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
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
