package hcl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	hcl2 "github.com/hashicorp/hcl/v2"
)

// noSnippet in a diagnostic's Extra asks writers not to print the source line: the line may hold a
// sensitive value.
type noSnippet struct{}

// didYouMean returns " Did you mean "x"?" for the closest candidate, or "".
func didYouMean(given string, candidates []string) string {
	if s := suggest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// suggest returns the candidate closest to given when it is close enough to be a likely typo.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 1<<30
	for _, c := range candidates {
		d := levenshtein.Distance(given, c, nil)
		// On a tie, the candidate closer in length wins ("wbe" is "web", not "web1").
		if d < bestDist || (d == bestDist && closer(given, c, best)) {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(given) > 8 {
		limit = 3
	}
	if bestDist <= limit && bestDist < len(given) {
		return best
	}
	return ""
}

func errorDiag(rng *hcl2.Range, summary, detail string) *hcl2.Diagnostic {
	return &hcl2.Diagnostic{Severity: hcl2.DiagError, Summary: summary, Detail: detail, Subject: rng}
}

func warnDiag(rng *hcl2.Range, summary, detail string) *hcl2.Diagnostic {
	return &hcl2.Diagnostic{Severity: hcl2.DiagWarning, Summary: summary, Detail: detail, Subject: rng}
}

func rangePtr(r hcl2.Range) *hcl2.Range { return &r }

// sortDiagnostics orders diagnostics by file and position (errors with no position last), so that
// output is stable whatever order the checks ran in.
func sortDiagnostics(diags hcl2.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil && b == nil:
			return false
		case a == nil:
			return false
		case b == nil:
			return true
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

// WriteDiagnostics prints diagnostics for a person: file:line:col, a source snippet, the summary
// and the detail. files may be nil (no snippets).
func WriteDiagnostics(w io.Writer, diags hcl2.Diagnostics, files map[string]*hcl2.File, color bool) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	for _, d := range diags {
		if d == nil {
			continue
		}
		label := paint("1;31", "Error:")
		if d.Severity == hcl2.DiagWarning {
			label = paint("1;33", "Warning:")
		}
		fmt.Fprintf(bw, "%s %s\n\n", label, paint("1", d.Summary))
		if d.Subject != nil {
			r := *d.Subject
			where := fmt.Sprintf("  on %s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
			sn := snippetFor(d, files)
			if sn != nil && sn.Context != "" {
				where += ", in " + sn.Context
			}
			fmt.Fprintln(bw, where+":")
			if sn != nil {
				prefix := fmt.Sprintf("  %d: ", sn.StartLine)
				line := sn.Code
				hs, he := sn.HighlightStartOffset, sn.HighlightEndOffset
				if color && hs < he && he <= len(line) {
					line = line[:hs] + paint("4", line[hs:he]) + line[he:]
				}
				fmt.Fprintf(bw, "%s%s\n", prefix, line)
				if he > hs && he <= len(sn.Code) {
					var pad strings.Builder
					pad.WriteString(strings.Repeat(" ", len(prefix)))
					for _, r := range sn.Code[:hs] {
						if r == '\t' {
							pad.WriteByte('\t')
						} else {
							pad.WriteByte(' ')
						}
					}
					fmt.Fprintf(bw, "%s%s\n", pad.String(), paint("31", strings.Repeat("^", max(1, len([]rune(sn.Code[hs:he]))))))
				}
			}
			fmt.Fprintln(bw)
		}
		if d.Detail != "" {
			fmt.Fprintf(bw, "%s\n\n", d.Detail)
		}
	}
}

// JSONDiagnostic is the machine-readable form of one diagnostic (validate -json and friends).
type JSONDiagnostic struct {
	Severity string       `json:"severity"` // "error" or "warning"
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is a source range: 1-based line and column, 0-based byte offset.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is one position in a source file.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet is the source line a diagnostic points at.
type JSONSnippet struct {
	Context              string `json:"context,omitempty"` // the enclosing block, e.g. resource "file" "motd"
	Code                 string `json:"code"`              // the first line of the range
	StartLine            int    `json:"start_line"`
	HighlightStartOffset int    `json:"highlight_start_offset"` // byte offsets into Code
	HighlightEndOffset   int    `json:"highlight_end_offset"`
}

// JSONDiagnostics converts diagnostics to their JSON form; files (may be nil) give snippets.
func JSONDiagnostics(diags hcl2.Diagnostics, files map[string]*hcl2.File) []JSONDiagnostic {
	out := make([]JSONDiagnostic, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		jd := JSONDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl2.DiagWarning {
			jd.Severity = "warning"
		}
		if d.Subject != nil {
			r := *d.Subject
			jd.Range = &JSONRange{
				Filename: r.Filename,
				Start:    JSONPos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
				End:      JSONPos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
			}
			jd.Snippet = snippetFor(d, files)
		}
		out = append(out, jd)
	}
	return out
}

// snippetFor returns the first source line of the diagnostic's range, or nil when the file is not
// known or the diagnostic asks for no snippet.
func snippetFor(d *hcl2.Diagnostic, files map[string]*hcl2.File) *JSONSnippet {
	if d.Subject == nil || files == nil {
		return nil
	}
	if _, ok := d.Extra.(noSnippet); ok {
		return nil
	}
	f := files[d.Subject.Filename]
	if f == nil || f.Bytes == nil {
		return nil
	}
	r := *d.Subject
	src := f.Bytes
	if r.Start.Byte < 0 || r.Start.Byte > len(src) {
		return nil
	}
	lineStart := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	lineEnd := bytes.IndexByte(src[r.Start.Byte:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src)
	} else {
		lineEnd += r.Start.Byte
	}
	code := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")
	hs := r.Start.Byte - lineStart
	he := r.End.Byte - lineStart
	if he > len(code) || r.End.Byte < r.Start.Byte {
		he = len(code)
	}
	if hs > len(code) {
		hs = len(code)
	}
	if he == hs && he < len(code) {
		he = hs + 1
	}
	sn := &JSONSnippet{Code: code, StartLine: r.Start.Line, HighlightStartOffset: hs, HighlightEndOffset: he}
	if blk := f.OutermostBlockAtPos(r.Start); blk != nil {
		sn.Context = blk.Type
		for _, l := range blk.Labels {
			sn.Context += fmt.Sprintf(" %q", l)
		}
	}
	return sn
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// closer breaks a tie between two equally distant candidates: the one that starts like the
// given name, then the one closer in length ("wbe" is "web", not "db1" or "web1").
func closer(given, c, best string) bool {
	cf := len(c) > 0 && len(given) > 0 && c[0] == given[0]
	bf := len(best) > 0 && len(given) > 0 && best[0] == given[0]
	if cf != bf {
		return cf
	}
	return abs(len(c)-len(given)) < abs(len(best)-len(given))
}
