package view

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/perfprov/perfprov/provision/engine"
)

// Progress renders a run's events as they come: JSON lines, a live view with a line per host
// on a terminal (redrawn in place), or a plain line per host per step; Finish prints the recap.
type Progress struct {
	w     io.Writer
	json  bool
	live  bool
	color bool

	mu    sync.Mutex
	order []string          // hosts in the order they appeared
	state map[string]string // host -> its latest line (live view)
	drawn int               // lines of the live view on screen
	start time.Time
}

// NewProgress renders to w: JSON lines when asJSON, else a live view when live (w is a
// terminal), else a line per step; color allows ANSI colours in the recap.
func NewProgress(w io.Writer, asJSON, live, color bool) *Progress {
	return &Progress{w: w, json: asJSON, live: live, color: color, state: map[string]string{}, start: time.Now()}
}

// Event renders one event; the engine calls it one event at a time, the live view also from
// the apply that follows a confirmed plan, hence the lock.
func (o *Progress) Event(e engine.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.json {
		WriteJSONLine(o.w, e)
		return
	}
	line := eventLine(e)
	if line == "" {
		return
	}
	if !o.live {
		fmt.Fprintf(o.w, "%s: %s\n", e.Host, line)
		return
	}
	if _, ok := o.state[e.Host]; !ok {
		o.order = append(o.order, e.Host)
	}
	o.state[e.Host] = line
	// Failures and warnings scroll above the live view so that they stay visible.
	if e.Type == engine.EventApplyErrored || e.Type == engine.EventWarning {
		o.clear()
		fmt.Fprintf(o.w, "%s: %s\n", e.Host, line)
	}
	o.redraw()
}

// cols is the terminal's width (0 if unknown).
func (o *Progress) cols() int {
	f, ok := o.w.(*os.File)
	if !ok {
		return 0
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

func (o *Progress) clear() {
	if o.drawn > 0 {
		fmt.Fprintf(o.w, "\x1b[%dA\x1b[J", o.drawn)
		o.drawn = 0
	}
}

func (o *Progress) redraw() {
	o.clear()
	width := 0
	for _, h := range o.order {
		if len(h) > width {
			width = len(h)
		}
	}
	cols := o.cols()
	for _, h := range o.order {
		line := fmt.Sprintf("%-*s  %s", width, h, o.state[h])
		// A wrapped line would break the cursor arithmetic of the redraw.
		if cols > 1 && len(line) >= cols {
			line = line[:cols-1]
		}
		fmt.Fprintln(o.w, line)
	}
	o.drawn = len(o.order)
}

// eventLine is the progress text of an event ("" for events not shown).
func eventLine(e engine.Event) string {
	switch e.Type {
	case engine.EventHostStart:
		return "connecting"
	case engine.EventApplyStart:
		return fmt.Sprintf("%s %s ...", e.Address, verb(e.Action, false))
	case engine.EventApplyComplete:
		if e.Status == string(engine.StatusOK) {
			return ""
		}
		return fmt.Sprintf("%s %s (%.1fs)", e.Address, verb(e.Action, true), e.Elapsed)
	case engine.EventApplyErrored:
		return fmt.Sprintf("%s failed: %s", e.Address, firstLine(e.Message))
	case engine.EventApplySkipped:
		return fmt.Sprintf("%s skipped: %s", e.Address, e.Message)
	case engine.EventWarning:
		return "warning: " + e.Message
	case engine.EventApplyProgress:
		return e.Address + ": " + e.Message
	case engine.EventHostSummary:
		if e.Message != "" {
			return e.Status + ": " + firstLine(e.Message)
		}
		return fmt.Sprintf("%s (ok=%d changed=%d failed=%d skipped=%d)", e.Status, e.OK, e.Changed, e.Failed, e.Skipped)
	}
	return ""
}

func verb(action string, done bool) string {
	v := map[string][2]string{"create": {"creating", "created"}, "update": {"changing", "changed"}, "delete": {"removing", "removed"}}[action]
	if v[0] == "" {
		v = [2]string{"applying", "applied"}
	}
	if done {
		return v[1]
	}
	return v[0]
}

// Finish prints the recap (or the JSON summary).
func (o *Progress) Finish(run *engine.Run) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.json {
		WriteJSONLine(o.w, struct {
			Type string `json:"type"`
			engine.Summary
			Interrupted bool   `json:"interrupted,omitempty"`
			Stopped     string `json:"stopped,omitempty"`
		}{"summary", run.Summarize(), run.Interrupted, run.Stopped})
		return
	}
	if o.live {
		o.drawn = 0 // keep the final view on screen
	}
	fmt.Fprintln(o.w)
	WriteRecap(o.w, run, o.color)
}
