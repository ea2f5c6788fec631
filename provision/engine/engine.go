// Package engine plans and applies a spec on a fleet: per host it gathers facts, evaluates the
// spec with them, reads the state of every resource in one batched round trip, diffs, and on apply
// changes what differs in dependency order and verifies each change by reading it back.
//
// A no-op run costs one connection and two round trips per host (facts, then the batched read),
// or one when the read scripts are those of the host's previous run (see Speculation).
package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/captrust"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/persist"
)

// Evaluator resolves one host's resources with its facts (*hcl.Spec is one).
type Evaluator interface {
	Evaluate(host string, facts cty.Value) (*spec.HostConfig, hcl2.Diagnostics)
}

// Options are the inputs of a run that do not come from the spec.
type Options struct {
	// Open connects to a host. Required.
	Open func(ctx context.Context, h *spec.Host) (transport.Conn, error)
	// Gather reads a host's facts: the value specs read as host.facts and what resource types
	// need; sp is the host's speculative read, nil without ReadCache (see Speculation). Nil
	// uses the facts package.
	Gather func(ctx context.Context, conn transport.Conn, sp *Speculation) (cty.Value, resource.HostInfo, error)
	// ReadCache remembers each host's read scripts from one plan to the next, so that a plan
	// can read with the facts in one round trip (see Speculation). Nil: every plan reads in a
	// round trip of its own.
	ReadCache *ReadCache
	// Memo remembers what reads learned of files that did not change since (a content hash,
	// getcap), so that later reads do not start the processes that learned it. Nil: none.
	Memo *MemoCache
	// Rollout: parallelism, rolling batches, failure threshold. Parallel 0 means DefaultParallel.
	Rollout spec.Rollout
	// Interrupted closes at the first SIGINT: the steps in flight finish, nothing new starts.
	// Cancelling ctx (second SIGINT) aborts at once.
	Interrupted <-chan struct{}
	// Events receives progress, one call at a time. Nil: none.
	Events func(Event)
	// Audit, when set, records every change made.
	Audit *AuditLog
	// LogDir is the controller directory for per-host logs (build logs), e.g. .perfprov/logs.
	LogDir string
	// Resources is the controller-side environment of resource preparation (cache dir...).
	Resources resource.Env
	// ReadTimeout bounds the batched read of one host (default 5 minutes).
	ReadTimeout time.Duration
	// CloseAfterPlan closes each host's connection as soon as it is planned (plan only: the
	// connections are not needed for an Apply).
	CloseAfterPlan bool
	// HostLock, when set, is the path of the lock file an apply holds on a host from before its
	// first change to its end (LockPath); LockHolder names this run in it. "": no lock.
	HostLock, LockHolder string
	// Secret hears every sensitive value of a host's evaluated resources before any command that
	// may carry one runs (the debug log redacts them). nil: no one listens.
	Secret func(value string)
	// NewResource prepares a resource; nil uses resource.New (tests plug in fakes).
	NewResource func(r *spec.Resource, env *resource.Env) (resource.Resource, error)
}

// Status is where a resource or a host ended.
type Status string

const (
	StatusPlanned     Status = "planned"     // plan only
	StatusOK          Status = "ok"          // was in sync
	StatusChanged     Status = "changed"     // changed and verified
	StatusFailed      Status = "failed"      // could not be planned, applied or verified
	StatusSkipped     Status = "skipped"     // a dependency failed or was skipped
	StatusNotStarted  Status = "not_started" // the run stopped before it (interrupt, failure threshold)
	StatusInterrupted Status = "interrupted" // host: the run stopped while it was being worked on
	StatusUnreachable Status = "unreachable"
)

