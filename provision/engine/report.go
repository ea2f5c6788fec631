package engine

import (
	"fmt"
	"io"
	"strings"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/resource"
)

// Summary totals a run, for the last line of plan and apply and the -json "summary" event.
type Summary struct {
	Hosts       int `json:"hosts"`
	Add         int `json:"add"`
	Change      int `json:"change"`
	Remove      int `json:"remove"`
	Unchanged   int `json:"unchanged"`
	Errors      int `json:"errors"` // resources that failed to plan or apply
	OK          int `json:"ok"`     // hosts converged without changes
	Changed     int `json:"changed"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
	NotStarted  int `json:"not_started"`
	Interrupted int `json:"interrupted"` // hosts stopped part way
}

// Summarize totals the run.
func (r *Run) Summarize() Summary {
	s := Summary{Hosts: len(r.Hosts)}
	for _, h := range r.Hosts {
		a, c, d, u := h.Changes()
		s.Add += a
		s.Change += c
		s.Remove += d
		s.Unchanged += u
		s.Errors += h.Count(StatusFailed)
		if h.Err != nil && h.Status != StatusUnreachable {
			s.Errors++
		}
		switch h.Status {
		case StatusOK:
			s.OK++
		case StatusChanged:
			s.Changed++
		case StatusFailed:
			s.Failed++
		case StatusUnreachable:
			s.Unreachable++
		case StatusNotStarted:
			s.NotStarted++
		case StatusInterrupted:
			s.Interrupted++
		}
	}
	return s
}

// Converged reports whether every targeted host ended ok or changed.
func (r *Run) Converged() bool {
	for _, h := range r.Hosts {
		if h.Status != StatusOK && h.Status != StatusChanged {
			return false
		}
	}
	return true
}

// palette colours output for a terminal; the zero value prints plain text.
type palette struct{ on bool }

func (p palette) c(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

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
func WritePlan(w io.Writer, r *Run, color bool) {
	p := palette{color}
	for _, h := range r.Hosts {
		switch {
		case h.Status == StatusUnreachable:
			fmt.Fprintf(w, "%s %s: %s\n", p.c("1", "Host "+h.Name), p.c("31", "unreachable"), hostless(h))
			continue
		case h.Status == StatusNotStarted:
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

func writePlannedResource(w io.Writer, p palette, rr *ResourceResult) {
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

func indentRest(s, indent string) string { return strings.ReplaceAll(s, "\n", "\n"+indent) }

// PlanLine is "Plan: 3 to add, 1 to change, 9 unchanged on 2 hosts" (with removals and errors
// when there are any).
func PlanLine(s Summary) string {
	parts := []string{fmt.Sprintf("%d to add", s.Add), fmt.Sprintf("%d to change", s.Change)}
	if s.Remove > 0 {
		parts = append(parts, fmt.Sprintf("%d to remove", s.Remove))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", s.Unchanged))
	line := "Plan: " + strings.Join(parts, ", ") + " on " + plural(s.Hosts, "host")
	if n := s.Errors + s.Unreachable; n > 0 {
		line += fmt.Sprintf("; %s", plural(n, "error"))
	}
	return line
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// WriteRecap prints what happened on every host, naming each failed resource with its cause and
// each skipped one with the failure it depended on.
func WriteRecap(w io.Writer, r *Run, color bool) {
	p := palette{color}
	width := 4
	for _, h := range r.Hosts {
		if len(h.Name) > width {
			width = len(h.Name)
		}
	}
	fmt.Fprintln(w, p.c("1", "Recap:"))
	for _, h := range r.Hosts {
		name := fmt.Sprintf("%-*s", width, h.Name)
		switch {
		case h.Status == StatusUnreachable:
			fmt.Fprintf(w, "  %s  %s: %s\n", name, p.c("31", "unreachable"), hostless(h))
			continue
		case h.Err != nil:
			fmt.Fprintf(w, "  %s  %s: %s\n", name, p.c("31", "failed"), h.Err)
			continue
		case h.Status == StatusNotStarted && h.Count(StatusOK)+h.Count(StatusChanged) == 0:
			why := "not started"
			if len(h.Resources) > 0 && h.Resources[0].Cause != "" {
				why += " (" + h.Resources[0].Cause + ")"
			} else if r.Stopped != "" {
				why += " (rollout stopped: " + r.Stopped + ")"
			} else if r.Interrupted {
				why += " (interrupted)"
			}
			fmt.Fprintf(w, "  %s  %s\n", name, p.c("33", why))
			continue
		}
		counts := fmt.Sprintf("ok=%d changed=%d failed=%d skipped=%d", h.Count(StatusOK), h.Count(StatusChanged), h.Count(StatusFailed), h.Count(StatusSkipped))
		if n := h.Count(StatusNotStarted); n > 0 {
			counts += fmt.Sprintf(" not_started=%d", n)
		}
		fmt.Fprintf(w, "  %s  %s\n", name, counts)
		for _, rr := range h.Resources {
			switch rr.Status {
			case StatusFailed:
				fmt.Fprintf(w, "  %*s  %s %s: %s\n", width, "", p.c("31", "failed "), rr.Addr, indentRest(errString(rr.Err), strings.Repeat(" ", width+6)))
			case StatusSkipped:
				fmt.Fprintf(w, "  %*s  %s %s: %s\n", width, "", p.c("33", "skipped"), rr.Addr, rr.Cause)
			}
		}
	}
	s := r.Summarize()
	line := fmt.Sprintf("Apply: %d ok, %d changed, %d failed, %d unreachable", s.OK, s.Changed, s.Failed, s.Unreachable)
	if s.Interrupted > 0 {
		line += fmt.Sprintf(", %d interrupted", s.Interrupted)
	}
	if s.NotStarted > 0 {
		line += fmt.Sprintf(", %d not started", s.NotStarted)
	}
	line += " (hosts)"
	if r.Stopped != "" {
		line += "; rollout stopped: " + r.Stopped
	}
	if r.Interrupted {
		line += "; interrupted"
	}
	fmt.Fprintln(w, line)
}

// hostless is the host's error without a leading "HOST: " (transport errors name the host, and
// the output already does).
func hostless(h *HostRun) string {
	return strings.TrimPrefix(errString(h.Err), h.Name+": ")
}
