package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

// The history chart of the HTML report: the verdicts of the last runs saved in the history and
// of this one, one stacked column per run. Failures sit at the bottom of each column, so that
// their counts line up on one baseline from run to run.

// Geometry (SVG user units).
const (
	histSlotW    = 56
	histColW     = 36
	historyLeft  = 48
	historyTop   = 44
	historyBot   = 190
	historyH     = 230
	historyMinW  = 600
	historyRight = 16
)

// historyStack is the order of verdicts in a column, bottom first.
var historyStack = []bench.Verdict{bench.Fail, bench.Skipped, bench.PassSoftwareOnly, bench.Pass}

type historyCol struct {
	Segs          []histSeg
	TextX, TopY   float64
	Top, TopClass string
	Date, Clock   string
	Current       bool
	DateY, ClockY float64
}

type legendItem struct {
	X     float64
	Class string
	Text  string
}

type historyChart struct {
	W, H                     int
	Left, Right, Top, Bottom float64
	Cols                     []historyCol
	YTicks                   []tick
	Legend                   []legendItem
	Caption                  string
}

type historyRun struct {
	t       time.Time
	counts  map[bench.Verdict]int
	hosts   int
	current bool
}

// clockFormat is how the columns show their time: to the minute, or to the second when two runs
// fall in one minute (runs a few seconds apart would otherwise read the same).
func clockFormat(runs []historyRun) string {
	seen := map[string]bool{}
	for _, r := range runs {
		m := r.t.UTC().Format("01-02 15:04")
		if seen[m] {
			return "15:04:05"
		}
		seen[m] = true
	}
	return "15:04"
}

// buildHistoryChart draws the newest HistoryRuns-1 earlier runs and this run (reps, at now).
func buildHistoryChart(earlier []*bench.Record, reps []*bench.HostReport, now time.Time) historyChart {
	earlier = earlier[max(0, len(earlier)-(HistoryRuns-1)):]
	var runs []historyRun
	for _, rec := range earlier {
		runs = append(runs, historyRun{t: rec.Time, counts: countVerdicts(rec.Reports), hosts: len(rec.Reports)})
	}
	runs = append(runs, historyRun{t: now, counts: countVerdicts(reps), hosts: len(reps), current: true})

	c := historyChart{H: historyH, Left: historyLeft, Top: historyTop, Bottom: historyBot}
	c.W = max(historyMinW, historyLeft+len(runs)*histSlotW+historyRight)
	c.Right = float64(c.W - historyRight)
	peak := 0
	for _, r := range runs {
		peak = max(peak, r.hosts)
	}
	yMax := niceCeil(peak)
	yOf := func(v int) float64 { return c.Bottom - (c.Bottom-c.Top)*float64(v)/float64(yMax) }
	c.YTicks = countAxis(c.Left, yMax, yOf)
	clock := clockFormat(runs)
	for i, r := range runs {
		x := c.Left + float64(i)*histSlotW + (histSlotW-histColW)/2
		col := historyCol{TextX: x + histColW/2, Current: r.current,
			Date: r.t.UTC().Format("01-02"), Clock: r.t.UTC().Format(clock),
			DateY: c.Bottom + 16, ClockY: c.Bottom + 30}
		if r.current {
			col.Date = "this run"
		}
		sum := 0
		var parts []string
		for _, v := range historyStack {
			n := r.counts[v]
			if n == 0 {
				continue
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
			y0, y1 := yOf(sum), yOf(sum+n)
			col.Segs = append(col.Segs, histSeg{X: x, Y: y1, W: histColW, H: y0 - y1, Class: string(v)})
			sum += n
		}
		title := fmt.Sprintf("%s: %s: %s", r.t.UTC().Format(time.RFC3339), Plural(r.hosts, "host", "hosts"), strings.Join(parts, ", "))
		for k := range col.Segs {
			col.Segs[k].Title = title
		}
		col.TopY = yOf(sum) - 6
		col.Top, col.TopClass = fmt.Sprintf("%d fail", r.counts[bench.Fail]), "muted"
		if r.counts[bench.Fail] > 0 {
			col.TopClass = "badtext"
		}
		c.Cols = append(c.Cols, col)
	}
	x := c.Left
	for _, v := range verdictOrder {
		c.Legend = append(c.Legend, legendItem{X: x, Class: string(v), Text: string(v)})
		x += 24 + textWidth(string(v))
	}
	c.Caption = fmt.Sprintf("Verdicts of the last %s saved in the history, this run last (times in UTC; hover a column for its counts).",
		Plural(len(runs), "run", "runs"))
	return c
}
