package view

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/provision/bench"
)

// The fleet summary of the HTML report: verdict counts, the most common failure reasons, and the
// accuracy of the hosts with hardware counters as histograms. Everything here is drawn from
// counts or bins, never one mark per host, so its size does not grow with the fleet.

// verdictOrder is the order of verdicts in the summary and the charts.
var verdictOrder = []bench.Verdict{bench.Pass, bench.PassSoftwareOnly, bench.Fail, bench.Skipped}

type verdictTile struct {
	Verdict string
	Count   int
	Percent string
}

// barSeg is one verdict's share of the fleet bar, in percent of its width.
type barSeg struct {
	X, W        float64
	Class, Text string
	Title       string
}

type reasonCount struct {
	Count  int
	Reason string
	Hosts  string // the first few hosts, "and N more"
}

type fleetSummary struct {
	Tiles   []verdictTile
	Bar     []barSeg
	Reasons []reasonCount
	// MoreReasons is how many failing hosts have a reason not listed.
	MoreReasons int
}

const (
	// fleetBarW is about how wide the fleet bar is drawn (it spans the page): whether a label fits
	// its segment is judged at that width.
	fleetBarW   = 1100
	maxReasons  = 8
	reasonHosts = 3
)

func countVerdicts(reps []*bench.HostReport) map[bench.Verdict]int {
	n := map[bench.Verdict]int{}
	for _, r := range reps {
		n[r.Verdict]++
	}
	return n
}

func buildFleetSummary(reps []*bench.HostReport) fleetSummary {
	s := fleetSummary{}
	n := countVerdicts(reps)
	x := 0.0
	for _, v := range verdictOrder {
		if v == bench.Skipped && n[v] == 0 {
			continue // only apply's runs skip hosts
		}
		pct := 0.0
		if len(reps) > 0 {
			pct = 100 * float64(n[v]) / float64(len(reps))
		}
		s.Tiles = append(s.Tiles, verdictTile{Verdict: string(v), Count: n[v], Percent: fmt.Sprintf("%.0f%%", pct)})
		if n[v] == 0 {
			continue
		}
		seg := barSeg{X: x, W: pct, Class: string(v), Title: fmt.Sprintf("%d %s (%.1f%%)", n[v], v, pct)}
		room := fleetBarW*pct/100 - 12
		if text := fmt.Sprintf("%d %s", n[v], v); textWidth(text) < room {
			seg.Text = text
		} else if text := strconv.Itoa(n[v]); textWidth(text) < room {
			seg.Text = text
		}
		s.Bar = append(s.Bar, seg)
		x += pct
	}
	s.Reasons, s.MoreReasons = failureReasons(reps)
	return s
}

// textWidth estimates the width of a 12 px label: enough to decide whether it fits a bar.
func textWidth(s string) float64 { return 7 * float64(len(s)) }

// numbers are what differs between hosts failing for the same cause: addresses, ports,
// counts, percentages.
var numbers = regexp.MustCompile(`[0-9]+([.:][0-9]+)*`)

// failureReasons groups the failing hosts by their reason with the numbers left out, most
// common first: "connect to 10.0.3.7:22: ... timed out" on fifty hosts is one line. A group
// whose reasons differ shows them with # for the numbers.
func failureReasons(reps []*bench.HostReport) ([]reasonCount, int) {
	type group struct {
		reason string
		same   bool
		hosts  []string
	}
	byKey := map[string]*group{}
	var order []*group
	withBench := manyBenchmarks(reps)
	for _, r := range reps {
		if r.Verdict != bench.Fail {
			continue
		}
		key := numbers.ReplaceAllString(r.Reason, "#")
		g := byKey[key]
		if g == nil {
			g = &group{reason: r.Reason, same: true}
			byKey[key] = g
			order = append(order, g)
		} else if g.same && g.reason != r.Reason {
			g.reason, g.same = key, false
		}
		g.hosts = append(g.hosts, hostCell(r, withBench))
	}
	slices.SortStableFunc(order, func(a, b *group) int { return cmp.Compare(len(b.hosts), len(a.hosts)) })
	var out []reasonCount
	more := 0
	for i, g := range order {
		if i >= maxReasons {
			more += len(g.hosts)
			continue
		}
		list := strings.Join(g.hosts[:min(len(g.hosts), reasonHosts)], ", ")
		if len(g.hosts) > reasonHosts {
			list += fmt.Sprintf(" and %d more", len(g.hosts)-reasonHosts)
		}
		out = append(out, reasonCount{Count: len(g.hosts), Reason: g.reason, Hosts: list})
	}
	return out, more
}

