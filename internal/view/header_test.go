package view

import (
	"bytes"
	"strings"
	"testing"
)

// TestReadStreamHeader: report and bench -compare-with read the header line that starts every
// -json stream: it names the kind, a newer major format is refused, and output written before
// format 1.0 (no header) still reads.
func TestReadStreamHeader(t *testing.T) {
	hdr := func(stream string) string {
		var b bytes.Buffer
		WriteHeader(&b, NewHeader("v1.0.0", "", stream, stream))
		return b.String()
	}
	const (
		planned = `{"type":"planned_change","host":"a","address":"file.f","action":"create"}` + "\n"
		started = `{"type":"host_start","host":"a"}` + "\n"
		summary = `{"type":"summary","hosts":1,"add":1,"change":0,"remove":0,"unchanged":0,"errors":0,"ok":0,"changed":0,"failed":0,"unreachable":0,"not_started":0}` + "\n"
		report  = `{"host":"a","time":"2026-01-01T00:00:00Z","verdict":"pass","reason":"ok","pmu":[],"cap_eff":"","cap_eff_expected":"","caps":[],"system_wide_ok":true,"events":[],"accuracy":null,"checks":[]}` + "\n"
	)
	for _, tc := range []struct {
		name, data string
		kind       string // want, when err is ""
		hosts      int
		err        string
	}{
		{"apply", hdr(StreamApply) + started + planned + summary, StreamApply, 1, ""},
		{"an apply of only plan events", hdr(StreamApply) + planned + summary, StreamApply, 1, ""},
		{"plan", hdr(StreamPlan) + planned + summary, StreamPlan, 1, ""},
		{"plan without a header (before 1.0)", planned + summary, StreamPlan, 1, ""},
		{"facts", hdr(StreamFacts) + `[{"host":"a","ok":false,"error":"x","facts":null}]` + "\n", StreamFacts, 1, ""},
		{"facts without a header", "[\n  {\"host\": \"a\", \"ok\": true}\n]\n", StreamFacts, 1, ""},
		{"bench", hdr(StreamBench) + report, StreamBench, 1, ""},
		{"a shard of no host", hdr(StreamBench), "", 0, ""},
		{"a newer major format", strings.Replace(hdr(StreamPlan), `"1.0"`, `"2.0"`, 1) + planned, "", 0, `format_version "2.0" (perfprov v1.0.0): this perfprov reads 1.x`},
		{"a later minor format", strings.Replace(hdr(StreamPlan), `"1.0"`, `"1.7"`, 1) + planned + summary, StreamPlan, 1, ""},
		{"validate -json", hdr(StreamValidate) + `{"valid":true}` + "\n", "", 0, "the output of validate -json (validate): report reads apply, plan, facts and bench outputs"},
		{"a header not first", planned + hdr(StreamPlan), "", 0, "value 2: a header line after the first line"},
		{"a header that lies", hdr(StreamBench) + started + planned, "", 0, "its header names bench -json, but it holds the lines of apply -json"},
		{"facts after lines", hdr(StreamFacts) + planned + "[]\n", "", 0, "an array of facts among lines of another output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadStream("f.json", []byte(tc.data))
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case s.Kind != tc.kind || len(s.Hosts()) != tc.hosts:
				t.Fatalf("kind %q with %d hosts, want %q with %d", s.Kind, len(s.Hosts()), tc.kind, tc.hosts)
			}
		})
	}
}

// TestFleetJSONHeader: report -json starts with a header naming the merged kind, or the kind the
// inputs' headers name when they hold no host.
func TestFleetJSONHeader(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{`{"format_version":"1.0","type":"version","perfprov":"v1","command":"facts","stream":"facts"}` + "\n[]\n", `"stream":"facts"}` + "\n[]\n"},
		{`{"format_version":"1.0","type":"version","perfprov":"v1","command":"bench","stream":"bench"}` + "\n", `"stream":"bench"}` + "\n"},
		{"", `"command":"report"}` + "\n"},
	} {
		s, err := ReadStream("f", []byte(tc.data))
		if err != nil {
			t.Fatal(err)
		}
		f, err := MergeStreams([]*Stream{s}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteFleetJSON(&b, f, NewHeader("v2", "", "report", "")); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), `{"format_version":"1.0","type":"version","perfprov":"v2","command":"report"`) || !strings.HasSuffix(b.String(), tc.want) {
			t.Errorf("report -json of %q:\n%s", tc.data, b.String())
		}
	}
}
