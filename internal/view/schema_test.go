package view

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/planfile"
	"github.com/perfprov/perfprov/internal/streamcheck"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/provision/resource"
)

// TestSchemaMatchesTypes: every definition of docs/json/perfprov.schema.json names exactly the
// JSON fields of the Go type printed as it, the omitempty ones included (a run's real output,
// which the lab tests validate, shows only the fields that run set). A field added to a type
// fails here until the schema documents it.
func TestSchemaMatchesTypes(t *testing.T) {
	ck, err := streamcheck.New()
	if err != nil {
		t.Fatal(err)
	}
	var summaryLine struct {
		Type string `json:"type"`
		engine.Summary
		Interrupted bool   `json:"interrupted,omitempty"`
		Stopped     string `json:"stopped,omitempty"`
	}
	benchmarkEvent := struct {
		Type string `json:"type"`
		*bench.HostReport
	}{HostReport: &bench.HostReport{}}
	for _, tc := range []struct {
		defs []string // their properties together
		v    any
	}{
		{[]string{"header"}, Header{}},
		{[]string{"planned_change", "host_start", "apply_start", "apply_complete", "apply_errored", "apply_skipped", "apply_progress", "warning", "host_summary"}, engine.Event{}},
		{[]string{"summary"}, summaryLine},
		{[]string{"summary"}, streamSummary{}}, // how report reads it
		{[]string{"change"}, resource.Change{}},
		{[]string{"benchmark"}, benchmarkEvent},
		{[]string{"bench_report"}, bench.HostReport{}},
		{[]string{"bench_event"}, bench.EventReport{}},
		{[]string{"accuracy"}, bench.Accuracy{}},
		{[]string{"check"}, bench.Check{}},
		{[]string{"facts_row"}, FactsRow{}},
		{[]string{"facts"}, facts.Facts{}},
		{[]string{"mount"}, facts.Mount{}},
		{[]string{"perf"}, facts.Perf{}},
		{[]string{"libcap"}, facts.Libcap{}},
		{[]string{"plan_offline_line"}, struct {
			Offline bool          `json:"offline"`
			Hosts   []offlineHost `json:"hosts"`
		}{}},
		{[]string{"offline_host"}, offlineHost{}},
		{[]string{"offline_resource"}, offlineResource{}},
		{[]string{"offline_benchmark"}, offlineBenchmark{}},
		{[]string{"validate_line"}, ValidateResult{}},
		{[]string{"diagnostic"}, hcl.JSONDiagnostic{}},
		{[]string{"range"}, hcl.JSONRange{}},
		{[]string{"position"}, hcl.JSONPos{}},
		{[]string{"snippet"}, hcl.JSONSnippet{}},
		{[]string{"plan_file_line"}, planfile.File{}},
		{[]string{"plan_file_inputs"}, planfile.Inputs{}},
		{[]string{"plan_file_host"}, planfile.Host{}},
		{[]string{"plan_file_resource"}, planfile.Resource{}},
	} {
		var want []string
		for _, d := range tc.defs {
			props, ok := ck.Props[d]
			if !ok {
				t.Fatalf("the schema has no definition %q", d)
			}
			for _, p := range props {
				if !slices.Contains(want, p) {
					want = append(want, p)
				}
			}
		}
		got := jsonFields(t, tc.v)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%v: %T prints the fields\n  %v\nthe schema documents\n  %v", tc.defs, tc.v, got, want)
		}
	}
}

// jsonFields are the keys v prints with every field set (so that omitempty ones show).
func jsonFields(t *testing.T, v any) []string {
	t.Helper()
	p := reflect.New(reflect.TypeOf(v))
	p.Elem().Set(reflect.ValueOf(v))
	fill(p.Elem(), 0)
	b, err := json.Marshal(p.Interface())
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range keys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fill sets every settable field to a non-zero value, depth-first (a few levels suffice).
func fill(v reflect.Value, depth int) {
	if depth > 4 || !v.CanSet() {
		return
	}
	if v.Type() == reflect.TypeOf(json.RawMessage{}) {
		v.SetBytes([]byte("1"))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(1)
	case reflect.Float64, reflect.Float32:
		v.SetFloat(1)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth+1)
		}
	}
}