// accSample is one host whose counters measured the workload.
type accSample struct {
	Host     string
	Err, IPC float64
	Within   bool // within the host's own tolerance
	Instr    string
	Verdict  string
}

func accuracySamples(reps []*bench.HostReport, tolerance float64) []accSample {
	withBench := manyBenchmarks(reps)
	var out []accSample
	for _, r := range reps {
		a := r.Accuracy
		if a == nil || a.InstructionsExpected == 0 {
			continue
		}
		limit := tolerance
		if r.Tolerance > 0 {
			limit = r.Tolerance
		}
		out = append(out, accSample{
			Host: hostCell(r, withBench), Err: a.ErrorPercent, IPC: a.IPC, Within: a.ErrorPercent <= limit*100,
			Instr: instrCell(r), Verdict: string(r.Verdict),
		})
	}
	return out
}

type worstRow struct {
	Host, Err, Instr, IPC, Verdict string
	Within                         bool
}

// worstHosts are the n hosts whose instruction count is furthest from the expected one.
func worstHosts(samples []accSample, n int) []worstRow {
	s := slices.Clone(samples)
	slices.SortStableFunc(s, func(a, b accSample) int { return cmp.Compare(b.Err, a.Err) })
	var out []worstRow
	for _, x := range s[:min(n, len(s))] {
		out = append(out, worstRow{Host: x.Host, Err: fmt.Sprintf("%.3g%%", x.Err), Instr: x.Instr,
			IPC: strconv.FormatFloat(x.IPC, 'f', 2, 64), Verdict: x.Verdict, Within: x.Within})
	}
	return out
}

// Histogram geometry (SVG user units).
const (
	histW      = 580
	histH      = 226
	histLeft   = 44
	histRight  = 566
	histTop    = 48
	histBottom = 186
	histBins   = 20
)

type tick struct {
	X, Y   float64
	LineY  float64 // a count tick's grid line
	Text   string
	Anchor string
}

type histSeg struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type histBar struct {
	Segs         []histSeg
	TextX, TextY float64
	Text         string
}

type histChart struct {
	ID, Label                string
	W, H                     int
	Left, Right, Top, Bottom float64
	Bars                     []histBar
	XTicks, YTicks           []tick
	// Marker, when set, labels a dashed line at MarkerX (the tolerance).
	MarkerX        float64
	Marker         string
	Empty          string
	Caption        string
	EmptyX, EmptyY float64
}

// histSlot is one bin: its counts by class, bottom first, and what its tooltip says.
type histSlot struct {
	Counts  []int
	Classes []string
	Range   string
}

func newHist(id, label string) histChart {
	return histChart{ID: id, Label: label, W: histW, H: histH, Left: histLeft, Right: histRight, Top: histTop, Bottom: histBottom,
		EmptyX: (histLeft + histRight) / 2, EmptyY: (histTop + histBottom) / 2}
}

// drawBins lays out the slots as stacked columns with their count above, and the count axis.
func (c *histChart) drawBins(slots []histSlot) {
	peak := 0
	for _, s := range slots {
		sum := 0
		for _, n := range s.Counts {
			sum += n
		}
		peak = max(peak, sum)
	}
	yMax := niceCeil(peak)
	yOf := func(v int) float64 { return c.Bottom - (c.Bottom-c.Top)*float64(v)/float64(yMax) }
	c.YTicks = countAxis(c.Left, yMax, yOf)
	slotW := (c.Right - c.Left) / float64(len(slots))
	for i, s := range slots {
		x := c.Left + float64(i)*slotW + 1
		bar := histBar{TextX: x + (slotW-2)/2}
		sum := 0
		for k, n := range s.Counts {
			if n == 0 {
				continue
			}
			y0, y1 := yOf(sum), min(yOf(sum+n), yOf(sum)-2) // one host among hundreds still shows
			bar.Segs = append(bar.Segs, histSeg{X: x, Y: y1, W: slotW - 2, H: y0 - y1, Class: s.Classes[k],
				Title: fmt.Sprintf("%s: %s", s.Range, Plural(n, "host", "hosts"))})
			sum += n
		}
		if sum > 0 {
			bar.Text = strconv.Itoa(sum)
			bar.TextY = bar.Segs[len(bar.Segs)-1].Y - 4
		}
		c.Bars = append(c.Bars, bar)
	}
}

// countAxis is the ticks of a count axis from 0 to yMax (a niceCeil), left of x = left.
func countAxis(left float64, yMax int, yOf func(int) float64) []tick {
	vals := []int{0, yMax / 2, yMax}
	if yMax == 1 {
		vals = []int{0, 1}
	}
	var out []tick
	for _, v := range vals {
		out = append(out, tick{X: left - 6, Y: yOf(v) + 4, LineY: yOf(v), Text: strconv.Itoa(v), Anchor: "end"})
	}
	return out
}

