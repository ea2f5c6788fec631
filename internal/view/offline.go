package view

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// Placeholders for values plan -offline cannot show.
const (
	unknownText   = "(known after facts)"
	sensitiveText = redact.Placeholder
)

// offlineHost is one host's part of plan -offline -json.
type offlineHost struct {
	Name       string             `json:"name"`
	Address    string             `json:"address"`
	Port       int                `json:"port,omitempty"`
	User       string             `json:"user,omitempty"`
	Type       string             `json:"connection_type"`
	Groups     []string           `json:"groups"`
	Resources  []offlineResource  `json:"resources"`
	Benchmarks []offlineBenchmark `json:"benchmarks,omitempty"`
}

type offlineResource struct {
	Address    string                     `json:"address"`
	Type       string                     `json:"type"`
	Name       string                     `json:"name"`
	Module     string                     `json:"module,omitempty"`
	DependsOn  []string                   `json:"depends_on"`
	Attributes map[string]json.RawMessage `json:"attributes"`
	Unknown    []string                   `json:"unknown,omitempty"`
	Sensitive  []string                   `json:"sensitive,omitempty"`
}

type offlineBenchmark struct {
	Name                    string   `json:"name"`
	RunAs                   string   `json:"run_as"`
	Perf                    string   `json:"perf"`
	Events                  []string `json:"events"`
	RequireHardwareCounters bool     `json:"require_hardware_counters"`
	Tolerance               float64  `json:"tolerance"`
	Repeat                  int      `json:"repeat"`
}

// WriteOfflinePlan prints plan -offline: each host's resolved resources in apply order, with
// the values that need facts or are sensitive as placeholders, then the totals.
func WriteOfflinePlan(w io.Writer, configs []*spec.HostConfig) {
	total := 0
	fmt.Fprintf(w, "Offline plan: no host was contacted. Values that read host facts show as %s.\n", unknownText)
	for _, hc := range configs {
		fmt.Fprintln(w)
		writeHostHeader(w, hc.Host)
		if len(hc.Resources) == 0 {
			fmt.Fprintln(w, "  (no resources apply to this host)")
		}
		for i, r := range hc.Resources {
			writeResource(w, i+1, r)
		}
		for _, b := range hc.Benchmarks {
			writeBenchmark(w, b)
		}
		total += len(hc.Resources)
	}
	fmt.Fprintf(w, "\n%s, %s in apply order.\n", Plural(len(configs), "host", "hosts"), Plural(total, "resource", "resources"))
}

func writeHostHeader(w io.Writer, h *spec.Host) {
	where := h.Address
	if h.Conn.Type == "local" {
		where = "local"
	} else {
		if h.Conn.User != "" {
			where = h.Conn.User + "@" + where
		}
		if h.Port != 0 {
			where += ":" + strconv.Itoa(h.Port)
		}
	}
	line := fmt.Sprintf("host %q (%s", h.Name, where)
	if len(h.Groups) > 0 {
		line += "; groups: " + strings.Join(h.Groups, ", ")
	}
	fmt.Fprintln(w, line+")")
}

func writeResource(w io.Writer, n int, r *spec.Resource) {
	fmt.Fprintf(w, "  %d. %s\n", n, r.Addr)
	var names []string
	width := 0
	for _, a := range resource.Schemas()[r.Type].Attrs {
		v, ok := r.Attrs[a.Name]
		if !ok || (v.IsKnown() && v.IsNull()) {
			continue
		}
		names = append(names, a.Name)
		width = max(width, len(a.Name))
	}
	indent := "       "
	for _, name := range names {
		v := r.Attrs[name]
		text := sensitiveText
		if !r.Sensitive[name] {
			text = renderValue(v, indent+strings.Repeat(" ", width+3))
		}
		fmt.Fprintf(w, "%s%-*s = %s\n", indent, width, name, text)
	}
	if len(r.DependsOn) > 0 {
		fmt.Fprintf(w, "%s(after %s)\n", indent, strings.Join(r.DependsOn, ", "))
	}
}

