package engine

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
