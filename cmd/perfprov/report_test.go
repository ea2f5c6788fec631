package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/spec"
)

// TestShardFlagUsage: a bad -shard is a usage error (exit 2) naming the flag, on every command
// that takes it.
func TestShardFlagUsage(t *testing.T) {
	for _, cmd := range []string{"plan", "apply", "facts", "bench"} {
		for _, tc := range []struct{ value, want string }{
			{"4/4", "below N (0 to 3)"},
			{"0/0", "N must be at least 1"},
			{"-1/2", "below N"},
			{"a/2", "whole numbers"},
			{"2", "not K/N"},
		} {
			code, _, stderr := applyCLI(t, cmd, "-shard", tc.value, "-auto-approve", ".")
			if cmd != "apply" {
				code, _, stderr = applyCLI(t, cmd, "-shard", tc.value, ".")
			}
			if code != exitUsage || !strings.Contains(stderr, "flag -shard") || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s -shard %s: exit %d, stderr %q", cmd, tc.value, code, stderr)
			}
		}
	}
}

// TestShardSelectsNone: a shard with no host of the spec says so and exits 0, with the empty
// -json output of its command (which report reads as a shard of no host).
func TestShardSelectsNone(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("connection {\n  type = \"local\"\n}\nhost \"here\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := fmt.Sprintf("%d/2", 1-spec.ShardOf("here", 2))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"facts", "-json"}, `"stream":"facts"}` + "\n[]\n"},
		{[]string{"facts"}, ""},
		{[]string{"plan", "-json"}, `"stream":"plan"}` + "\n" + `{"type":"summary","hosts":0,`},
		{[]string{"plan", "-offline", "-json"}, `"stream":"plan_offline"}` + "\n" + `{"offline":true,"hosts":[]}`},
		{[]string{"apply", "-auto-approve", "-json"}, `"stream":"apply"}` + "\n" + `{"type":"summary","hosts":0,`},
		{[]string{"bench", "-json"}, `"stream":"bench"}` + "\n"},
		{[]string{"facts", "-limit", "here"}, ""},
	} {
		args := append(append(tc.args, "-shard", empty), dir)
		code, stdout, stderr := applyCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, tc.want) || (tc.want == "" && stdout != "") ||
			!strings.Contains(stderr, "shard "+empty+" holds none of the") {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q", args, code, stdout, stderr)
		}
	}
}

// TestReportBenchShards: bench run as two shards and merged by report prints the table one run
// over every host prints; the shards cover each host once; two outputs holding one host are an
// overlap, unless they are the same output.
func TestReportBenchShards(t *testing.T) {
	fixtures := map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"}
	sp, hist := benchDirs(t)
	out := t.TempDir()
	bench1 := func(args ...string) string {
		t.Helper()
		env, stdout, stderr := benchEnv(withBench(fixtures))
		code := exitCode(runBench(context.Background(), env, append(append([]string{"-no-save", "-history", hist}, args...), sp)), env.stderr, "bench")
		if code != exitOK && code != exitFailure {
			t.Fatalf("bench %v: exit %d\n%s", args, code, stderr)
		}
		return stdout.String()
	}
	whole := bench1()
	var files []string
	seen := map[string]int{}
	for k := range 3 {
		f := filepath.Join(out, fmt.Sprintf("shard-%d.json", k))
		if err := os.WriteFile(f, []byte(bench1("-json", "-shard", fmt.Sprintf("%d/3", k))), 0o644); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(f)
		for _, l := range jsonBody(t, string(data), "bench", view.StreamBench) {
			if l != "" {
				seen[strings.Split(strings.Split(l, `"host":"`)[1], `"`)[0]]++
			}
		}
		files = append(files, f)
	}
	for _, h := range []string{"bm-1", "vm-1", "vm-2", "down"} {
		if seen[h] != 1 {
			t.Errorf("%s is in %d shards, want 1 (%v)", h, seen[h], seen)
		}
	}
	env, stdout, stderr := benchEnv(nil)
	code := exitCode(runReport(context.Background(), env, append([]string{"-spec", sp}, files...)), env.stderr, "report")
	if code != exitFailure || stdout.String() != whole {
		t.Errorf("report: exit %d (want 1: vm-2 fails)\n%s\nwant the one run's\n%s\nstderr %s", code, stdout, whole, stderr)
	}
	// The same output twice is one run, read once; a second, different run of a host overlaps.
	env, stdout, _ = benchEnv(nil)
	if code := exitCode(runReport(context.Background(), env, append([]string{"-spec", sp, files[0]}, files...)), env.stderr, "report"); code != exitFailure || stdout.String() != whole {
		t.Errorf("the same file twice: exit %d\n%s", code, stdout)
	}
	again := filepath.Join(out, "again.json")
	os.WriteFile(again, []byte(bench1("-json")), 0o644)
	env, _, stderr = benchEnv(nil)
	code = exitCode(runReport(context.Background(), env, []string{files[0], again}), env.stderr, "report")
	if code != exitFailure || !strings.Contains(stderr.String(), "is in both "+files[0]+" and "+again+": the shards overlap") {
		t.Errorf("overlap: exit %d, stderr %s", code, stderr)
	}
}

