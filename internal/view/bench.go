package view

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

// eventColumns is the union of the requested events over all reports, in first-seen order.
func eventColumns(reps []*bench.HostReport) []string {
	var cols []string
	for _, r := range reps {
		for _, e := range r.Events {
			if !slices.Contains(cols, e.Name) {
				cols = append(cols, e.Name)
			}
		}
	}
	return cols
}

// eventCell is the compact status of one event: ok, ok 87% (multiplexed), n/s (not supported),
// n/c (not counted), unknown, with :u when perf downgraded it to user-only.
func eventCell(r *bench.HostReport, name string) string {
	for _, e := range r.Events {
		if e.Name != name {
			continue
		}
		var s string
		switch e.Status {
		case string(bench.Counted):
			s = "ok"
			if e.PercentRunning < 100 {
				s += fmt.Sprintf(" %.0f%%", e.PercentRunning)
			}
		case string(bench.NotSupported):
			s = "n/s"
		case string(bench.NotCounted):
			s = "n/c"
		case "unknown", "error":
			s = e.Status
		default:
			s = "-"
		}
		if e.Printed != "" && bench.Downgraded(e.Name, e.Printed) {
			s += ":u"
		}
		return s
	}
	return "-"
}

func pmuCell(r *bench.HostReport) string {
	if r.Kernel == "" {
		return "-" // the host was not observed
	}
	if len(r.PMU) == 0 {
		return "none"
	}
	return strings.Join(r.PMU, ",")
}

func capCell(r *bench.HostReport) string {
	if r.CapEff == "" {
		return "-"
	}
	return r.CapEff
}

func instrCell(r *bench.HostReport) string {
	a := r.Accuracy
	if a == nil || a.InstructionsExpected == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f", a.InstructionsMeasured, a.InstructionsExpected)
}

func ipcCell(r *bench.HostReport) string {
	if a := r.Accuracy; a != nil && a.IPC > 0 {
		return strconv.FormatFloat(a.IPC, 'f', 2, 64)
	}
	return "-"
}

// systemWideCell is yes or no, or - for a host the benchmark did not run on.
func systemWideCell(r *bench.HostReport) string {
	if r.Verdict == bench.Skipped {
		return "-"
	}
	return yesNo(r.SystemWideOK)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func hostCell(r *bench.HostReport, withBench bool) string {
	if withBench && r.Benchmark != "" {
		return r.Host + "/" + r.Benchmark
	}
	return r.Host
}

// manyBenchmarks reports whether the reports come from more than one benchmark block.
func manyBenchmarks(reps []*bench.HostReport) bool {
	seen := map[string]bool{}
	for _, r := range reps {
		if r.Benchmark != "" {
			seen[r.Benchmark] = true
		}
	}
	return len(seen) > 1
}

// WriteBenchTable prints the fleet table, then one line per host with its verdict's reason.
func WriteBenchTable(w io.Writer, reps []*bench.HostReport) error {
	cols := eventColumns(reps)
	withBench := manyBenchmarks(reps)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"HOST", "KERNEL", "PMU", "CAPEFF", "SYSTEM-WIDE"}
	head = append(head, cols...)
	head = append(head, "INSTRUCTIONS (MEASURED/EXPECTED)", "IPC", "VERDICT")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range reps {
		row := []string{hostCell(r, withBench), dash(r.Kernel), pmuCell(r), capCell(r), systemWideCell(r)}
		for _, c := range cols {
			row = append(row, eventCell(r, c))
		}
		row = append(row, instrCell(r), ipcCell(r), string(r.Verdict))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range reps {
		fmt.Fprintf(w, "%s: %s: %s\n", hostCell(r, withBench), r.Verdict, r.Reason)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "%s:   note: %s\n", hostCell(r, withBench), n)
		}
	}
	return nil
}

// WriteBenchJSON prints one JSON object per host report and line (JSON Lines).
func WriteBenchJSON(w io.Writer, reps []*bench.HostReport) error {
	enc := json.NewEncoder(w)
	for _, r := range reps {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteBenchEventsJSON prints each report as a "benchmark" event of apply -json, one a line.
func WriteBenchEventsJSON(w io.Writer, reps []*bench.HostReport) {
	for _, r := range reps {
		WriteJSONLine(w, struct {
			Type string `json:"type"`
			*bench.HostReport
		}{"benchmark", r})
	}
}

// BenchSummary counts verdicts: "3 hosts: 1 pass, 1 pass-software-only, 1 fail".
func BenchSummary(reps []*bench.HostReport) string {
	n := map[bench.Verdict]int{}
	for _, r := range reps {
		n[r.Verdict]++
	}
	hosts := "hosts"
	if len(reps) == 1 {
		hosts = "host"
	}
	s := fmt.Sprintf("%d %s: %d pass, %d pass-software-only, %d fail", len(reps), hosts, n[bench.Pass], n[bench.PassSoftwareOnly], n[bench.Fail])
	if n[bench.Skipped] > 0 {
		s += fmt.Sprintf(", %d skipped", n[bench.Skipped])
	}
	return s
}

// WriteBenchChanges prints the comparison with the previous run (nil: there is none).
func WriteBenchChanges(w io.Writer, prev *bench.Record, changes []bench.Change) {
	if prev == nil {
		fmt.Fprintln(w, "No previous run to compare with.")
		return
	}
	fmt.Fprintf(w, "Changes since %s:\n", prev.Time.UTC().Format(time.RFC3339))
	if len(changes) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	for _, c := range changes {
		fmt.Fprintf(w, "  %s: %s\n", c.Host, c.What)
	}
}
