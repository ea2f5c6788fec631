package view

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/engine"
)

// The kinds of -json output that report reads back and merges.
const (
	StreamApply = "apply" // apply -json: events, a summary, benchmark events
	StreamPlan  = "plan"  // plan -json (online): planned changes, host summaries, a summary
	StreamFacts = "facts" // facts -json: one array
	StreamBench = "bench" // bench -json lines, or a run saved in a bench history
)

// Stream is one command's -json output read back: each host's part of it, so that the outputs
// of several shards merge into the output of one run.
type Stream struct {
	Name string // where it came from, for messages
	Kind string // "" when it holds no host (a shard that held none)
	// Declared is the kind its header line names ("" for output written before format 1.0, and
	// for saved bench runs, which have no header).
	Declared string

	sum        [sha256.Size]byte
	hosts      []string                     // in order of first appearance
	lines      map[string][]json.RawMessage // apply, plan: each host's events as written
	events     map[string][]engine.Event
	summaries  []streamSummary
	benchmarks []*bench.HostReport // bench; apply's benchmark events
	applyBench bool                // the benchmarks came as apply's "benchmark" events
	saved      time.Time           // a saved bench run: when it started
	facts      []FactsRow
}

// streamSummary is the "summary" line that ends apply -json and plan -json.
type streamSummary struct {
	Type string `json:"type"`
	engine.Summary
	Interrupted bool   `json:"interrupted,omitempty"`
	Stopped     string `json:"stopped,omitempty"`
}

// Saved is when a saved bench run started (zero for -json output, which does not say).
func (s *Stream) Saved() time.Time { return s.saved }

// Hosts are the hosts of the stream, in the order they first appear.
func (s *Stream) Hosts() []string { return s.hosts }

func (s *Stream) addHost(h string) {
	if !slices.Contains(s.hosts, h) {
		s.hosts = append(s.hosts, h)
	}
}

// ReadStream reads one output of apply, plan, facts or bench with -json, or one saved bench run.
// The header line that starts a -json stream is checked (a major format version other than this
// one's is an error) and names the stream's kind; output without one (before format 1.0) is
// read by what it holds.
func ReadStream(name string, data []byte) (*Stream, error) {
	s := &Stream{Name: name, sum: sha256.Sum256(data), lines: map[string][]json.RawMessage{}, events: map[string][]engine.Event{}}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(data)))
	for n := 1; dec.More(); n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: value %d: %w", name, n, err)
		}
		var err error
		switch {
		case n == 1 && isHeader(raw):
			err = s.readHeader(raw)
		case raw[0] == '[':
			err = s.addFacts(raw)
		case s.Kind == StreamFacts:
			err = errors.New("more than the one array of facts -json")
		default:
			err = s.addValue(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: value %d: %w", name, n, err)
		}
	}
	if s.Kind != StreamFacts {
		if err := s.settleKind(); err != nil {
			return nil, err
		}
	}
	return s, s.reconcile()
}

// reconcile checks the kind the lines show against the kind the header names.
func (s *Stream) reconcile() error {
	switch {
	case s.Declared == "" || s.Kind == "" || s.Kind == s.Declared:
	case s.Declared == StreamApply && s.Kind == StreamPlan:
		// An apply whose hosts all stopped before applying holds only plan events: the header tells.
		s.Kind = StreamApply
	default:
		return fmt.Errorf("%s: its header names %s -json, but it holds the lines of %s -json", s.Name, s.Declared, s.Kind)
	}
	return nil
}

// isHeader reports whether raw is a header line (an object with format_version).
func isHeader(raw json.RawMessage) bool {
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return false
	}
	_, ok := keys["format_version"]
	return ok
}

// readHeader checks the header line and keeps the kind it names.
func (s *Stream) readHeader(raw json.RawMessage) error {
	var h Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return err
	}
	major, _, _ := strings.Cut(h.FormatVersion, ".")
	if want, _, _ := strings.Cut(FormatVersion, "."); major != want {
		return fmt.Errorf("format_version %q (perfprov %s): this perfprov reads %s.x", h.FormatVersion, h.Perfprov, want)
	}
	switch h.Stream {
	case StreamApply, StreamPlan, StreamFacts, StreamBench, "":
		s.Declared = h.Stream
		return nil
	}
	return fmt.Errorf("the output of %s -json (%s): report reads apply, plan, facts and bench outputs", h.Command, h.Stream)
}

// addFacts reads facts -json's one array.
func (s *Stream) addFacts(raw json.RawMessage) error {
	if len(s.hosts) > 0 || len(s.summaries) > 0 || s.Kind != "" {
		return errors.New("an array of facts among lines of another output")
	}
	if err := json.Unmarshal(raw, &s.facts); err != nil {
		return fmt.Errorf("not the output of facts -json: %w", err)
	}
	s.Kind = StreamFacts
	for _, r := range s.facts {
		s.addHost(r.Host)
	}
	return nil
}

