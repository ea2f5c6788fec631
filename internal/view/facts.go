package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/perfprov/perfprov/provision/facts"
)

// FactsRow is one host's answer to facts, as -json prints it: its facts, or why there are none.
type FactsRow struct {
	Host  string       `json:"host"`
	OK    bool         `json:"ok"`
	Error string       `json:"error"`
	Facts *facts.Facts `json:"facts"`
}

// WriteFactsJSON prints the rows as one JSON array on one line, [] for none.
func WriteFactsJSON(w io.Writer, rows []FactsRow) error {
	if rows == nil {
		rows = []FactsRow{}
	}
	return json.NewEncoder(w).Encode(rows)
}

// WriteFactsTable prints one line per host: what decides whether unprivileged perf monitoring can
// be set up there. A host that did not answer shows its error instead.
func WriteFactsTable(w io.Writer, rows []FactsRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tOS\tKERNEL\tARCH\tCAPS\tPARANOID\tPMU\tPERF\tLIBCAP\tPRIV\tNOSUID")
	patched := false
	for _, r := range rows {
		if !r.OK {
			// The last cell of a line is not aligned, so a long error does not widen the columns.
			fmt.Fprintf(tw, "%s\tERROR: %s\n", r.Host, strings.TrimPrefix(r.Error, r.Host+": "))
			continue
		}
		f := r.Facts
		paranoid := "?"
		if f.PerfEvents {
			paranoid = strconv.Itoa(f.PerfEventParanoid)
			if f.DistroParanoidPatch && f.PerfEventParanoid > 2 {
				paranoid += "*"
				patched = true
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Host, dash(strings.TrimSpace(f.OSID+" "+f.OSVersion)), dash(f.KernelRelease), dash(f.Arch),
			factsCapsCell(f), paranoid, factsPMUCell(f), factsPerfCell(f), libcapCell(f), privCell(f), nosuidCell(f))
	}
	_ = tw.Flush()
	if patched {
		fmt.Fprintln(w, "* perf_event_paranoid > 2 on a kernel with the Debian/Ubuntu patch: CAP_PERFMON alone is not enough; set it to 2 or lower.")
	}
}

func factsCapsCell(f *facts.Facts) string {
	switch {
	case f.CapLastCap < 0:
		return "?"
	case f.KernelPerfmonSupported:
		return fmt.Sprintf("%d perfmon", f.CapLastCap)
	default:
		return fmt.Sprintf("%d no-perfmon", f.CapLastCap)
	}
}

func factsPMUCell(f *facts.Facts) string {
	if !f.HasPMU {
		return "none"
	}
	return f.PMUType + ":" + strings.Join(f.PMU, ",")
}

func factsPerfCell(f *facts.Facts) string {
	p := f.Perf
	kind := "elf"
	switch {
	case p.IsScript:
		kind = "script"
	case !p.IsELF:
		kind = "?"
	}
	switch {
	case p.Path == "":
		return "-"
	case p.Version != "":
		return p.Version + " (" + kind + ")"
	default:
		return "no version (" + kind + ")"
	}
}

func libcapCell(f *facts.Facts) string {
	switch {
	case f.Libcap.SetcapPath == "" && f.Libcap.Version == "":
		return "-"
	case f.Libcap.SetcapPath == "":
		return f.Libcap.Version + " (no setcap)"
	case f.Libcap.Version == "":
		return "?"
	}
	return f.Libcap.Version
}

func privCell(f *facts.Facts) string {
	switch {
	case f.IsRoot:
		return "root"
	case f.HasSudo && f.SudoNoPassword:
		return "sudo"
	case f.HasSudo:
		return "sudo+password"
	}
	return "none"
}

func nosuidCell(f *facts.Facts) string {
	if len(f.Mounts) == 0 {
		return "?" // mountinfo was not readable: unknown, not "none"
	}
	var out []string
	for _, p := range facts.InstallPrefixes {
		if m, ok := f.Mounts[p]; ok && m.NoSuid {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}
