package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/perfprov/perfprov/provision/engine"
)

// WriteRecap prints what happened on every host, naming each failed resource with its cause and
// each skipped one with the failure it depended on.
func WriteRecap(w io.Writer, r *engine.Run, color bool) {
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
		case h.Status == engine.StatusUnreachable:
			fmt.Fprintf(w, "  %s  %s: %s\n", name, p.c("31", "unreachable"), hostless(h))
			continue
		case h.Err != nil:
			fmt.Fprintf(w, "  %s  %s: %s\n", name, p.c("31", "failed"), h.Err)
			continue
		case h.Status == engine.StatusNotStarted && h.Count(engine.StatusOK)+h.Count(engine.StatusChanged) == 0:
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
		counts := fmt.Sprintf("ok=%d changed=%d failed=%d skipped=%d", h.Count(engine.StatusOK), h.Count(engine.StatusChanged), h.Count(engine.StatusFailed), h.Count(engine.StatusSkipped))
		if n := h.Count(engine.StatusNotStarted); n > 0 {
			counts += fmt.Sprintf(" not_started=%d", n)
		}
		fmt.Fprintf(w, "  %s  %s\n", name, counts)
		for _, rr := range h.Resources {
			switch rr.Status {
			case engine.StatusFailed:
				fmt.Fprintf(w, "  %*s  %s %s: %s\n", width, "", p.c("31", "failed "), rr.Addr, indentRest(errString(rr.Err), strings.Repeat(" ", width+6)))
			case engine.StatusSkipped:
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
func hostless(h *engine.HostRun) string {
	return strings.TrimPrefix(errString(h.Err), h.Name+": ")
}