// addValue files one JSON value of a line stream (or a saved bench run) under its host.
func (s *Stream) addValue(raw json.RawMessage) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var typ string
	if t, ok := keys["type"]; ok {
		_ = json.Unmarshal(t, &typ)
	}
	if _, ok := keys["format_version"]; ok {
		return errors.New("a header line after the first line")
	}
	_, hasReports := keys["reports"]
	_, hasVerdict := keys["verdict"]
	switch {
	case hasReports && typ == "":
		var rec bench.Record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if s.saved.IsZero() || rec.Time.Before(s.saved) {
			s.saved = rec.Time
		}
		return s.addBench(rec.Reports...)
	case typ == "" && hasVerdict, typ == "benchmark":
		var r bench.HostReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		s.applyBench = s.applyBench || typ == "benchmark"
		return s.addBench(&r)
	case typ == engine.EventSummary:
		var sum streamSummary
		if err := json.Unmarshal(raw, &sum); err != nil {
			return err
		}
		s.summaries = append(s.summaries, sum)
		return nil
	case typ != "":
		var e engine.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return err
		}
		if e.Host != "" {
			s.addHost(e.Host)
		} // else a run-wide event: kept, printed after the hosts' own
		s.lines[e.Host] = append(s.lines[e.Host], raw)
		s.events[e.Host] = append(s.events[e.Host], e)
		return nil
	}
	return errors.New("not a line of apply, plan or bench -json, nor a saved bench run")
}

func (s *Stream) addBench(reps ...*bench.HostReport) error {
	for _, r := range reps {
		if r == nil || r.Host == "" {
			return errors.New("a benchmark report names no host")
		}
		s.addHost(r.Host)
		s.benchmarks = append(s.benchmarks, r)
	}
	return nil
}

// settleKind names a line stream by what it holds: plan -json has only planned changes and host
// summaries; apply's also has the steps of applying (every host it started has host_start).
func (s *Stream) settleKind() error {
	events := len(s.events) > 0 || len(s.summaries) > 0
	benchLines := len(s.benchmarks) > 0 && !s.applyBench
	switch {
	case events && benchLines:
		return fmt.Errorf("%s: bench -json lines mixed with apply or plan events", s.Name)
	case benchLines:
		s.Kind = StreamBench
		return nil
	case len(s.benchmarks) > 0:
		s.Kind = StreamApply
		return nil
	}
	for _, evs := range s.events {
		for _, e := range evs {
			switch e.Type {
			case engine.EventPlannedChange, engine.EventHostSummary:
				if s.Kind == "" {
					s.Kind = StreamPlan
				}
			default:
				s.Kind = StreamApply
			}
		}
	}
	return nil
}

// Fleet is several streams merged: what one run over all their hosts would have printed.
type Fleet struct {
	Kind string
	// Declared is the kind the streams' headers name, for a fleet of no host ("" when none says).
	Declared string
	Hosts    []string // in the order printed
	// Mismatch says where the recap rebuilt from the events disagrees with the totals the files'
	// summary lines give ("" when they agree): a sign of events this version does not know.
	Mismatch string

	run        *engine.Run
	lines      map[string][]json.RawMessage
	benchmarks []*bench.HostReport
	facts      []FactsRow
}

// MergeStreams merges the outputs of the shards of one run. Hosts are printed in order (the
// spec's hosts) where it names them, then the others sorted by name; nil order sorts them all.
// A host in two streams is an error naming both (the shards overlap), unless the two are the
// same run: byte-identical outputs (the same file given twice, or a copy of it), read once.
func MergeStreams(streams []*Stream, order []string) (*Fleet, error) {
	f := &Fleet{lines: map[string][]json.RawMessage{}}
	owner := map[string]*Stream{}
	seen := map[[sha256.Size]byte]bool{}
	var kept []*Stream
	for _, s := range streams {
		if seen[s.sum] {
			continue
		}
		seen[s.sum] = true
		switch {
		case s.Kind == "":
		case f.Kind == "":
			f.Kind = s.Kind
		case f.Kind != s.Kind:
			return nil, fmt.Errorf("%s is the output of %s, %s of %s: report merges outputs of one command", kept[0].Name, f.Kind, s.Name, s.Kind)
		}
		for _, h := range s.hosts {
			if o := owner[h]; o != nil {
				return nil, fmt.Errorf("host %q is in both %s and %s: the shards overlap (a host must be in one output; the same output given twice is read once)", h, o.Name, s.Name)
			}
			owner[h] = s
			f.Hosts = append(f.Hosts, h)
		}
		if s.Kind != "" {
			kept = append(kept, s)
		}
		if f.Declared == "" {
			f.Declared = s.Declared
		}
	}
	sortHosts(f.Hosts, order)
	f.merge(kept)
	return f, nil
}

// sortHosts puts hosts in the order given, the others after it by name.
func sortHosts(hosts, order []string) {
	rank := map[string]int{}
	for i, h := range order {
		rank[h] = i + 1
	}
	sort.SliceStable(hosts, func(i, j int) bool {
		ri, rj := rank[hosts[i]], rank[hosts[j]]
		switch {
		case ri > 0 && rj > 0:
			return ri < rj
		case ri > 0 || rj > 0:
			return ri > 0
		}
		return hosts[i] < hosts[j]
	})
}