// ResourceResult is one resource of one host: its plan and, after apply, its outcome.
type ResourceResult struct {
	Addr string
	Type string
	Diff *resource.Diff // nil when it could not be planned
	// Pending: its read could not be judged yet because an earlier resource changes first (a
	// path a build creates); it is read again right before it is applied.
	Pending       bool
	PendingReason string
	Status        Status
	Err           error  // failed: the cause
	Cause         string // skipped / not started: why
	Duration      time.Duration
	// ReadDigest is a digest of what the plan's read of it printed (a saved plan records it, and
	// an apply of that plan refuses a host whose reads differ); "" when it was not read.
	ReadDigest string

	meta    *spec.Resource
	res     resource.Resource
	state   resource.State
	changed bool
	applied bool // its Apply returned (its verify may still have failed)
	// readAt is the host's count of applies (HostRun.changes) when state was read: a read
	// older than the latest apply is stale. readErr: the latest read of it failed.
	readAt  int
	readErr error
}

// HostRun is one host of a run.
type HostRun struct {
	Name      string
	Host      *spec.Host
	Status    Status // "" while running; ok, changed, failed, unreachable, not_started
	Err       error  // host-level failure (connection, facts, evaluation, read)
	Resources []*ResourceResult
	// Timings of the host's phases, for benchmarks and -json.
	Timings Timings
	// ReadDigest is a digest of every resource's ReadDigest, in order ("" before the read).
	ReadDigest string

	conn transport.Conn
	info resource.HostInfo
	// changes counts the applies run on the host so far (each may have changed what any read
	// saw), failed ones too: see ResourceResult.readAt.
	changes int
}

// Changes counts the resources that change (planned or made).
func (h *HostRun) Changes() (add, change, remove, unchanged int) {
	for _, r := range h.Resources {
		if r.Diff == nil {
			continue
		}
		switch r.Diff.Action {
		case resource.Create:
			add++
		case resource.Update:
			change++
		case resource.Delete:
			remove++
		default:
			unchanged++
		}
	}
	return
}

// Count returns how many resources of the host ended with status s.
func (h *HostRun) Count(s Status) int {
	n := 0
	for _, r := range h.Resources {
		if r.Status == s {
			n++
		}
	}
	return n
}

// Timings are how long each phase of a host took.
type Timings struct {
	Connect, Facts, Read, Apply time.Duration
}

// Run is a plan, and after Apply its outcome.
type Run struct {
	Hosts []*HostRun
	// Interrupted: SIGINT stopped the run. Stopped: why the rollout stopped early ("" if not).
	Interrupted bool
	Stopped     string

	ev   Evaluator
	opts Options
	mu   sync.Mutex // serialises Events
}

// DefaultParallel is how many hosts a run works on at once unless told otherwise. Measured on a
// 2-core controller over 1,000 lab hosts (make bench-scale): the controller spends about 15 ms of
// CPU per fresh login, so it is never the limit; a no-op apply took the same time at 20, 50 and
// 100, and from 200 hosts missed the 15 s handshake limit on the loaded hosts. 50 keeps 2.5 times
// the work of 20 in flight, which is what a link with real latency needs, well below that edge.
const DefaultParallel = 50

func (o *Options) parallel() int {
	if o.Rollout.Parallel > 0 {
		return o.Rollout.Parallel
	}
	return DefaultParallel
}

func newRun(ev Evaluator, hosts []*spec.Host, opts Options) *Run {
	if opts.Gather == nil {
		opts.Gather = gatherFacts
	}
	if opts.NewResource == nil {
		opts.NewResource = resource.New
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 5 * time.Minute
	}
	r := &Run{ev: ev, opts: opts}
	for _, h := range hosts {
		r.Hosts = append(r.Hosts, &HostRun{Name: h.Name, Host: h})
	}
	return r
}

func (r *Run) emit(e Event) {
	if r.opts.Events == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Events(e)
}

func (r *Run) interrupted() bool {
	if r.opts.Interrupted == nil {
		return false
	}
	select {
	case <-r.opts.Interrupted:
		return true
	default:
		return false
	}
}

