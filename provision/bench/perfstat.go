// Package bench confirms, host by host, that an unprivileged member of the perf group can count
// events on that host's hardware and that the counts are right: it runs one generated script as
// the member, parses what perf stat printed, and judges the observations into a verdict.
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Status says whether perf could count an event.
type Status string

const (
	Counted      Status = "counted"
	NotSupported Status = "not-supported" // perf could not open the event (ENOENT, EOPNOTSUPP...)
	NotCounted   Status = "not-counted"   // opened but never scheduled, or the workload ended first
)

// Event is one counter line of perf stat output.
type Event struct {
	Name   string
	Status Status
	// Value is the count (for task-clock: milliseconds, see Unit); 0 unless Counted.
	Value float64
	Unit  string
	// Variance is the relative standard deviation in percent with -r; 0 otherwise.
	Variance float64
	// RunTimeNS is the time the counter ran.
	RunTimeNS uint64
	// PercentRunning below 100 means the counter was multiplexed and Value is scaled.
	PercentRunning float64
	MetricValue    float64
	MetricUnit     string
	// UserOnly is true when the event counts user space only: it carries the modifier u without
	// k, as when perf, lacking privilege, silently retried the event as "cycles:u".
	UserOnly bool
}

// Output is what one perf stat run printed on stderr.
type Output struct {
	Events []Event
	// Messages are the lines that are not counters: errors, warnings, comments, usage text.
	Messages []string
}

// Error returns perf's error in one line ("" when it printed none), for reasons that a person
// can act on: the "Error:" block first, then a line that mentions an error, then the first
// message that is not a comment.
func (o *Output) Error() string {
	first := ""
	for i, m := range o.Messages {
		t := strings.TrimSpace(m)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if t == "Error:" && i+1 < len(o.Messages) {
			return "Error: " + strings.TrimSpace(o.Messages[i+1])
		}
		if strings.Contains(strings.ToLower(t), "error") || strings.Contains(t, "Permission denied") || strings.Contains(t, "not found") {
			return t
		}
		if first == "" {
			first = t
		}
	}
	return first
}

// Find returns the event whose name, without a user-only modifier perf may have added, is name.
func (o *Output) Find(name string) (Event, bool) {
	for _, e := range o.Events {
		if e.Name == name || BaseName(e.Name) == BaseName(name) {
			return e, true
		}
	}
	return Event{}, false
}

// Parse reads perf stat output in either format: lines that begin with '{' are read as JSON
// (perf stat -j), other lines as CSV with a comma separator (perf stat -x,).
func Parse(data []byte) Output {
	var out Output
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "{") {
			if ev, ok := parseJSONLine(line); ok {
				out.Events = append(out.Events, ev)
				continue
			}
			// A metric-only object or a line perf printed malformed: keep it as a message.
			out.Messages = append(out.Messages, line)
			continue
		}
		if ev, ok := parseCSVLine(line, ","); ok {
			out.Events = append(out.Events, ev)
			continue
		}
		out.Messages = append(out.Messages, line)
	}
	return out
}

// ParseCSV reads perf stat -x SEP output. Lines that are not counters become Messages.
func ParseCSV(data []byte, sep string) Output {
	var out Output
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if ev, ok := parseCSVLine(line, sep); ok {
			out.Events = append(out.Events, ev)
		} else {
			out.Messages = append(out.Messages, line)
		}
	}
	return out
}

// ParseJSON reads perf stat -j output (one object per line). Lines that are not counter objects
// become Messages.
func ParseJSON(data []byte) Output {
	var out Output
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if ev, ok := parseJSONLine(line); ok {
			out.Events = append(out.Events, ev)
		} else {
			out.Messages = append(out.Messages, line)
		}
	}
	return out
}

// parseCSVLine reads "value,unit,event[,variance%],runtime,percent,metric,metric-unit". Old
// perf versions end after the event or after the percentage; an event name may itself hold the
// separator (cpu/event=0x3c,umask=0/), so the event spans the fields up to the first one that
// reads as a variance or a run time.
func parseCSVLine(line, sep string) (Event, bool) {
	f := strings.Split(line, sep)
	if len(f) < 3 {
		return Event{}, false
	}
	var ev Event
	switch v := strings.TrimSpace(f[0]); v {
	case "<not supported>":
		ev.Status = NotSupported
	case "<not counted>":
		ev.Status = NotCounted
	default:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return Event{}, false
		}
		ev.Status, ev.Value = Counted, x
	}
	ev.Unit = strings.TrimSpace(f[1])
	end := len(f) // index after the last field of the event name
	for k := 3; k < len(f); k++ {
		if isVariance(f[k]) || isUint(f[k]) {
			end = k
			break
		}
	}
	ev.Name = strings.TrimSpace(strings.Join(f[2:end], sep))
	if ev.Name == "" {
		// A continuation line that only carries another metric of the previous event.
		return Event{}, false
	}
	rest := f[end:]
	if len(rest) > 0 && isVariance(rest[0]) {
		ev.Variance, _ = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest[0]), "%"), 64)
		rest = rest[1:]
	}
	ev.PercentRunning = 100
	if len(rest) > 0 {
		ev.RunTimeNS, _ = strconv.ParseUint(strings.TrimSpace(rest[0]), 10, 64)
	}
	if len(rest) > 1 {
		if p, err := strconv.ParseFloat(strings.TrimSpace(rest[1]), 64); err == nil {
			ev.PercentRunning = p
		}
	}
	if len(rest) > 2 {
		ev.MetricValue, _ = strconv.ParseFloat(strings.TrimSpace(rest[2]), 64)
	}
	if len(rest) > 3 {
		ev.MetricUnit = strings.TrimSpace(strings.Join(rest[3:], sep))
	}
	ev.UserOnly = IsUserOnly(ev.Name)
	return ev, true
}