func (f *Fleet) merge(streams []*Stream) {
	pos := map[string]int{}
	for i, h := range f.Hosts {
		pos[h] = i
	}
	byHost := func(host string) int { return pos[host] }
	var facts []FactsRow
	var benches []*bench.HostReport
	b := newRunBuilder(f.Kind == StreamApply)
	run := &engine.Run{}
	var stopped []string
	var total streamSummary
	for _, s := range streams {
		facts = append(facts, s.facts...)
		benches = append(benches, s.benchmarks...)
		for h, ls := range s.lines {
			f.lines[h] = append(f.lines[h], ls...)
			for _, e := range s.events[h] {
				b.add(e)
			}
		}
		for _, sum := range s.summaries {
			run.Interrupted = run.Interrupted || sum.Interrupted
			if sum.Stopped != "" && !slices.Contains(stopped, sum.Stopped) {
				stopped = append(stopped, sum.Stopped)
			}
			total.Summary = addSummaries(total.Summary, sum.Summary)
		}
	}
	// Stable sorts keep each host's own order (its benchmarks, one after the other).
	sort.SliceStable(facts, func(i, j int) bool { return byHost(facts[i].Host) < byHost(facts[j].Host) })
	sort.SliceStable(benches, func(i, j int) bool { return byHost(benches[i].Host) < byHost(benches[j].Host) })
	f.facts, f.benchmarks = facts, benches
	if f.Kind != StreamApply && f.Kind != StreamPlan {
		return
	}
	for _, h := range f.Hosts {
		if hb := b.hosts[h]; hb != nil {
			run.Hosts = append(run.Hosts, hb.finish(b.applied))
		}
	}
	run.Stopped = strings.Join(stopped, "; ")
	f.run = run
	if got := run.Summarize(); !sameTotals(got, total.Summary) {
		f.Mismatch = fmt.Sprintf("the events give %+v, the summary lines %+v", got, total.Summary)
	}
}

func addSummaries(a, b engine.Summary) engine.Summary {
	return engine.Summary{Hosts: a.Hosts + b.Hosts, Add: a.Add + b.Add, Change: a.Change + b.Change, Remove: a.Remove + b.Remove,
		Unchanged: a.Unchanged + b.Unchanged, Errors: a.Errors + b.Errors, OK: a.OK + b.OK, Changed: a.Changed + b.Changed,
		Failed: a.Failed + b.Failed, Unreachable: a.Unreachable + b.Unreachable, NotStarted: a.NotStarted + b.NotStarted}
}

// sameTotals compares all but the hosts interrupted part way: the summary line's "interrupted"
// is the run's flag, which hides that count.
func sameTotals(a, b engine.Summary) bool {
	a.Interrupted, b.Interrupted = 0, 0
	return a == b
}

// WriteFleet prints the merged fleet as the command would have: apply's recap (and its
// benchmark table), plan's plan, facts' table, bench's fleet table.
func WriteFleet(w io.Writer, f *Fleet) error {
	switch f.Kind {
	case StreamApply:
		WriteRecap(w, f.run, false)
		if len(f.benchmarks) > 0 {
			fmt.Fprintln(w, "\nBenchmark:")
			if err := WriteBenchTable(w, f.benchmarks); err != nil {
				return err
			}
			fmt.Fprintln(w, BenchSummary(f.benchmarks))
		}
	case StreamPlan:
		WritePlan(w, f.run, false)
	case StreamFacts:
		WriteFactsTable(w, f.facts)
	case StreamBench:
		if err := WriteBenchTable(w, f.benchmarks); err != nil {
			return err
		}
		fmt.Fprintln(w, BenchSummary(f.benchmarks))
	default:
		fmt.Fprintln(w, "No host in these outputs.")
	}
	return nil
}

// WriteFleetJSON prints the merged stream: what the command's -json would have printed for one
// run over all the hosts, each host's lines together, in host order, with one summary. It starts
// with h, naming the merged kind.
func WriteFleetJSON(w io.Writer, f *Fleet, h Header) error {
	h.Stream = f.Kind
	if h.Stream == "" {
		h.Stream = f.Declared
	}
	WriteHeader(w, h)
	switch f.Kind {
	case StreamApply, StreamPlan:
		for _, h := range append(f.Hosts, "") {
			for _, l := range f.lines[h] {
				_, _ = w.Write(append(append([]byte{}, l...), '\n'))
			}
		}
		if f.Kind == StreamPlan {
			WritePlanSummaryJSON(w, f.run)
			return nil
		}
		NewProgress(w, true, false, false).Finish(f.run)
		WriteBenchEventsJSON(w, f.benchmarks)
	case StreamFacts:
		return WriteFactsJSON(w, f.facts)
	case StreamBench:
		return WriteBenchJSON(w, f.benchmarks)
	}
	return nil
}

// Reports are the merged benchmark reports, in host order (bench, and apply's benchmarks).
func (f *Fleet) Reports() []*bench.HostReport { return f.benchmarks }

// Run is the merged run of apply or plan streams (nil for facts and bench).
func (f *Fleet) Run() *engine.Run { return f.run }

// Facts are the merged facts rows, in host order.
func (f *Fleet) Facts() []FactsRow { return f.facts }