// Plan connects to every host (in parallel), reads and diffs. Connections stay open for Apply;
// call Close when done.
func Plan(ctx context.Context, ev Evaluator, hosts []*spec.Host, opts Options) *Run {
	r := newRun(ev, hosts, opts)
	sem := make(chan struct{}, r.opts.parallel())
	var wg sync.WaitGroup
	for _, h := range r.Hosts {
		if r.interrupted() || ctx.Err() != nil {
			h.Status = StatusNotStarted
			r.Interrupted = true
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(h *HostRun) {
			defer wg.Done()
			defer func() { <-sem }()
			r.planHost(ctx, h)
			if r.opts.CloseAfterPlan {
				h.closeConn()
			}
		}(h)
	}
	wg.Wait()
	r.saveMemo()
	if r.interrupted() {
		r.Interrupted = true
	}
	return r
}

// HasChanges reports whether any host plans a change.
func (r *Run) HasChanges() bool {
	for _, h := range r.Hosts {
		a, c, d, _ := h.Changes()
		if a+c+d > 0 {
			return true
		}
	}
	return false
}

// HasErrors reports whether any host or resource failed (to plan or to apply).
func (r *Run) HasErrors() bool {
	for _, h := range r.Hosts {
		if h.Err != nil || h.Status == StatusFailed || h.Status == StatusUnreachable {
			return true
		}
		for _, rr := range h.Resources {
			if rr.Status == StatusFailed {
				return true
			}
		}
	}
	return false
}

// Apply applies the plan host by host, in rolling batches.
func (r *Run) Apply(ctx context.Context) {
	r.rollout(ctx, func(ctx context.Context, h *HostRun) {
		r.applyHost(ctx, h)
		h.closeConn()
	})
}

// PlanAndApply plans and applies each host in one pass inside the rollout (no confirmation step:
// -auto-approve), so that a rolling batch reads its hosts when it starts.
func PlanAndApply(ctx context.Context, ev Evaluator, hosts []*spec.Host, opts Options) *Run {
	r := newRun(ev, hosts, opts)
	r.rollout(ctx, func(ctx context.Context, h *HostRun) {
		r.planHost(ctx, h)
		r.applyHost(ctx, h)
		h.closeConn() // a host done is a connection released, however large the fleet
	})
	r.saveMemo()
	return r
}

// Close closes every connection of the run that is still open.
func (r *Run) Close() {
	for _, h := range r.Hosts {
		h.closeConn()
	}
}

func (h *HostRun) closeConn() {
	if h.conn != nil {
		if h.Count(StatusChanged) > 0 || h.Status == StatusFailed {
			// The host is not what it was when this login began (groups of the login user,
			// say): the next run logs in again rather than reuse this connection.
			persist.Forget(h.conn)
		}
		_ = h.conn.Close()
		h.conn = nil
	}
}

func (r *Run) rollout(ctx context.Context, work func(context.Context, *HostRun)) {
	todo := make([]int, 0, len(r.Hosts))
	for i, h := range r.Hosts {
		if h.Status == "" || h.Status == StatusPlanned {
			todo = append(todo, i)
		}
	}
	res := rollout(ctx, len(r.Hosts), todo, r.opts.Rollout, r.opts.parallel(), r.opts.Interrupted, func(ctx context.Context, i int) bool {
		h := r.Hosts[i]
		work(ctx, h)
		return h.Status == StatusFailed || h.Status == StatusUnreachable
	}, func(i int) bool {
		h := r.Hosts[i]
		return h.Status == StatusFailed || h.Status == StatusUnreachable
	})
	for _, i := range res.notStarted {
		h := r.Hosts[i]
		h.Status = StatusNotStarted
		for _, rr := range h.Resources {
			if rr.Status == StatusPlanned || rr.Status == "" {
				rr.Status, rr.Cause = StatusNotStarted, res.reason
			}
		}
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(StatusNotStarted), Message: res.reason})
	}
	r.Stopped = res.stopped
	if res.interrupted || r.interrupted() {
		r.Interrupted = true
	}
}

// gatherFacts is the default Gather: the facts package, without speculative read.
func gatherFacts(ctx context.Context, conn transport.Conn, _ *Speculation) (cty.Value, resource.HostInfo, error) {
	return gatherWithFactsPackage(ctx, conn)
}