// TestBenchCompareWithShards: -compare-with merges the histories of several shards into the
// earlier fleet; hosts this run left out (-shard) are not "no longer benchmarked".
func TestBenchCompareWithShards(t *testing.T) {
	sp, _ := benchDirs(t)
	root := t.TempDir()
	run := func(fixtures map[string]string, at time.Time, args ...string) string {
		t.Helper()
		fk := withBench(fixtures)
		fk.now = func() time.Time { return at }
		env, stdout, stderr := benchEnv(fk)
		code := exitCode(runBench(context.Background(), env, append(args, sp)), env.stderr, "bench")
		if code != exitOK && code != exitFailure {
			t.Fatalf("bench %v: exit %d\n%s", args, code, stderr)
		}
		return stdout.String()
	}
	good := map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "good", "down": "good"}
	day1 := time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)
	var hists []string
	for k := range 3 {
		h := filepath.Join(root, fmt.Sprintf("shard-%d", k))
		run(good, day1, "-history", h, "-shard", fmt.Sprintf("%d/3", k))
		hists = append(hists, h)
	}
	broken := map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps", "down": "good"}
	args := []string{"-no-save", "-history", filepath.Join(root, "none")}
	for _, h := range hists {
		args = append(args, "-compare-with", h)
	}
	out := run(broken, day1.Add(24*time.Hour), args...)
	if !strings.Contains(out, "Changes since 2026-11-26T18:00:00Z") || !strings.Contains(out, "vm-2/counters: verdict pass-software-only -> fail") ||
		strings.Contains(out, "no longer benchmarked") || strings.Contains(out, "new host") {
		t.Errorf("whole fleet against the merged shards:\n%s", out)
	}
	// One shard against the merged history: only its own hosts are compared.
	k := (spec.ShardOf("vm-2", 3) + 1) % 3
	out = run(broken, day1.Add(24*time.Hour), append(args, "-shard", fmt.Sprintf("%d/3", k))...)
	if strings.Contains(out, "vm-2") || strings.Contains(out, "no longer benchmarked") || !strings.Contains(out, "  none") {
		t.Errorf("the other shard:\n%s", out)
	}
	// A history is a valid report input: its newest run.
	env, stdout, _ := benchEnv(nil)
	if code := exitCode(runReport(context.Background(), env, hists), env.stderr, "report"); code != exitOK || !strings.Contains(stdout.String(), "4 hosts: 1 pass, 3 pass-software-only, 0 fail") {
		t.Errorf("report of histories: exit %d\n%s", code, stdout)
	}
	if files, _ := bench.History(hists[0]); len(files) != 1 {
		t.Errorf("history %v", files)
	}
}

// TestReportApplyLocal: apply run as two shards on this machine (two spec hosts of type local,
// one at a time: they share the host lock), merged by report, prints the recap one run prints:
// the changed, failed and skipped resources included.
func TestReportApplyLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the facts script on this machine")
	}
	specFor := func(dir string) string {
		sp := t.TempDir()
		body := `connection {
  type = "local"
}
host "web1" {}
host "web2" {}

resource "directory" "d" {
  path = "` + dir + `/${host.name}"
  mode = "0750"
}
resource "command" "bad" {
  run = "exit 3"
}
resource "file" "after" {
  path       = "${resource.directory.d.path}/f"
  content    = "x\n"
  depends_on = [resource.command.bad]
}
`
		if err := os.WriteFile(filepath.Join(sp, "main.hcl"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return sp
	}
	audit := filepath.Join(t.TempDir(), "audit.log")
	one := specFor(t.TempDir())
	code, whole, stderr := applyCLI(t, "apply", "-auto-approve", "-parallel", "1", "-audit-log", audit, one)
	if code != exitFailure || !strings.Contains(whole, "Recap:") {
		t.Fatalf("one run: exit %d\n%s\n%s", code, whole, stderr)
	}
	recap := whole[strings.Index(whole, "Recap:"):]

	sharded := specFor(t.TempDir())
	// plan and facts, before the apply: the shards' -json merged is the one run's output.
	for _, cmd := range [][]string{{"plan"}, {"facts"}} {
		_, want, _ := applyCLI(t, append(cmd, sharded)...)
		var outs []string
		for k := range 2 {
			_, out, _ := applyCLI(t, append(cmd, "-json", "-shard", fmt.Sprintf("%d/2", k), sharded)...)
			f := filepath.Join(t.TempDir(), cmd[0]+".json")
			os.WriteFile(f, []byte(out), 0o644)
			outs = append(outs, f)
		}
		if _, got, stderr := applyCLI(t, append([]string{"report", "-spec", sharded}, outs...)...); want == "" || got != want || stderr != "" {
			t.Errorf("report of %s:\n%s\nwant\n%s\nstderr %s", cmd[0], got, want, stderr)
		}
	}
	var files []string
	for k := range 2 {
		code, out, stderr := applyCLI(t, "apply", "-auto-approve", "-json", "-parallel", "1", "-audit-log", audit, "-shard", fmt.Sprintf("%d/2", k), sharded)
		if code != exitFailure {
			t.Fatalf("shard %d: exit %d\n%s\n%s", k, code, out, stderr)
		}
		f := filepath.Join(t.TempDir(), "apply.json")
		os.WriteFile(f, []byte(out), 0o644)
		files = append(files, f)
	}
	code, got, stderr := applyCLI(t, append([]string{"report", "-spec", sharded}, files...)...)
	if code != exitFailure || got != recap || stderr != "" {
		t.Errorf("report: exit %d\n%s\nwant the one run's\n%s\nstderr %s", code, got, recap, stderr)
	}
	if !strings.Contains(got, "failed  command.bad") || !strings.Contains(got, "skipped file.after") {
		t.Errorf("the recap lacks the failed and skipped resources:\n%s", got)
	}
	// -json: the merged stream reads back as the same fleet.
	_, merged, _ := applyCLI(t, append([]string{"report", "-json"}, files...)...)
	f := filepath.Join(t.TempDir(), "merged.json")
	os.WriteFile(f, []byte(merged), 0o644)
	if _, again, _ := applyCLI(t, "report", "-spec", sharded, f); again != recap {
		t.Errorf("report of the merged stream:\n%s", again)
	}
}
