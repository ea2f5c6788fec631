package view

import (
	"errors"
	"strings"

	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/resource"
)

// Rebuilding a run from its -json events, so that report prints a fleet's recap and plan with
// the very functions a run prints them with (WriteRecap, WritePlan), not with a second copy that
// could drift. What the engine does not say in its events is inferred here, each case named.

// runBuilder collects the events of one stream per host.
type runBuilder struct {
	applied bool // an apply stream: resources not reached were not started
	hosts   map[string]*hostBuilder
}

type hostBuilder struct {
	h       *engine.HostRun
	byAddr  map[string]*engine.ResourceResult
	summary bool // a host_summary was seen
	touched bool // an apply event was seen
}

func newRunBuilder(applied bool) *runBuilder {
	return &runBuilder{applied: applied, hosts: map[string]*hostBuilder{}}
}

func (b *runBuilder) host(name string) *hostBuilder {
	hb := b.hosts[name]
	if hb == nil {
		hb = &hostBuilder{h: &engine.HostRun{Name: name}, byAddr: map[string]*engine.ResourceResult{}}
		b.hosts[name] = hb
	}
	return hb
}

// add folds one event in.
func (b *runBuilder) add(e engine.Event) {
	if e.Host == "" {
		return
	}
	hb := b.host(e.Host)
	h := hb.h
	rr := hb.byAddr[e.Address]
	switch e.Type {
	case engine.EventPlannedChange:
		rr = &engine.ResourceResult{Addr: e.Address, Status: engine.StatusPlanned}
		switch {
		case e.Action == "error":
			rr.Status, rr.Err = engine.StatusFailed, errors.New(e.Message)
		case e.Action != "":
			rr.Diff = &resource.Diff{Action: parseAction(e.Action), Changes: e.Changes}
			if reason, ok := strings.CutPrefix(e.Message, "pending: "); ok {
				rr.Pending, rr.PendingReason = true, reason
			}
		default:
			// No diff and no error: a resource the engine will not start (a refused host).
			rr.Status = engine.StatusNotStarted
		}
		hb.byAddr[e.Address] = rr
		h.Resources = append(h.Resources, rr)
	case engine.EventApplyComplete, engine.EventApplyErrored, engine.EventApplySkipped:
		hb.touched = true
		if rr == nil {
			return
		}
		switch e.Type {
		case engine.EventApplyComplete:
			rr.Status = engine.Status(e.Status)
		case engine.EventApplyErrored:
			rr.Status, rr.Err = engine.StatusFailed, errors.New(e.Message)
		default:
			rr.Status, rr.Cause = engine.StatusSkipped, e.Message
		}
	case engine.EventApplyStart, engine.EventHostStart:
		hb.touched = hb.touched || e.Type == engine.EventApplyStart
	case engine.EventWarning:
		// A change undone after the host failed (revertOnFailure) is only a warning event; the
		// recap counts it failed, with the engine's reason.
		if rr != nil && rr.Status == engine.StatusChanged && strings.HasPrefix(e.Message, "undid "+e.Address+":") {
			rr.Status, rr.Err = engine.StatusFailed, errors.New("undone: the host failed after this change")
		}
	case engine.EventHostSummary:
		hb.summary = true
		h.Status = engine.Status(e.Status)
		if e.Status == string(engine.StatusNotStarted) {
			// The rollout did not reach the host: its planned resources carry the reason.
			for _, r := range h.Resources {
				if r.Status == engine.StatusPlanned || r.Status == "" {
					r.Status, r.Cause = engine.StatusNotStarted, e.Message
				}
			}
		} else if e.Message != "" {
			h.Err = errors.New(e.Message)
		}
	}
}

// finish settles what the events leave implicit and returns the host's run.
func (hb *hostBuilder) finish(applied bool) *engine.HostRun {
	h := hb.h
	if !hb.summary && !hb.touched {
		// A host refused at plan (refuseUntrusted) says so in no host event: its one failed
		// resource and the others not started tell it, and the engine's message is rebuilt.
		if failed := refusedBy(h, applied); failed != nil {
			h.Status = engine.StatusFailed
			h.Err = errors.New(failed.Addr + ": " + failed.Err.Error() + "; nothing was changed on this host")
		}
	}
	if !applied {
		return h
	}
	for _, r := range h.Resources {
		if r.Status == engine.StatusPlanned {
			r.Status = engine.StatusNotStarted // the apply stopped before it
		}
	}
	return h
}

// refusedBy is the failed resource of a host refused at plan: exactly one failed, every other
// one not started (nil otherwise). In a plan, a host of one resource that failed to plan looks
// the same, and is taken for that; an apply would have gone on to report it.
func refusedBy(h *engine.HostRun, applied bool) *engine.ResourceResult {
	var failed *engine.ResourceResult
	for _, r := range h.Resources {
		switch {
		case r.Status == engine.StatusFailed && failed == nil:
			failed = r
		case r.Status != engine.StatusNotStarted:
			return nil
		}
	}
	if failed == nil || (!applied && len(h.Resources) < 2) {
		return nil
	}
	return failed
}

func parseAction(s string) resource.Action {
	for _, a := range []resource.Action{resource.Create, resource.Update, resource.Delete} {
		if a.String() == s {
			return a
		}
	}
	return resource.Noop
}