func (r *Run) planHost(ctx context.Context, h *HostRun) {
	t0 := time.Now()
	r.emit(Event{Type: EventHostStart, Host: h.Name})
	conn, err := r.opts.Open(ctx, h.Host)
	h.Timings.Connect = time.Since(t0)
	if err != nil {
		h.Status, h.Err = StatusUnreachable, err
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: err.Error()})
		return
	}
	h.conn = conn
	t1 := time.Now()
	var sp *Speculation
	if r.opts.ReadCache != nil {
		sp = &Speculation{timeout: r.opts.ReadTimeout, cache: r.opts.ReadCache}
	}
	fv, info, err := r.opts.Gather(ctx, conn, sp)
	h.Timings.Facts = time.Since(t1)
	if err != nil {
		h.fail(fmt.Errorf("facts: %w", err))
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: h.Err.Error()})
		return
	}
	h.info = info
	cfg, diags := r.ev.Evaluate(h.Name, fv)
	if diags.HasErrors() {
		h.fail(fmt.Errorf("evaluate: %s", diagText(diags)))
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: h.Err.Error()})
		return
	}
	r.prepare(h, cfg)
	t2 := time.Now()
	err = r.readAll(ctx, h, sp)
	h.Timings.Read = time.Since(t2)
	if err != nil {
		h.fail(err)
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: h.Err.Error()})
		return
	}
	r.diffAll(h)
	for _, rr := range h.Resources {
		r.emit(plannedEvent(h, rr))
	}
}

func (h *HostRun) fail(err error) {
	h.Status, h.Err = StatusFailed, err
}

func diagText(d hcl2.Diagnostics) string {
	var parts []string
	for _, x := range d {
		if x.Severity != hcl2.DiagError {
			continue
		}
		s := x.Summary
		if x.Detail != "" {
			s += ": " + x.Detail
		}
		if x.Subject != nil {
			s = x.Subject.String() + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// prepare turns the host's resources into resource.Resources; one that cannot be prepared fails
// (its dependents are skipped at apply).
func (r *Run) prepare(h *HostRun, cfg *spec.HostConfig) {
	fps := map[string]string{}
	env := r.opts.Resources
	env.DepFingerprint = func(addr string) string { return fps[addr] }
	for _, m := range cfg.Resources {
		r.tellSecrets(m)
		rr := &ResourceResult{Addr: m.Addr, Type: m.Type, meta: m, Status: StatusPlanned}
		h.Resources = append(h.Resources, rr)
		res, err := r.opts.NewResource(m, &env)
		if err != nil {
			rr.Status, rr.Err = StatusFailed, err
			continue
		}
		rr.res = res
		r.useMemo(h, res)
		// A resource's fingerprint covers its dependencies': a build reruns when a source or
		// patch it depends on (directly or not) changes.
		parts := []string{res.Fingerprint()}
		for _, d := range m.DependsOn {
			parts = append(parts, d+"="+fps[d])
		}
		fps[m.Addr] = resource.Fingerprint(parts...)
	}
}

// diffAll diffs every read resource. A diff that fails because something is not there yet is
// pending when an earlier resource of the host changes (it may create it), else a failure.
func (r *Run) diffAll(h *HostRun) {
	earlier := false
	for _, rr := range h.Resources {
		if rr.res == nil || rr.Status == StatusFailed {
			continue
		}
		d, err := rr.res.Diff(rr.state)
		switch {
		case err != nil && earlier && errors.Is(err, resource.ErrNotReady):
			rr.Pending, rr.PendingReason = true, err.Error()
			rr.Diff = &resource.Diff{Action: resource.Update, Changes: []resource.Change{{Attr: "(pending)", Old: err.Error(), New: "known after earlier changes"}}}
		case err != nil:
			rr.Status, rr.Err = StatusFailed, err
			if errors.Is(err, captrust.ErrUntrusted) {
				refuseUntrusted(h, rr)
				return
			}
			continue
		default:
			rr.Diff = d
		}
		if !rr.Diff.InSync() {
			earlier = true
		}
	}
}

// SetEvents changes where events go (after a plan printed as a whole, apply reports progress).
func (r *Run) SetEvents(f func(Event)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Events = f
}
