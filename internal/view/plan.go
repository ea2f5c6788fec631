package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/resource"
)

func (p palette) action(a resource.Action, s string) string {
	switch a {
	case resource.Create:
		return p.c("32", s)
	case resource.Update:
		return p.c("33", s)
	case resource.Delete:
		return p.c("31", s)
	}
	return s
}

// WritePlan prints the plan of every host: "+" create, "~" change (old -> new), "=" unchanged,
// "-" remove, "!" cannot be planned; then the summary line.
func WritePlan(w io.Writer, r *engine.Run, color bool) {
	p := palette{color}
	for _, h := range r.Hosts {
		switch {
		case h.Status == engine.StatusUnreachable:
			fmt.Fprintf(w, "%s %s: %s\n", p.c("1", "Host "+h.Name), p.c("31", "unreachable"), hostless(h))
			continue
		case h.Status == engine.StatusNotStarted:
			fmt.Fprintf(w, "%s: not planned (interrupted)\n", p.c("1", "Host "+h.Name))
			continue
		case h.Err != nil:
			fmt.Fprintf(w, "%s %s: %s\n", p.c("1", "Host "+h.Name), p.c("31", "error"), h.Err)
			continue
		}
		fmt.Fprintf(w, "%s:\n", p.c("1", "Host "+h.Name))
		for _, rr := range h.Resources {
			writePlannedResource(w, p, rr)
		}
	}
	s := r.Summarize()
	fmt.Fprintf(w, "\n%s\n", PlanLine(s))
}

func writePlannedResource(w io.Writer, p palette, rr *engine.ResourceResult) {
	if rr.Diff == nil {
		fmt.Fprintf(w, "  %s %s: %s\n", p.c("31", "!"), rr.Addr, indentRest(errString(rr.Err), "      "))
		return
	}
	a := rr.Diff.Action
	line := fmt.Sprintf("  %s %s", p.action(a, a.Symbol()), rr.Addr)
	if rr.Pending {
		fmt.Fprintln(w, line+p.c("2", " (pending)"))
		fmt.Fprintf(w, "      %s: read again after the changes before it\n", rr.PendingReason)
		return
	}
	fmt.Fprintln(w, line)
	for _, c := range rr.Diff.Changes {
		switch {
		case c.Sensitive:
			fmt.Fprintf(w, "      %s: %s\n", c.Attr, redact.InText)
		case a == resource.Create || c.Old == "":
			fmt.Fprintf(w, "      %s: %q\n", c.Attr, c.New)
		default:
			fmt.Fprintf(w, "      %s: %q -> %q\n", c.Attr, c.Old, c.New)
		}
	}
}

// WritePlanSummaryJSON prints the "summary" line that ends plan -json.
func WritePlanSummaryJSON(w io.Writer, r *engine.Run) {
	WriteJSONLine(w, struct {
		Type string `json:"type"`
		engine.Summary
		Interrupted bool `json:"interrupted,omitempty"`
	}{"summary", r.Summarize(), r.Interrupted})
}

// PlanLine is "Plan: 3 to add, 1 to change, 9 unchanged on 2 hosts" (with removals and errors
// when there are any).
func PlanLine(s engine.Summary) string {
	parts := []string{fmt.Sprintf("%d to add", s.Add), fmt.Sprintf("%d to change", s.Change)}
	if s.Remove > 0 {
		parts = append(parts, fmt.Sprintf("%d to remove", s.Remove))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", s.Unchanged))
	line := "Plan: " + strings.Join(parts, ", ") + " on " + Plural(s.Hosts, "host", "hosts")
	if n := s.Errors + s.Unreachable; n > 0 {
		line += fmt.Sprintf("; %s", Plural(n, "error", "errors"))
	}
	return line
}
