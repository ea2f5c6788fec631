package bench

import (
	"os"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/spec"
)

func TestExpect(t *testing.T) {
	tests := []struct {
		b       spec.Benchmark
		opts    Options
		wantErr string
	}{
		{spec.Benchmark{RunAs: "alice"}, Options{}, ""},
		{spec.Benchmark{RunAs: ""}, Options{}, "run_as is not set"},
		{spec.Benchmark{RunAs: "root"}, Options{}, "run_as is root"},
		{spec.Benchmark{RunAs: "al ice"}, Options{}, "not a valid user name"},
		{spec.Benchmark{RunAs: "alice"}, Options{NonMember: "alice"}, "is the member itself"},
		{spec.Benchmark{RunAs: "alice"}, Options{NonMember: "$(x)"}, "not a valid user name"},
		{spec.Benchmark{RunAs: "alice", Perf: "/opt/perf\n"}, Options{}, "newline"},
		{spec.Benchmark{RunAs: "alice", Tolerance: 1.5}, Options{}, "100% or more"},
		{spec.Benchmark{RunAs: "alice", Repeat: 101}, Options{}, "repeat 101 out of range"},
		{spec.Benchmark{RunAs: "alice", Events: []string{"cycles", "x y"}}, Options{}, `event "x y"`},
		{spec.Benchmark{RunAs: "alice", Events: []string{"cpu/event=0x3c,umask=0/", "cycles:u", "sched:sched_switch"}}, Options{}, ""},
	}
	for _, tt := range tests {
		x, err := Expect(&tt.b, tt.opts)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.b, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: err %v, want %q", tt.b, err, tt.wantErr)
		}
		_ = x
	}
	x, _ := Expect(&spec.Benchmark{RunAs: "alice"}, Options{})
	if len(x.Events) != 6 || x.Tolerance != 0.01 || x.Iterations != DefaultIterations || x.NonMember != "nobody" {
		t.Errorf("defaults: %+v", x)
	}
}

// The member script quotes every value it was given.
func TestMemberScriptQuotes(t *testing.T) {
	s := memberScript(scriptParams{Perf: "/opt/my perf/perf", Events: []string{"cycles", "cpu/event=0x3c,umask=0/"}, Repeat: 2, Iterations: 5})
	for _, want := range []string{"PERF='/opt/my perf/perf'\n", "EVENTS=cycles,cpu/event=0x3c,umask=0/\n", "REPEAT=2\n", "N=5\n", "N2=10\n", "NA=1\n", markBegin} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if !strings.Contains(nonMemberScript("/a'b"), `PERF='/a'\''b'`) {
		t.Error("non-member script does not quote perf")
	}
}

func BenchmarkParseCSV(b *testing.B) {
	data, err := os.ReadFile("testdata/handwritten/perf5.10-csv-hardware.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ParseCSV(data, ",")
	}
}

func BenchmarkJudge(b *testing.B) {
	member, _ := os.ReadFile("testdata/script/hw-pass.member.txt")
	x := Expectations{Events: DefaultEvents, Tolerance: DefaultTolerance, Iterations: DefaultIterations, NonMember: "nobody"}
	for b.Loop() {
		o := parseMemberOutput(string(member), "", 0)
		Judge(&o, x)
	}
}