// niceCeil is the smallest of 1, 2, 4, 6, 8, 10, 20, 40, ... at least v: the top of a count
// axis whose middle tick is a whole number.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 4, 6, 8} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// accuracyHistogram bins the hosts' instruction count errors in tenths of the tolerance up to
// twice it, and one bin for anything beyond: the bins left of the tolerance line are the hosts
// that count right. A bin stacks the hosts within their own tolerance (green) under those beyond.
func accuracyHistogram(samples []accSample, tolerance float64, hosts int) histChart {
	c := newHist("accuracy", "Instruction count error of each host, binned")
	tolPct := tolerance * 100
	step := tolPct / 10
	slots := make([]histSlot, histBins+1)
	for i := range slots {
		slots[i].Classes = []string{"ok", "bad"}
		slots[i].Counts = make([]int, 2)
		slots[i].Range = fmt.Sprintf("error %s to %s", pct(float64(i)*step), pct(float64(i+1)*step))
	}
	slots[histBins].Range = "error " + pct(2*tolPct) + " or more"
	within := 0
	for _, s := range samples {
		i := min(histBins, int(s.Err/step))
		k := 1
		if s.Within {
			k = 0
			within++
		}
		slots[i].Counts[k]++
	}
	c.drawBins(slots)
	slotW := (c.Right - c.Left) / float64(len(slots))
	for i := 0; i <= histBins; i += 5 {
		c.XTicks = append(c.XTicks, tick{X: c.Left + float64(i)*slotW, Y: c.Bottom + 16, Text: pct(float64(i) * step), Anchor: "middle"})
	}
	c.XTicks[0].Anchor = "start"
	c.XTicks[len(c.XTicks)-1].Anchor = "end" // twice the tolerance, then "more" beside it
	c.XTicks[len(c.XTicks)-1].X -= 2
	c.XTicks = append(c.XTicks, tick{X: c.Left + histBins*slotW + 3, Y: c.Bottom + 16, Text: "more", Anchor: "start"})
	c.MarkerX = c.Left + 10*slotW
	c.Marker = "tolerance " + pct(tolPct)
	if len(samples) == 0 {
		c.Empty = "no host counted with hardware counters: accuracy not measured"
		c.Bars = nil
	}
	c.Caption = fmt.Sprintf("%s of %s measured the workload with hardware counters: %d within tolerance, %d beyond.",
		strconv.Itoa(len(samples)), Plural(hosts, "host", "hosts"), within, len(samples)-within)
	if rest := hosts - len(samples); rest > 0 && len(samples) > 0 {
		c.Caption += fmt.Sprintf(" The other %d (no PMU, no compiler, or not reached) are not drawn.", rest)
	}
	return c
}

// ipcHistogram bins the IPC of the workload loop: a host far from the others (a VM with a
// throttled or emulated PMU) stands out.
func ipcHistogram(samples []accSample) histChart {
	c := newHist("ipc", "IPC of the workload loop, binned")
	top := 4.0
	for _, s := range samples {
		top = math.Max(top, math.Ceil(s.IPC))
	}
	step := top / histBins
	slots := make([]histSlot, histBins)
	for i := range slots {
		slots[i].Classes = []string{"ipc"}
		slots[i].Counts = make([]int, 1)
		slots[i].Range = fmt.Sprintf("IPC %.2f to %.2f", float64(i)*step, float64(i+1)*step)
	}
	for _, s := range samples {
		slots[min(histBins-1, int(s.IPC/step))].Counts[0]++
	}
	c.drawBins(slots)
	slotW := (c.Right - c.Left) / histBins
	for i := 0; i <= histBins; i += 5 {
		c.XTicks = append(c.XTicks, tick{X: c.Left + float64(i)*slotW, Y: c.Bottom + 16, Text: strconv.FormatFloat(float64(i)*step, 'g', 3, 64), Anchor: "middle"})
	}
	c.XTicks[0].Anchor = "start"
	c.XTicks[len(c.XTicks)-1].Anchor = "end"
	if len(samples) == 0 {
		c.Empty = "no IPC without hardware counters"
		c.Bars = nil
	}
	c.Caption = "Instructions per cycle of the loop alone (the 2N run less the N run), 20 bins."
	return c
}

// pct formats a percentage for an axis: 0, 0.05%, 1%, 1.5%.
func pct(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + "%"
}
