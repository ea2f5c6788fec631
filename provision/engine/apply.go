package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/perfprov/perfprov/provision/resource"
)

// Applying a planned host: its changes in dependency order, each verified by a read, with the
// audit log written as it goes. Planning is in engine.go.

// applyHost applies a planned host in steps, in dependency order: one resource at a time, or a
// wave of independent scripted ones at once (see applyWave). A step's verifying read also reads
// every resource still to come, so that the next step needs no read of its own.
func (r *Run) applyHost(ctx context.Context, h *HostRun) {
	if h.Status != "" && h.Status != StatusPlanned {
		return // unreachable or failed while planning
	}
	t0 := time.Now()
	defer func() { h.Timings.Apply = time.Since(t0) }()
	l, ok := r.lock(ctx, h)
	if !ok {
		return
	}
	defer l.release()
	bad := map[string]string{} // address -> why its dependents are skipped
	stopped := ""
	for i := 0; i < len(h.Resources); i++ {
		rr := h.Resources[i]
		if stopped == "" {
			if r.interrupted() {
				stopped = "interrupted before it started"
			} else if ctx.Err() != nil {
				stopped = "aborted"
			}
		}
		if stopped != "" {
			if rr.Status == StatusPlanned {
				rr.Status, rr.Cause = StatusNotStarted, stopped
			}
			continue
		}
		if rr.Status == StatusFailed {
			bad[rr.Addr] = rr.Addr + " failed"
			r.emit(Event{Type: EventApplyErrored, Host: h.Name, Address: rr.Addr, Message: errString(rr.Err)})
			continue
		}
		if cause := depCause(rr.meta, bad); cause != "" {
			rr.Status, rr.Cause = StatusSkipped, cause
			bad[rr.Addr] = "its dependency " + cause
			r.emit(Event{Type: EventApplySkipped, Host: h.Name, Address: rr.Addr, Message: cause})
			continue
		}
		if w := wave(h.Resources[i:], bad); len(w) > 0 {
			r.applyWave(ctx, h, w)
			for _, m := range w {
				if m.Status == StatusFailed {
					bad[m.Addr] = m.Addr + " failed"
				}
			}
			i += len(w) - 1
			continue
		}
		r.applyResource(ctx, h, rr)
		if rr.Status == StatusFailed {
			bad[rr.Addr] = rr.Addr + " failed"
		}
	}
	r.revertOnFailure(ctx, h)
	h.Status = StatusOK
	for _, rr := range h.Resources {
		switch rr.Status {
		case StatusFailed, StatusSkipped, StatusNotStarted:
			h.Status = StatusFailed
		}
	}
	if h.Status == StatusOK && h.Count(StatusChanged) > 0 {
		h.Status = StatusChanged
	}
	if h.Status == StatusFailed && h.Err == nil && stopped != "" && h.Count(StatusFailed) == 0 {
		h.Status = StatusInterrupted
	}
	r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), OK: h.Count(StatusOK), Changed: h.Count(StatusChanged),
		Failed: h.Count(StatusFailed), Skipped: h.Count(StatusSkipped) + h.Count(StatusNotStarted)})
}

// verifiable is implemented by types whose success cannot always be read back (command).
type verifiable interface{ Verifiable() bool }

// applyResource applies one resource by its Apply, and verifies it by a read.
func (r *Run) applyResource(ctx context.Context, h *HostRun, rr *ResourceResult) {
	start := time.Now()
	defer func() { rr.Duration = time.Since(start) }()
	if rr.stale(h) {
		if err := r.readOne(ctx, h, rr); err != nil {
			r.failed(h, rr, err)
			return
		}
	}
	if err := rr.rediff(); err != nil {
		r.failed(h, rr, err)
		return
	}
	if rr.Diff.InSync() {
		rr.Status = StatusOK
		r.emit(Event{Type: EventApplyComplete, Host: h.Name, Address: rr.Addr, Action: "noop", Status: string(StatusOK)})
		return
	}
	r.emit(Event{Type: EventApplyStart, Host: h.Name, Address: rr.Addr, Action: rr.Diff.Action.String(), Changes: redacted(rr.Diff.Changes)})
	t := &resource.Target{Conn: h.conn, Info: h.info, LogDir: hostLogDir(r.opts.LogDir, h.Name),
		Progress: r.progress(h, rr)}
	before := rr.Diff
	r.opts.Audit.Attempt(h.Name, rr.Addr, before) // written (and so kept) before the host changes
	err := rr.res.Apply(ctx, t, rr.state, rr.Diff)
	h.changes++ // even a failed apply may have changed something: later reads are stale
	if err != nil {
		r.audit(h, rr, before, err)
		r.failed(h, rr, err)
		return
	}
	rr.applied = true
	// Verify: read back and diff again; what was applied must now be in sync.
	if v, ok := rr.res.(verifiable); !ok || v.Verifiable() {
		if err := r.readOne(ctx, h, rr); err != nil {
			r.audit(h, rr, before, err)
			r.failed(h, rr, fmt.Errorf("verify: %w", err))
			return
		}
		if err := verified(rr); err != nil {
			r.audit(h, rr, before, err)
			r.failed(h, rr, fmt.Errorf("verify: %w", err))
			return
		}
	}
	r.changed(h, rr, before, start)
}

// verified diffs a resource's read after its apply: what was applied must now be in sync.
func verified(rr *ResourceResult) error {
	d, err := rr.res.Diff(rr.state)
	if err == nil && !d.InSync() {
		err = fmt.Errorf("still differs after apply: %s", changesText(d.Changes))
	}
	return err
}

// changed records a resource applied and verified; before is the diff it applied.
func (r *Run) changed(h *HostRun, rr *ResourceResult, before *resource.Diff, start time.Time) {
	rr.Status, rr.changed = StatusChanged, true
	rr.Diff = before
	r.audit(h, rr, before, nil)
	r.emit(Event{Type: EventApplyComplete, Host: h.Name, Address: rr.Addr, Action: before.Action.String(), Status: string(StatusChanged), Changes: redacted(before.Changes), Elapsed: time.Since(start).Seconds()})
}

func (r *Run) failed(h *HostRun, rr *ResourceResult, err error) {
	rr.Status, rr.Err = StatusFailed, err
	r.emit(Event{Type: EventApplyErrored, Host: h.Name, Address: rr.Addr, Message: err.Error()})
}

func (r *Run) audit(h *HostRun, rr *ResourceResult, d *resource.Diff, err error) {
	if r.opts.Audit == nil {
		return
	}
	r.opts.Audit.Record(h.Name, rr.Addr, d, err)
}

// Refuse fails a planned host before Apply changes anything on it (a saved plan that no longer
// matches it): its resources are not started, and the others go on.
func (r *Run) Refuse(host string, err error) {
	for _, h := range r.Hosts {
		if h.Name == host && (h.Status == "" || h.Status == StatusPlanned) {
			h.refuse(err)
			r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: err.Error()})
		}
	}
}
