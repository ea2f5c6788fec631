package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/streamcheck"
)

// checkStream validates a -json output against docs/json/perfprov.schema.json and returns how
// many lines followed the header.
func checkStream(t *testing.T, ck *streamcheck.Checker, what, out, stream string) int {
	t.Helper()
	got, n, err := ck.Stream([]byte(out))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != stream {
		t.Fatalf("%s: the header names stream %q, want %q", what, got, stream)
	}
	return n
}

// TestJSONOutputsMatchSchema: every -json output of every command, from runs on this machine
// (type local) and on fake hosts that answer with recorded outputs, is valid JSON Lines against
// the schema, header first. (internal/e2e does the same on the lab's real hosts.)
func TestJSONOutputsMatchSchema(t *testing.T) {
	ck, err := streamcheck.New()
	if err != nil {
		t.Fatal(err)
	}
	fleet := filepath.Join(repoRoot, "examples", "fleet")
	t.Run("spec commands", func(t *testing.T) {
		for _, tc := range []struct {
			args   []string
			code   int
			stream string
			lines  int
		}{
			{[]string{"validate", "-json", fleet}, 0, "validate", 1},
			{[]string{"validate", "-json", filepath.Join(repoRoot, "hcl", "testdata", "invalid", "cycle.hcl")}, 1, "validate", 1},
			{[]string{"plan", "-offline", "-json", fleet}, 0, "plan_offline", 1},
			{[]string{"version", "-json"}, 0, "version", 0},
		} {
			code, out, errs := applyCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("%v: exit %d, want %d\n%s", tc.args, code, tc.code, errs)
			}
			if n := checkStream(t, ck, strings.Join(tc.args, " "), out, tc.stream); n != tc.lines {
				t.Errorf("%v: %d lines after the header, want %d", tc.args, n, tc.lines)
			}
		}
	})
	t.Run("bench and report", func(t *testing.T) {
		sp, hist := benchDirs(t)
		env, stdout, stderr := benchEnv(withBench(map[string]string{"bm-1": "hw-pass", "vm-1": "good", "vm-2": "no-caps"}))
		if code := exitCode(runBench(context.Background(), env, []string{"-json", "-no-save", "-history", hist, sp}), env.stderr, "bench"); code != exitFailure {
			t.Fatalf("bench: exit %d, want 1 (vm-2 fails, down is unreachable)\n%s", code, stderr)
		}
		if n := checkStream(t, ck, "bench -json", stdout.String(), "bench"); n != 4 {
			t.Errorf("bench -json: %d reports, want 4", n)
		}
		f := filepath.Join(t.TempDir(), "bench.json")
		os.WriteFile(f, stdout.Bytes(), 0o644)
		env, merged, _ := benchEnv(nil)
		exitCode(runReport(context.Background(), env, []string{"-json", f}), env.stderr, "report")
		checkStream(t, ck, "report -json of bench -json", merged.String(), "bench")
	})
	t.Run("plan, apply, facts and report on this machine", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs the facts script on this machine")
		}
		dir := t.TempDir()
		sp := filepath.Join(t.TempDir(), "main.hcl")
		// here: a directory is created, a command fails and the file after it is skipped;
		// gone: unreachable (nothing listens on port 1).
		body := `connection {
  type = "local"
}
host "here" {}
host "gone" {
  address = "127.0.0.1"
  port    = 1
  connection {
    type = "ssh"
    user = "nobody"
  }
}

resource "directory" "d" {
  path = "` + dir + `/${host.name}"
  mode = "0750"
}
resource "command" "bad" {
  run = "echo cannot >&2; exit 3"
}
resource "file" "after" {
  path       = "${resource.directory.d.path}/f"
  content    = "x\n"
  depends_on = [resource.command.bad]
}
`
		if err := os.WriteFile(sp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(t.TempDir()) // the audit log and logs go to .perfprov/ in the working directory
		var outs []string
		for _, tc := range []struct {
			args   []string
			stream string
		}{
			{[]string{"facts", "-json", sp}, "facts"},
			{[]string{"plan", "-json", sp}, "plan"},
			{[]string{"apply", "-auto-approve", "-json", sp}, "apply"},
		} {
			code, out, errs := applyCLI(t, tc.args...)
			if code != exitFailure {
				t.Fatalf("%v: exit %d, want 1 (a host is unreachable)\n%s%s", tc.args, code, out, errs)
			}
			checkStream(t, ck, strings.Join(tc.args, " "), out, tc.stream)
			f := filepath.Join(t.TempDir(), tc.stream+".json")
			os.WriteFile(f, []byte(out), 0o644)
			outs = append(outs, f)
			if tc.stream == "apply" && !strings.Contains(out, `"type":"apply_errored"`) || !strings.Contains(out, `"host":"gone"`) {
				t.Errorf("%v: the stream lacks what the test is for (a failure, an unreachable host):\n%s", tc.args, out)
			}
		}
		for i, f := range outs {
			_, merged, errs := applyCLI(t, "report", "-json", f)
			checkStream(t, ck, "report -json "+filepath.Base(f), merged, []string{"facts", "plan", "apply"}[i])
			if errs != "" {
				t.Errorf("report -json %s: %s", f, errs)
			}
		}
		// A saved plan: show -json prints it, apply -json FILE applies it.
		os.RemoveAll(filepath.Join(dir, "here"))
		plan := filepath.Join(t.TempDir(), "p.plan")
		applyCLI(t, "plan", "-out", plan, sp)
		code, out, errs := applyCLI(t, "show", "-json", plan)
		if code != exitOK {
			t.Fatalf("show -json: exit %d\n%s", code, errs)
		}
		checkStream(t, ck, "show -json", out, "plan_file")
		code, out, errs = applyCLI(t, "apply", "-json", plan)
		if code != exitFailure || !strings.Contains(out, `"type":"apply_errored"`) {
			t.Fatalf("apply -json FILE: exit %d, want 1 (command.bad fails)\n%s%s", code, out, errs)
		}
		checkStream(t, ck, "apply -json FILE", out, "apply")
	})
}
