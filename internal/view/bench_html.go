package view

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

// HistoryRuns is how many runs the HTML report's history chart draws: this one and the
// newest earlier ones.
const HistoryRuns = 20

// ChartTolerance is the tolerance WriteBenchHTML draws in its charts: the loosest of the run (the
// charts mark one line).
func ChartTolerance(reps []*bench.HostReport) float64 {
	t := 0.0
	for _, r := range reps {
		t = max(t, r.Tolerance)
	}
	if t == 0 {
		return bench.DefaultTolerance
	}
	return t
}

// BenchPage is what WriteBenchHTML draws.
type BenchPage struct {
	Reports []*bench.HostReport
	// Tolerance is the one the accuracy chart marks (0: ChartTolerance of the reports).
	Tolerance float64
	Generated time.Time
	// History are earlier runs, oldest first (bench.Recent); with at least one, the page draws
	// the verdicts of each and of this run. The newest HistoryRuns-1 are drawn.
	History []*bench.Record
}

// eventGroup is the events of one host that share a status: "n/s: cycles, instructions".
type eventGroup struct {
	Status, Class string
	Names         string
}

type htmlRow struct {
	Host, Kernel, PMU             string
	CapEff, SystemWide, NonMember string
	// Measured and Expected are the instruction counts ("" without hardware counters).
	Measured, Expected, IPC string
	Verdict, Reason         string
	Events                  []eventGroup
	Notes                   []string
	// Observed is false for a host the benchmark never saw (unreachable, skipped).
	Observed bool
}

type htmlPage struct {
	Title     string
	Generated string
	Summary   string
	Fleet     fleetSummary
	Accuracy  histChart
	IPC       histChart
	Worst     []worstRow
	Measured  int
	History   *historyChart
	Rows      []htmlRow
}

// WriteBenchHTML writes one self-contained page: inline CSS, inline SVG charts, the table. It
// loads nothing from anywhere: no scripts, no fonts, no images. Its layout keeps every host's
// verdict and reason on screen at 1280 px without horizontal scrolling, and its summary is drawn
// from counts, so that it reads the same at 5 hosts as at 500.
func WriteBenchHTML(w io.Writer, page BenchPage) error {
	reps := page.Reports
	tolerance := page.Tolerance
	if tolerance <= 0 {
		tolerance = ChartTolerance(reps)
	}
	p := htmlPage{
		Title:     "perfprov bench",
		Generated: page.Generated.UTC().Format(time.RFC3339),
		Summary:   BenchSummary(reps),
		Fleet:     buildFleetSummary(reps),
	}
	samples := accuracySamples(reps, tolerance)
	p.Measured = len(samples)
	p.Accuracy = accuracyHistogram(samples, tolerance, len(reps))
	p.IPC = ipcHistogram(samples)
	p.Worst = worstHosts(samples, 10)
	if len(page.History) > 0 {
		h := buildHistoryChart(page.History, reps, page.Generated)
		p.History = &h
	}
	withBench := manyBenchmarks(reps)
	for _, r := range reps {
		p.Rows = append(p.Rows, tableRow(r, withBench))
	}
	return pageTemplate.Execute(w, p)
}

func tableRow(r *bench.HostReport, withBench bool) htmlRow {
	row := htmlRow{
		Host: hostCell(r, withBench), Kernel: r.Kernel, PMU: pmuCell(r),
		CapEff: capCell(r), SystemWide: systemWideCell(r), NonMember: dash(r.NonMember),
		IPC: ipcCell(r), Verdict: string(r.Verdict), Reason: r.Reason, Notes: r.Notes,
		Observed: r.Kernel != "" || r.CapEff != "",
		Events:   eventGroups(r),
	}
	if a := r.Accuracy; a != nil && a.InstructionsExpected > 0 {
		row.Measured = fmt.Sprintf("%.0f", a.InstructionsMeasured)
		row.Expected = fmt.Sprintf("%.0f", a.InstructionsExpected)
	}
	return row
}

// eventGroups sorts a host's events by their status, in the order the statuses first appear:
// a host reads "n/s: cycles, instructions, branches, branch-misses" and "ok: task-clock,
// context-switches" instead of one column per event, which would not fit the page.
func eventGroups(r *bench.HostReport) []eventGroup {
	var out []eventGroup
	idx := map[string]int{}
	for _, e := range r.Events {
		s := eventCell(r, e.Name)
		if s == "-" {
			s = "not run"
		}
		i, ok := idx[s]
		if !ok {
			i = len(out)
			idx[s] = i
			out = append(out, eventGroup{Status: s, Class: eventClass(s)})
		}
		if out[i].Names != "" {
			out[i].Names += ", "
		}
		out[i].Names += e.Name
	}
	return out
}

func eventClass(status string) string {
	switch {
	case strings.HasSuffix(status, ":u"), status == "unknown", status == "error":
		return "ev-bad"
	case strings.HasPrefix(status, "ok"):
		return "ev-ok"
	default:
		return "ev-none"
	}
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	// f writes an SVG coordinate: one decimal is finer than a pixel.
	"f": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).Parse(pageHTML))
