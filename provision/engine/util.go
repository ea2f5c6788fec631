package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// hostLogDir is the controller directory for one host's logs ("" when logs are off).
func hostLogDir(dir, host string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, strings.ReplaceAll(host, "/", "_"))
}

// gatherWithFactsPackage gathers facts with the facts package and takes what resource types need
// from the host.facts object (so that this package does not depend on its Go field names).
func gatherWithFactsPackage(ctx context.Context, conn transport.Conn) (cty.Value, resource.HostInfo, error) {
	f, err := facts.Gather(ctx, conn)
	if err != nil {
		return cty.NilVal, resource.HostInfo{}, err
	}
	return factsValue(f)
}

// CachedGather returns a Gather that tells each host the perf version it reported last time for
// the same perf file (facts.PerfCache), so that a run with nothing to change does not start perf
// on every host: the most expensive part of the facts script. key names a host in the cache.
//
// With a Speculation (the run has a ReadCache), it also sends, with the facts, the read scripts of
// the host's previous plan, remembered in that cache under the same key.
func CachedGather(cache *facts.PerfCache, key func(host string) string) func(ctx context.Context, conn transport.Conn, sp *Speculation) (cty.Value, resource.HostInfo, error) {
	return func(ctx context.Context, conn transport.Conn, sp *Speculation) (cty.Value, resource.HostInfo, error) {
		k := key(conn.Host())
		opts := facts.Options{KnownPerf: cache.Get(k)}
		var rp *readPlan
		if sp != nil {
			rp = sp.cache.get(k)
		}
		var f *facts.Facts
		var err error
		switch {
		case rp != nil && len(rp.Snippets) > 0 && rp.Privileged:
			f, err = gatherBeside(ctx, conn, opts, rp, sp)
		case rp != nil && len(rp.Snippets) > 0:
			marker := newMarker()
			var res *transport.Result
			// The facts script does the read's prelude in its own stat and awk.
			opts.Prelude = rp.Pre
			f, res, err = facts.GatherThen(ctx, conn, opts, rp.script(marker), sp.timeout)
			// The read ran as the login user: it is this run's read only if that is root.
			if err == nil && f.IsRoot {
				sp.ran, sp.plan, sp.marker, sp.stdout, sp.stderr = true, *rp, marker, res.Stdout, res.Stderr
			}
		default:
			f, err = facts.GatherWith(ctx, conn, opts)
		}
		if err != nil {
			return cty.NilVal, resource.HostInfo{}, err
		}
		cache.Put(k, f)
		if sp != nil {
			root := f.IsRoot
			sp.remember = func(rp *readPlan) {
				if rp != nil {
					// A login that is not root reads as root in a command of its own (through
					// become), sent beside the facts.
					rp.Privileged = !root
				}
				sp.cache.put(k, rp)
			}
		}
		return factsValue(f)
	}
}

// gatherBeside gathers facts and, at the same time, runs rp as root in a command of its own, as
// the read does when the login is not root: both commands go out together, so that on a kept
// connection (whose remote helper takes requests in a row) they cost one round trip.
func gatherBeside(ctx context.Context, conn transport.Conn, opts facts.Options, rp *readPlan, sp *Speculation) (*facts.Facts, error) {
	marker := newMarker()
	var res *transport.Result
	var readErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		res, readErr = conn.Run(ctx, transport.Command{Script: rp.script(marker), Privileged: true, Timeout: sp.timeout, Quick: true})
	}()
	f, err := facts.GatherWith(ctx, conn, opts)
	<-read
	if err == nil && readErr == nil && !f.IsRoot {
		sp.ran, sp.plan, sp.marker, sp.stdout, sp.stderr = true, *rp, marker, res.Stdout, res.Stderr
	}
	return f, err
}

func factsValue(f *facts.Facts) (cty.Value, resource.HostInfo, error) {
	v := f.Value()
	var info resource.HostInfo
	if v.Type().IsObjectType() && v.Type().HasAttribute("package_manager") {
		pm := v.GetAttr("package_manager")
		if pm.IsKnown() && !pm.IsNull() && pm.Type() == cty.String {
			info.PackageManager = pm.AsString()
		}
	}
	return v, info, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// depCause names the first dependency of m that failed or was skipped ("" if none).
func depCause(m *spec.Resource, bad map[string]string) string {
	for _, d := range m.DependsOn {
		if why, ok := bad[d]; ok {
			return why
		}
	}
	return ""
}

func changesText(cs []resource.Change) string {
	var parts []string
	for _, c := range cs {
		if c.Sensitive {
			parts = append(parts, c.Attr+" "+redact.Placeholder)
		} else {
			parts = append(parts, fmt.Sprintf("%s: %q -> %q", c.Attr, c.Old, c.New))
		}
	}
	return strings.Join(parts, ", ")
}