func writeBenchmark(w io.Writer, b *spec.Benchmark) {
	perf, runAs := b.Perf, b.RunAs
	if perf == "" {
		perf = unknownText
	}
	if runAs == "" {
		runAs = unknownText
	}
	fmt.Fprintf(w, "  benchmark %q: run_as %s, perf %s, events %s, tolerance %s, repeat %d, require_hardware_counters %t\n",
		b.Name, runAs, perf, strings.Join(b.Events, ","), strconv.FormatFloat(b.Tolerance*100, 'f', -1, 64)+"%", b.Repeat, b.RequireHardwareCounters)
}

// renderValue writes a value as HCL-like text; cont is the indentation of continuation lines.
func renderValue(v cty.Value, cont string) string {
	if v.IsMarked() {
		return sensitiveText
	}
	if !v.IsKnown() {
		return unknownText
	}
	if v.IsNull() {
		return "null"
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		s := v.AsString()
		if strings.Contains(strings.TrimSuffix(s, "\n"), "\n") {
			lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
			return "<<EOT\n" + cont + "  " + strings.Join(lines, "\n"+cont+"  ") + "\n" + cont + "EOT"
		}
		return strconv.Quote(s)
	case ty == cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case ty == cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if allUnknown(v) {
			return unknownText
		}
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, renderValue(e, cont))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case ty.IsMapType() || ty.IsObjectType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			parts = append(parts, fmt.Sprintf("%s = %s", k.AsString(), renderValue(e, cont)))
		}
		sort.Strings(parts)
		if len(parts) == 0 {
			return "{}"
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return unknownText
}

// WriteOfflinePlanJSON prints plan -offline -json: one document, on one line, of every host's
// resources, the attributes that need facts or are sensitive listed by name instead of valued.
func WriteOfflinePlanJSON(w io.Writer, configs []*spec.HostConfig) error {
	doc := struct {
		Offline bool          `json:"offline"`
		Hosts   []offlineHost `json:"hosts"`
	}{Offline: true, Hosts: []offlineHost{}}
	for _, hc := range configs {
		h := hc.Host
		oh := offlineHost{Name: h.Name, Address: h.Address, Port: h.Port, User: h.Conn.User, Type: string(h.Conn.Type),
			Groups: append([]string{}, h.Groups...), Resources: []offlineResource{}}
		for _, r := range hc.Resources {
			or := offlineResource{Address: r.Addr, Type: r.Type, Name: r.Name, Module: r.Module,
				DependsOn: append([]string{}, r.DependsOn...), Attributes: map[string]json.RawMessage{}}
			for _, a := range resource.Schemas()[r.Type].Attrs {
				v, ok := r.Attrs[a.Name]
				if !ok {
					continue
				}
				switch {
				case r.Sensitive[a.Name]:
					or.Sensitive = append(or.Sensitive, a.Name)
				case !v.IsWhollyKnown():
					or.Unknown = append(or.Unknown, a.Name)
				default:
					b, err := ctyjson.Marshal(v, v.Type())
					if err != nil {
						return fmt.Errorf("encoding %s.%s: %w", r.Addr, a.Name, err)
					}
					or.Attributes[a.Name] = b
				}
			}
			oh.Resources = append(oh.Resources, or)
		}
		for _, b := range hc.Benchmarks {
			oh.Benchmarks = append(oh.Benchmarks, offlineBenchmark{Name: b.Name, RunAs: b.RunAs, Perf: b.Perf, Events: b.Events,
				RequireHardwareCounters: b.RequireHardwareCounters, Tolerance: b.Tolerance, Repeat: b.Repeat})
		}
		doc.Hosts = append(doc.Hosts, oh)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// allUnknown reports whether a non-empty collection holds only unknown elements: it is shown as
// one placeholder rather than a list of them.
func allUnknown(v cty.Value) bool {
	if v.LengthInt() == 0 {
		return false
	}
	for it := v.ElementIterator(); it.Next(); {
		if _, e := it.Element(); e.IsKnown() {
			return false
		}
	}
	return true
}
