package bench

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got (marshalled as JSON) with testdata file path, or rewrites it with -update.
func golden(t *testing.T, path string, got any) {
	t.Helper()
	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(data) {
		t.Errorf("%s differs from the output (run go test -update after checking):\n%s", path, data)
	}
}

// TestParseGolden parses every fixture and compares with its golden file.
func TestParseGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/perf*/*.txt")
	more, _ := filepath.Glob("testdata/handwritten/*.txt")
	files = append(files, more...)
	if len(files) < 20 {
		t.Fatalf("only %d fixtures found", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(f, ".txt")+".golden.json", Parse(data))
		})
	}
}

// find returns the event named name in out or fails.
func find(t *testing.T, out Output, name string) Event {
	t.Helper()
	for _, e := range out.Events {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no event %q in %+v", name, out.Events)
	return Event{}
}

func TestParseFixtures(t *testing.T) {
	type want struct {
		name     string
		status   Status
		value    float64
		pcnt     float64
		userOnly bool
		variance float64
	}
	tests := []struct {
		file     string
		events   int
		want     []want
		errorHas string // text of Output.Error()
	}{
		{"perf6.1/csv-software.txt", 5, []want{
			{name: "task-clock", status: Counted, value: 4.06, pcnt: 100},
			{name: "page-faults", status: Counted, value: 73, pcnt: 100},
		}, ""},
		{"perf6.1/json-software.txt", 5, []want{
			{name: "task-clock", status: Counted, value: 3.145291, pcnt: 100},
			{name: "cpu-migrations", status: Counted, value: 0, pcnt: 100},
		}, ""},
		{"perf6.1/csv-default-events.txt", 6, []want{
			{name: "cycles", status: NotSupported, pcnt: 100},
			{name: "branch-misses", status: NotSupported, pcnt: 100},
			{name: "context-switches", status: Counted, value: 2, pcnt: 100},
		}, ""},
		{"perf6.1/json-default-events.txt", 6, []want{
			{name: "instructions", status: NotSupported, pcnt: 100},
			{name: "context-switches", status: Counted, value: 1, pcnt: 100},
		}, ""},
		{"perf6.1/csv-repeat.txt", 3, []want{
			{name: "task-clock", status: Counted, value: 3.27, pcnt: 100, variance: 0.41},
			{name: "cycles", status: NotSupported, pcnt: 100},
		}, ""},
		{"perf6.1/json-repeat.txt", 3, []want{
			{name: "task-clock", status: Counted, value: 2.920090, pcnt: 100, variance: 2.22},
		}, ""},
		{"perf6.1/csv-system-wide.txt", 3, []want{{name: "context-switches", status: Counted, value: 973, pcnt: 100}}, ""},
		{"perf6.1/json-system-wide.txt", 3, []want{{name: "cycles", status: NotSupported, pcnt: 100}}, ""},
		{"perf6.1/csv-unknown-event.txt", 0, nil, "event syntax error"},
		{"perf6.1/json-unknown-event.txt", 0, nil, "event syntax error"},
		{"perf6.1/csv-user-fallback.txt", 6, []want{
			{name: "cycles:u", status: NotSupported, pcnt: 100, userOnly: true},
			{name: "task-clock:u", status: Counted, value: 3.30, pcnt: 100, userOnly: true},
		}, ""},
		{"perf6.1/json-user-fallback.txt", 6, []want{
			{name: "context-switches:u", status: Counted, value: 0, pcnt: 100, userOnly: true},
		}, ""},
		{"perf6.1/csv-system-wide-refused.txt", 0, nil, "Error: Access to performance monitoring and observability operations is limited."},
		{"perf6.1/json-system-wide-refused.txt", 0, nil, "Error: Access to performance monitoring"},
		{"handwritten/perf4.9-csv-short.txt", 3, []want{
			{name: "task-clock", status: Counted, value: 3.386119, pcnt: 100},
			{name: "page-faults", status: Counted, value: 70, pcnt: 100},
		}, ""},
		{"handwritten/perf5.10-csv-hardware.txt", 7, []want{
			{name: "cycles", status: Counted, value: 3412345678, pcnt: 79.85},
			{name: "instructions", status: Counted, value: 10000412345, pcnt: 79.85},
			{name: "stalled-cycles-frontend", status: NotCounted, pcnt: 0},
		}, ""},
		{"handwritten/perf5.10-csv-output-file.txt", 4, []want{
			{name: "instructions:u", status: Counted, value: 2000003456, pcnt: 100, userOnly: true},
		}, ""},
		{"handwritten/perf6.1-csv-mixed-stderr.txt", 2, []want{
			{name: "task-clock:u", status: Counted, value: 4.12, pcnt: 100, userOnly: true},
		}, "Warning:"},
		{"handwritten/perf6.8-csv-hybrid.txt", 6, []want{
			{name: "cpu_core/cycles/", status: Counted, value: 201234567, pcnt: 100},
			{name: "cpu_atom/cycles/", status: NotCounted, pcnt: 0},
			{name: "cpu_core/instructions/u", status: Counted, value: 600045678, pcnt: 100, userOnly: true},
			{name: "cpu/event=0x3c,umask=0x0/", status: Counted, value: 1234, pcnt: 100},
		}, ""},
		{"handwritten/perf6.8-json-strings.txt", 7, []want{
			{name: "cycles", status: Counted, value: 345123456, pcnt: 100},
			{name: "branches", status: Counted, value: 200012345, pcnt: 49.99},
			{name: "branch-misses", status: NotCounted, pcnt: 0},
			{name: "msr/smi/", status: NotSupported, pcnt: 100},
		}, ""},
		{"handwritten/perf6.8-json-hybrid.txt", 5, []want{
			{name: "cpu_atom/cycles/", status: NotCounted, pcnt: 0},
			{name: "cpu_core/instructions/u", status: Counted, value: 600045678, pcnt: 100, userOnly: true},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			out := Parse(data)
			if len(out.Events) != tt.events {
				t.Errorf("%d events, want %d: %+v", len(out.Events), tt.events, out.Events)
			}
			for _, w := range tt.want {
				e := find(t, out, w.name)
				if e.Status != w.status || e.Value != w.value || e.PercentRunning != w.pcnt || e.UserOnly != w.userOnly || e.Variance != w.variance {
					t.Errorf("%s = %+v, want %+v", w.name, e, w)
				}
			}
			if tt.errorHas != "" && !strings.Contains(out.Error(), tt.errorHas) {
				t.Errorf("Error() = %q, want it to contain %q", out.Error(), tt.errorHas)
			}
			if tt.errorHas == "" && tt.events > 0 && strings.HasPrefix(tt.file, "perf6.1/") && out.Error() != "" {
				t.Errorf("unexpected messages: %q", out.Messages)
			}
		})
	}
}

// The format-specific parsers agree with Parse on their own format.
func TestParseCSVAndJSON(t *testing.T) {
	csv, _ := os.ReadFile("testdata/perf6.1/csv-default-events.txt")
	js, _ := os.ReadFile("testdata/perf6.1/json-default-events.txt")
	a, b := ParseCSV(csv, ","), ParseJSON(js)
	if len(a.Events) != 6 || len(b.Events) != 6 {
		t.Fatalf("events: csv %d, json %d", len(a.Events), len(b.Events))
	}
	for i := range a.Events {
		if a.Events[i].Name != b.Events[i].Name || a.Events[i].Status != b.Events[i].Status {
			t.Errorf("event %d: csv %+v, json %+v", i, a.Events[i], b.Events[i])
		}
	}
	// Another separator.
	out := ParseCSV([]byte("12;;cycles;1000;50.00;;\n"), ";")
	if len(out.Events) != 1 || out.Events[0].Value != 12 || out.Events[0].PercentRunning != 50 {
		t.Errorf("semicolon: %+v", out)
	}
	// JSON with numbers instead of strings (perf 6.0's metric-value) and garbage lines.
	out = ParseJSON([]byte(`{"counter-value" : 5, "event" : "cycles", "pcnt-running" : "75.5"}` + "\n{not json\n"))
	if len(out.Events) != 1 || out.Events[0].Value != 5 || out.Events[0].PercentRunning != 75.5 || len(out.Messages) != 1 {
		t.Errorf("numbers: %+v", out)
	}
}

func TestModifiers(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		userOnly bool
	}{
		{"cycles", "cycles", false},
		{"cycles:u", "cycles", true},
		{"cycles:uk", "cycles", false},
		{"cycles:upp", "cycles", true},
		{"cpu_core/cycles/", "cpu_core/cycles/", false},
		{"cpu_core/cycles/u", "cpu_core/cycles/", true},
		{"cpu/event=0x3c,umask=0x0/", "cpu/event=0x3c,umask=0x0/", false},
		{"sched:sched_switch", "sched:sched_switch", false},
		{"sched:sched_switch:u", "sched:sched_switch", true},
		{"task-clock", "task-clock", false},
	}
	for _, tt := range tests {
		if got := BaseName(tt.name); got != tt.base {
			t.Errorf("BaseName(%q) = %q, want %q", tt.name, got, tt.base)
		}
		if got := IsUserOnly(tt.name); got != tt.userOnly {
			t.Errorf("IsUserOnly(%q) = %v", tt.name, got)
		}
	}
	if !Downgraded("cycles", "cycles:u") || Downgraded("cycles:u", "cycles:u") || Downgraded("cycles", "cycles") {
		t.Error("Downgraded")
	}
	if !Downgraded("cpu_core/cycles/", "cpu_core/cycles/u") {
		t.Error("Downgraded hybrid")
	}
	if hwBase("cpu_core/instructions/u") != "instructions" || hwBase("instructions:u") != "instructions" || hwBase("cpu/event=0x3c/") != "cpu/event=0x3c/" {
		t.Error("hwBase")
	}
}

// A parser must never panic on bad input.
func FuzzParse(f *testing.F) {
	f.Add([]byte("1,,cycles,2,100.00,,\n"))
	f.Add([]byte(`{"counter-value" : "1", "event" : "x"}`))
	f.Add([]byte(",,,,\n<not counted>,"))
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(data)
		ParseCSV(data, ",")
		ParseJSON(data)
	})
}
