package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/resource"
)

// Event types, as -json prints them in the "type" field.
const (
	EventPlannedChange = "planned_change"
	EventHostStart     = "host_start"
	EventApplyStart    = "apply_start"
	EventApplyComplete = "apply_complete"
	EventApplyErrored  = "apply_errored"
	EventApplySkipped  = "apply_skipped"
	EventHostSummary   = "host_summary"
	EventSummary       = "summary"
	EventWarning       = "warning"        // host, message: something the user should know; the run goes on
	EventApplyProgress = "apply_progress" // host, address, message: how far a long upload has come
)

// Event is one step of a run, for progress lines, the live view and -json.
type Event struct {
	Type    string            `json:"type"`
	Host    string            `json:"host,omitempty"`
	Address string            `json:"address,omitempty"`
	Action  string            `json:"action,omitempty"`
	Status  string            `json:"status,omitempty"`
	Changes []resource.Change `json:"changes,omitempty"`
	Message string            `json:"message,omitempty"`
	Elapsed float64           `json:"elapsed_s,omitempty"`
	// host_summary
	OK      int `json:"ok,omitempty"`
	Changed int `json:"changed,omitempty"`
	Failed  int `json:"failed,omitempty"`
	Skipped int `json:"skipped,omitempty"`
}

func plannedEvent(h *HostRun, rr *ResourceResult) Event {
	e := Event{Type: EventPlannedChange, Host: h.Name, Address: rr.Addr}
	switch {
	case rr.Status == StatusFailed:
		e.Action, e.Status, e.Message = "error", string(StatusFailed), errString(rr.Err)
	case rr.Diff != nil:
		e.Action, e.Changes = rr.Diff.Action.String(), redacted(rr.Diff.Changes)
		if rr.Pending {
			e.Message = "pending: " + rr.PendingReason
		}
	}
	return e
}

// redacted returns the changes with sensitive values removed.
func redacted(cs []resource.Change) []resource.Change {
	out := make([]resource.Change, len(cs))
	for i, c := range cs {
		if c.Sensitive {
			c.Old, c.New = redact.Placeholder, redact.Placeholder
		}
		out[i] = c
	}
	return out
}

// progress is a resource's Target.Progress: an apply_progress event at most once a second while
// an upload of more than a second runs, with what was sent of how much.
func (r *Run) progress(h *HostRun, rr *ResourceResult) func(sent, total int64) {
	var mu sync.Mutex
	last := time.Now()
	return func(sent, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < time.Second || sent >= total {
			return
		}
		last = time.Now()
		r.emit(Event{Type: EventApplyProgress, Host: h.Name, Address: rr.Addr,
			Message: fmt.Sprintf("uploaded %.1f of %.1f MB (%d%%)", float64(sent)/1e6, float64(total)/1e6, sent*100/max(total, 1))})
	}
}
