package view

// pageHTML is the bench report's template. The host table has a fixed layout of six columns
// whose widths are shares of the page: host, verdict and reason come first and the reason
// column takes what the others leave, so that at 1280 px (and narrower) every verdict and reason
// is on screen; long words (paths, host names) wrap instead of widening a column.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2329; }
h1 { font-size: 1.4em; margin: 0 0 0.2em; }
h2 { font-size: 1.15em; margin: 1.4em 0 0.5em; padding-bottom: 3px; border-bottom: 1px solid #d8dee4; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
p.meta, figcaption, .muted { color: #5b6670; }
p.meta { margin-top: 0; }
figure { margin: 0; }
figcaption { font-size: 13px; max-width: 580px; margin-top: 2px; }
svg { display: block; max-width: 100%; height: auto; }
svg#verdicts { height: 28px; }
svg text { font: 12px system-ui, sans-serif; fill: #1d2329; }
svg text.muted { fill: #5b6670; }
svg text.badtext { fill: #b03a3a; font-weight: bold; }
svg text.count { font-size: 11px; }
svg text.current { font-weight: bold; }
svg text.seg { fill: #fff; font-weight: bold; }
svg text.na { fill: #8b96a0; font-style: italic; }
svg .axis { stroke: #8b96a0; stroke-width: 1; }
svg .grid { stroke: #e4e8ec; stroke-width: 1; }
svg .tol { stroke: #c94a4a; stroke-width: 1.5; stroke-dasharray: 4 3; }
.ok, .pass { fill: #3c9a52; }
.bad, .fail { fill: #c94a4a; }
.pass-software-only, .ipc { fill: #4a73c9; }
.skipped { fill: #8b96a0; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.4em 0 0.8em; }
.tile { border: 1px solid #c9d1d9; border-left-width: 6px; border-radius: 4px; padding: 6px 14px; min-width: 11em; }
.tile .count { display: block; font-size: 1.8em; font-weight: 600; line-height: 1.2; }
.tile:not(.some) .count { color: #8b96a0; }
.tile.pass { border-left-color: #3c9a52; }
.tile.pass-software-only { border-left-color: #4a73c9; }
.tile.fail { border-left-color: #c94a4a; }
.tile.fail.some { background: #fbdcdc; }
.tile.skipped { border-left-color: #8b96a0; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; }
.key { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px; }
.key.ok { background: #3c9a52; } .key.bad { background: #c94a4a; }
table { border-collapse: collapse; margin: 0.5em 0; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #c9d1d9; padding: 4px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
th { background: #f0f3f6; }
#fleet thead th { position: sticky; top: 0; box-shadow: 0 1px 0 #c9d1d9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.sub { display: block; color: #5b6670; font-size: 12px; }
td.host .name { font-weight: 600; }
tr.pass td.verdict { background: #d7f5dd; }
tr.pass-software-only td.verdict { background: #e3ecfa; }
tr.fail td.verdict { background: #fbdcdc; font-weight: bold; }
tr.skipped td.verdict { background: #eceff2; }
td.priv code { font-size: 12px; }
td.events div { font-size: 13px; }
.ev { font-weight: 600; }
.ev-ok { color: #2d7a40; } .ev-bad { color: #b03a3a; } .ev-none { color: #5b6670; }
td.acc { font-size: 13px; font-variant-numeric: tabular-nums; }
ul.notes { margin: 0.3em 0 0 1em; padding: 0; color: #5b6670; }
col.c-host { width: 13%; } col.c-verdict { width: 8.5em; } col.c-priv { width: 10em; }
col.c-events { width: 17%; } col.c-acc { width: 9.5em; }
col.c-count { width: 7%; } col.c-hosts { width: 30%; } col.c-err { width: 10%; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Generated {{.Generated}} · {{.Summary}}</p>
<section id="summary">
<h2>Fleet</h2>
<div class="tiles" id="tiles">{{range .Fleet.Tiles}}<div class="tile {{.Verdict}}{{if .Count}} some{{end}}"><span class="count">{{.Count}}</span>{{.Verdict}} <span class="muted">{{.Percent}}</span></div>{{end}}</div>
{{with .Fleet}}{{if .Bar}}<svg id="verdicts" width="100%" height="28" role="img" aria-label="Share of each verdict in the fleet">
{{range .Bar}}<rect class="{{.Class}}" x="{{f .X}}%" y="0" width="{{f .W}}%" height="28"><title>{{.Title}}</title></rect>{{if .Text}}<text class="seg" x="{{f .X}}%" dx="6" y="18">{{.Text}}</text>{{end}}
{{end}}</svg>{{end}}
{{if .Reasons}}<h3>Most common failure reasons</h3>
<table id="reasons"><colgroup><col class="c-count"><col><col class="c-hosts"></colgroup>
<thead><tr><th>Hosts</th><th>Reason</th><th>Which</th></tr></thead>
<tbody>
{{range .Reasons}}<tr><td class="num">{{.Count}}</td><td>{{.Reason}}</td><td>{{.Hosts}}</td></tr>
{{end}}{{if .MoreReasons}}<tr><td class="num">{{.MoreReasons}}</td><td colspan="2" class="muted">fail for other reasons (see the table below)</td></tr>
{{end}}</tbody>
</table>{{end}}{{end}}
<h2>Accuracy</h2>
<div class="charts">
<figure>{{template "hist" .Accuracy}}<figcaption>{{.Accuracy.Caption}}{{if .Measured}}<span class="key ok"></span>within tolerance<span class="key bad"></span>beyond{{end}}</figcaption></figure>
{{if .Measured}}<figure>{{template "hist" .IPC}}<figcaption>{{.IPC.Caption}}</figcaption></figure>{{end}}
</div>
{{if .Worst}}<h3>Largest instruction count errors</h3>
<table id="worst"><colgroup><col class="c-hosts"><col class="c-err"><col><col class="c-err"><col></colgroup>
<thead><tr><th>Host</th><th>Error</th><th>Instructions measured/expected</th><th>IPC</th><th>Verdict</th></tr></thead>
<tbody>
{{range .Worst}}<tr class="{{.Verdict}}"><td>{{.Host}}</td><td class="num{{if not .Within}} ev-bad{{end}}">{{.Err}}</td><td class="num">{{.Instr}}</td><td class="num">{{.IPC}}</td><td class="verdict">{{.Verdict}}</td></tr>
{{end}}</tbody>
</table>{{end}}
{{with .History}}<h2>History</h2>
<figure><svg id="history" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="Verdicts of the last runs">
{{range .Legend}}<rect class="{{.Class}}" x="{{f .X}}" y="6" width="12" height="12"/><text x="{{f .X}}" dx="16" y="16">{{.Text}}</text>
{{end}}{{range .YTicks}}<line class="grid" x1="{{f $.History.Left}}" y1="{{f .LineY}}" x2="{{f $.History.Right}}" y2="{{f .LineY}}"/><text x="{{f .X}}" y="{{f .Y}}" text-anchor="end">{{.Text}}</text>
{{end}}<line class="axis" x1="{{f .Left}}" y1="{{f .Top}}" x2="{{f .Left}}" y2="{{f .Bottom}}"/>
<line class="axis" x1="{{f .Left}}" y1="{{f .Bottom}}" x2="{{f .Right}}" y2="{{f .Bottom}}"/>
{{range .Cols}}<g class="run">{{range .Segs}}<rect class="{{.Class}}" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}"><title>{{.Title}}</title></rect>{{end}}
<text class="count {{.TopClass}}" x="{{f .TextX}}" y="{{f .TopY}}" text-anchor="middle">{{.Top}}</text>
<text class="count {{if .Current}}current{{else}}muted{{end}}" x="{{f .TextX}}" y="{{f .DateY}}" text-anchor="middle">{{.Date}}</text>
<text class="count {{if .Current}}current{{else}}muted{{end}}" x="{{f .TextX}}" y="{{f .ClockY}}" text-anchor="middle">{{.Clock}}</text></g>
{{end}}</svg><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</section>
<h2>Hosts</h2>
<table id="fleet">
<colgroup><col class="c-host"><col class="c-verdict"><col class="c-reason"><col class="c-priv"><col class="c-events"><col class="c-acc"></colgroup>
<thead><tr><th>Host</th><th>Verdict</th><th>Reason</th><th>Privilege</th><th>Events</th><th>Instructions measured/ expected, IPC</th></tr></thead>
<tbody>
{{range .Rows}}<tr class="{{.Verdict}}"><td class="host"><span class="name">{{.Host}}</span>{{if .Observed}}<span class="sub">{{.Kernel}}</span><span class="sub">PMU {{.PMU}}</span>{{end}}</td><td class="verdict">{{.Verdict}}</td><td class="reason">{{.Reason}}{{if .Notes}}<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}</td><td class="priv">{{if .Observed}}<code>{{.CapEff}}</code><span class="sub">system-wide {{.SystemWide}}</span><span class="sub">non-member {{.NonMember}}</span>{{else}}-{{end}}</td><td class="events">{{range .Events}}<div><span class="ev {{.Class}}">{{.Status}}</span> {{.Names}}</div>{{else}}-{{end}}</td><td class="acc">{{if .Measured}}{{.Measured}}/<wbr>{{.Expected}}<span class="sub">IPC {{.IPC}}</span>{{else}}-{{end}}</td></tr>
{{end}}</tbody>
</table>
<p class="meta">Privilege: CapEff of the member's running perf, whether perf stat -a counts, and whether the non-member's exec of perf was refused. Events, by status: ok = counted (a percentage = multiplexed, counted that share of the time), n/s = &lt;not supported&gt;, n/c = &lt;not counted&gt;, :u = perf downgraded the event to user-only.</p>
</body>
</html>
{{define "hist"}}<svg id="{{.ID}}" class="hist" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Label}}">
<text class="title" x="{{f .Left}}" y="16">{{.Label}}</text>
{{range .YTicks}}<line class="grid" x1="{{f $.Left}}" y1="{{f .LineY}}" x2="{{f $.Right}}" y2="{{f .LineY}}"/><text x="{{f .X}}" y="{{f .Y}}" text-anchor="end">{{.Text}}</text>
{{end}}<line class="axis" x1="{{f .Left}}" y1="{{f .Top}}" x2="{{f .Left}}" y2="{{f .Bottom}}"/>
<line class="axis" x1="{{f .Left}}" y1="{{f .Bottom}}" x2="{{f .Right}}" y2="{{f .Bottom}}"/>
{{range .XTicks}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="{{.Anchor}}">{{.Text}}</text>
{{end}}{{range .Bars}}{{range .Segs}}<rect class="{{.Class}}" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}"><title>{{.Title}}</title></rect>{{end}}{{if .Text}}<text class="count" x="{{f .TextX}}" y="{{f .TextY}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{end}}{{if .Marker}}<line class="tol" x1="{{f .MarkerX}}" y1="{{f .Top}}" x2="{{f .MarkerX}}" y2="{{f .Bottom}}"/><text class="badtext" x="{{f .MarkerX}}" y="{{f .Top}}" dy="-10" text-anchor="middle">{{.Marker}}</text>
{{end}}{{if .Empty}}<text class="na" x="{{f .EmptyX}}" y="{{f .EmptyY}}" text-anchor="middle">{{.Empty}}</text>
{{end}}</svg>{{end}}`
