package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/transport"
)

// reverter is a resource whose change must not outlive a failed host (capabilities: a binary
// never keeps capabilities when a check after setcap, or anything else, failed).
type reverter interface {
	Revert(ctx context.Context, t *resource.Target, st resource.State) error
}

// refuseUntrusted fails the whole host at plan when rr refused a path a user other than root
// could change: nothing is applied to it, not even the resources before rr (a chown or chmod of
// a file that user may swap again).
func refuseUntrusted(h *HostRun, rr *ResourceResult) {
	h.fail(fmt.Errorf("%s: %w; nothing was changed on this host", rr.Addr, rr.Err))
	for _, o := range h.Resources {
		if o != rr && o.Status == StatusPlanned {
			// No diff: the plan counts no change it will not make.
			o.Status, o.Cause, o.Diff = StatusNotStarted, rr.Addr+" refused an untrusted path", nil
		}
	}
}

// revertOnFailure undoes, newest first, the changes of reverters applied in this run when the
// host failed after them. It runs even when the run was aborted (a short context of its own).
func (r *Run) revertOnFailure(ctx context.Context, h *HostRun) {
	failed := false
	for _, rr := range h.Resources {
		if rr.Status == StatusFailed {
			failed = true
		}
	}
	if !failed {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), transport.DefaultTimeout)
	defer cancel()
	for i := len(h.Resources) - 1; i >= 0; i-- {
		rr := h.Resources[i]
		rv, ok := rr.res.(reverter)
		if !ok || !rr.applied {
			continue
		}
		t := &resource.Target{Conn: h.conn, Info: h.info, LogDir: hostLogDir(r.opts.LogDir, h.Name)}
		if err := rv.Revert(rctx, t, rr.state); err != nil {
			r.emit(Event{Type: EventWarning, Host: h.Name, Address: rr.Addr,
				Message: fmt.Sprintf("could not undo %s after the host failed: %v", rr.Addr, err)})
			continue
		}
		rr.applied = false
		if rr.Status == StatusChanged {
			rr.Status, rr.Err = StatusFailed, errors.New("undone: the host failed after this change")
		}
		r.audit(h, rr, &resource.Diff{Action: resource.Delete, Changes: []resource.Change{{Attr: "revert", Old: "applied", New: "undone"}}}, nil)
		r.emit(Event{Type: EventWarning, Host: h.Name, Address: rr.Addr,
			Message: fmt.Sprintf("undid %s: the host failed after it was applied", rr.Addr)})
	}
}