func isUint(s string) bool {
	s = strings.TrimSpace(s)
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func isVariance(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, "%") {
		return false
	}
	_, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	return err == nil
}

// parseJSONLine reads one perf stat -j object. perf 6.0 to 6.4 print counter-value as a string and
// metric-value as a number; later versions print both as strings; any numeric field is accepted
// either way.
func parseJSONLine(line string) (Event, bool) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	if err := dec.Decode(&obj); err != nil {
		return Event{}, false
	}
	name, ok := jsonString(obj["event"])
	if !ok || strings.TrimSpace(name) == "" {
		return Event{}, false
	}
	ev := Event{Name: strings.TrimSpace(name), PercentRunning: 100}
	raw, ok := jsonString(obj["counter-value"])
	if !ok {
		return Event{}, false
	}
	switch strings.TrimSpace(raw) {
	case "<not supported>":
		ev.Status = NotSupported
	case "<not counted>":
		ev.Status = NotCounted
	default:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return Event{}, false
		}
		ev.Status, ev.Value = Counted, x
	}
	ev.Unit, _ = jsonString(obj["unit"])
	if v, ok := jsonNumber(obj["variance"]); ok {
		ev.Variance = v
	}
	if v, ok := jsonNumber(obj["event-runtime"]); ok && v >= 0 {
		ev.RunTimeNS = uint64(v)
	}
	if v, ok := jsonNumber(obj["pcnt-running"]); ok {
		ev.PercentRunning = v
	}
	if v, ok := jsonNumber(obj["metric-value"]); ok {
		ev.MetricValue = v
	}
	ev.MetricUnit, _ = jsonString(obj["metric-unit"])
	ev.UserOnly = IsUserOnly(ev.Name)
	return ev, true
}

// jsonString returns a JSON string, or the text of a JSON number.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), true
	}
	return "", false
}

// jsonNumber reads a JSON number or a string that holds one.
func jsonNumber(raw json.RawMessage) (float64, bool) {
	s, ok := jsonString(raw)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	return v, err == nil
}

// modifierLetters are perf's event modifiers (u user, k kernel, h hypervisor, G guest, H host,
// I idle, p precise, P max precise, S sample read, D pinned, W weak group, e exclusive, b bpf).
const modifierLetters = "ukhGHIpPSDWeb"

// splitModifiers splits "cycles:u" into ("cycles", "u") and "cpu_core/cycles/u" into
// ("cpu_core/cycles/", "u"). A suffix that is not made of modifier letters (a tracepoint such as
// sched:sched_switch) is part of the name.
func splitModifiers(name string) (base, mods string) {
	if i := strings.LastIndexByte(name, '/'); i > 0 && strings.Contains(name[:i], "/") {
		suffix := strings.TrimPrefix(name[i+1:], ":")
		if isModifiers(suffix) {
			return name[:i+1], suffix
		}
		return name, ""
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if isModifiers(name[i+1:]) && name[i+1:] != "" {
			return name[:i], name[i+1:]
		}
	}
	return name, ""
}

func isModifiers(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(modifierLetters, r) {
			return false
		}
	}
	return true
}

// IsUserOnly reports whether the event name carries the u modifier without k.
func IsUserOnly(name string) bool {
	_, mods := splitModifiers(name)
	return strings.Contains(mods, "u") && !strings.Contains(mods, "k")
}

// BaseName is the event name without modifiers: "cycles:u" -> "cycles".
func BaseName(name string) string {
	base, _ := splitModifiers(name)
	return base
}

// Downgraded reports whether perf renamed the requested event to a user-only one: requested
// "cycles", printed "cycles:u" (or "cpu_core/cycles/u" on a hybrid CPU). A request that asked
// for :u itself is not a downgrade.
func Downgraded(requested, printed string) bool {
	return !IsUserOnly(requested) && IsUserOnly(printed) && hwBase(requested) == hwBase(printed)
}

// String is the compact form used in tables: "counted 1234 (87.5%)".
func (e Event) String() string {
	switch e.Status {
	case Counted:
		s := strconv.FormatFloat(e.Value, 'f', -1, 64)
		if e.PercentRunning < 100 {
			s += fmt.Sprintf(" (%.1f%%)", e.PercentRunning)
		}
		return s
	default:
		return "<" + strings.ReplaceAll(string(e.Status), "-", " ") + ">"
	}
}
