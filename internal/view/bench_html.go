package view

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

// chart geometry (SVG user units).
const (
	chartLabelW = 180
	chartBarW   = 300
	chartGap    = 40
	chartRowH   = 26
	chartTop    = 44
)

// ChartTolerance is the tolerance WriteBenchHTML draws in its chart: the loosest of the run (the chart
// marks one line).
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

type chartRow struct {
	Y, TextY          int
	Label             string
	AccW, IPCW        float64
	AccText, IPCText  string
	AccClass, IPCNone bool
	Verdict           string
}

type chartData struct {
	W, H             int
	AccX, IPCX       int
	TolX             float64
	AccMax, IPCMax   float64
	AccTitle         string
	IPCTitle         string
	Rows             []chartRow
	AxisY            int
	AccAxis, IPCAxis string
}

// buildChart lays out two bar charts side by side: the instruction count error of each host
// against the tolerance, and the workload's IPC.
func buildChart(reps []*bench.HostReport, tolerance float64) chartData {
	c := chartData{AccX: chartLabelW, IPCX: chartLabelW + chartBarW + chartGap}
	c.W = c.IPCX + chartBarW + 20
	c.H = chartTop + chartRowH*len(reps) + 30
	c.AxisY = chartTop + chartRowH*len(reps) + 4
	tolPct := tolerance * 100
	c.AccMax = 2 * tolPct
	c.IPCMax = 4
	for _, r := range reps {
		if a := r.Accuracy; a != nil && a.InstructionsExpected > 0 {
			c.AccMax = math.Max(c.AccMax, a.ErrorPercent*1.1)
			c.IPCMax = math.Max(c.IPCMax, math.Ceil(a.IPC))
		}
	}
	c.TolX = float64(c.AccX) + chartBarW*tolPct/c.AccMax
	c.AccTitle = fmt.Sprintf("Instruction count error, %% (tolerance %.2f%%)", tolPct)
	c.IPCTitle = "IPC of the workload loop"
	c.AccAxis = fmt.Sprintf("%.2f%%", c.AccMax)
	c.IPCAxis = fmt.Sprintf("%.0f", c.IPCMax)
	for i, r := range reps {
		row := chartRow{Y: chartTop + i*chartRowH, Label: r.Host, Verdict: string(r.Verdict)}
		row.TextY = row.Y + 16
		if r.Benchmark != "" && manyBenchmarks(reps) {
			row.Label += "/" + r.Benchmark
		}
		if a := r.Accuracy; a != nil && a.InstructionsExpected > 0 {
			row.AccW = math.Max(1, chartBarW*a.ErrorPercent/c.AccMax)
			row.AccText = fmt.Sprintf("%.3g%%", a.ErrorPercent)
			limit := tolPct
			if r.Tolerance > 0 {
				limit = r.Tolerance * 100
			}
			row.AccClass = a.ErrorPercent <= limit
			row.IPCW = math.Max(1, chartBarW*a.IPC/c.IPCMax)
			row.IPCText = fmt.Sprintf("%.2f", a.IPC)
		} else {
			reason := "no hardware counters"
			if a != nil && a.Reason != "" {
				reason = a.Reason
			}
			row.AccText = "n/a: " + truncate(reason, 40)
			row.IPCText = "n/a"
			row.IPCNone = true
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

type htmlRow struct {
	Host, Kernel, PMU, CapEff, SystemWide, Instr, IPC, Verdict, Reason, NonMember string
	Events                                                                        []string
	Notes                                                                         []string
}

type htmlPage struct {
	Title     string
	Generated string
	Summary   string
	Columns   []string
	Rows      []htmlRow
	Chart     chartData
}

// WriteBenchHTML writes one self-contained page: inline CSS, an inline SVG chart, the table. It
// loads nothing from anywhere: no scripts, no fonts, no images.
func WriteBenchHTML(w io.Writer, reps []*bench.HostReport, tolerance float64, generated time.Time) error {
	if tolerance <= 0 {
		tolerance = bench.DefaultTolerance
	}
	p := htmlPage{
		Title:     "perfprov bench",
		Generated: generated.UTC().Format(time.RFC3339),
		Summary:   BenchSummary(reps),
		Columns:   eventColumns(reps),
		Chart:     buildChart(reps, tolerance),
	}
	withBench := manyBenchmarks(reps)
	for _, r := range reps {
		row := htmlRow{
			Host: hostCell(r, withBench), Kernel: dash(r.Kernel), PMU: pmuCell(r), CapEff: capCell(r),
			SystemWide: systemWideCell(r), Instr: instrCell(r), IPC: ipcCell(r),
			Verdict: string(r.Verdict), Reason: r.Reason, NonMember: dash(r.NonMember), Notes: r.Notes,
		}
		for _, c := range p.Columns {
			row.Events = append(row.Events, eventCell(r, c))
		}
		p.Rows = append(p.Rows, row)
	}
	return pageTemplate.Execute(w, p)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1d2329; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.meta { color: #5b6670; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #c9d1d9; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f3f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.pass td.verdict { background: #d7f5dd; }
tr.pass-software-only td.verdict { background: #e3ecfa; }
tr.fail td.verdict { background: #fbdcdc; font-weight: bold; }
td.reason { max-width: 40em; }
ul.notes { margin: 0.3em 0 0 1em; padding: 0; color: #5b6670; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2329; }
svg .title { font-weight: bold; }
svg .ok { fill: #3c9a52; }
svg .bad { fill: #c94a4a; }
svg .ipc { fill: #4a73c9; }
svg .axis { stroke: #8b96a0; stroke-width: 1; }
svg .tol { stroke: #c94a4a; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .na { fill: #8b96a0; font-style: italic; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Generated {{.Generated}} · {{.Summary}}</p>
{{with .Chart}}<svg id="chart" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="Instruction count error and IPC per host">
<text class="title" x="{{.AccX}}" y="18">{{.AccTitle}}</text>
<text class="title" x="{{.IPCX}}" y="18">{{.IPCTitle}}</text>
<line class="axis" x1="{{.AccX}}" y1="30" x2="{{.AccX}}" y2="{{.AxisY}}"/>
<line class="axis" x1="{{.IPCX}}" y1="30" x2="{{.IPCX}}" y2="{{.AxisY}}"/>
<line class="tol" x1="{{.TolX}}" y1="30" x2="{{.TolX}}" y2="{{.AxisY}}"/>
<text x="{{.AccX}}" y="{{.AxisY}}" dy="16">0</text>
<text x="{{.TolX}}" y="{{.AxisY}}" dy="16" text-anchor="middle">tolerance</text>
<text x="{{.IPCX}}" y="{{.AxisY}}" dy="16">0</text>
{{range .Rows}}<g class="row">
<text x="{{$.Chart.AccX}}" dx="-8" y="{{.TextY}}" text-anchor="end">{{.Label}}</text>
{{if .IPCNone}}<text class="na" x="{{$.Chart.AccX}}" dx="6" y="{{.TextY}}">{{.AccText}}</text>
<text class="na" x="{{$.Chart.IPCX}}" dx="6" y="{{.TextY}}">{{.IPCText}}</text>
{{else}}<rect class="{{if .AccClass}}ok{{else}}bad{{end}}" x="{{$.Chart.AccX}}" y="{{.Y}}" width="{{printf "%.1f" .AccW}}" height="18"><title>{{.Label}}: {{.AccText}}</title></rect>
<text x="{{$.Chart.AccX}}" dx="{{printf "%.1f" .AccW}}" y="{{.TextY}}"> {{.AccText}}</text>
<rect class="ipc" x="{{$.Chart.IPCX}}" y="{{.Y}}" width="{{printf "%.1f" .IPCW}}" height="18"><title>{{.Label}}: IPC {{.IPCText}}</title></rect>
<text x="{{$.Chart.IPCX}}" dx="{{printf "%.1f" .IPCW}}" y="{{.TextY}}"> {{.IPCText}}</text>
{{end}}</g>
{{end}}</svg>{{end}}
<table id="fleet">
<thead><tr><th>Host</th><th>Kernel</th><th>PMU</th><th>CapEff</th><th>System-wide</th>{{range .Columns}}<th>{{.}}</th>{{end}}<th>Instructions measured/expected</th><th>IPC</th><th>Non-member</th><th>Verdict</th><th>Reason</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Verdict}}"><td class="host">{{.Host}}</td><td>{{.Kernel}}</td><td>{{.PMU}}</td><td><code>{{.CapEff}}</code></td><td>{{.SystemWide}}</td>{{range .Events}}<td>{{.}}</td>{{end}}<td class="num">{{.Instr}}</td><td class="num">{{.IPC}}</td><td>{{.NonMember}}</td><td class="verdict">{{.Verdict}}</td><td class="reason">{{.Reason}}{{if .Notes}}<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}</td></tr>
{{end}}</tbody>
</table>
<p class="meta">Event status: ok = counted (a percentage = multiplexed, counted that share of the time), n/s = &lt;not supported&gt;, n/c = &lt;not counted&gt;, :u = perf downgraded the event to user-only.</p>
</body>
</html>
`))
