package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/spec"
)

// TestRunOnThisMachine runs the real on-host procedure on this machine, as root switching to
// system users with runuser: nobody is the member (its group nogroup owns the perf copy) and
// daemon the non-member, so that no account is created. Each case breaks the setup in one way.
// It needs root, perf, setcap and runuser; under CI their absence is a failure.
func TestRunOnThisMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root; skipped with -short")
	}
	missing := ""
	if os.Geteuid() != 0 {
		missing = "root"
	}
	tools := map[string]string{}
	for _, tool := range []string{"perf", "setcap", "runuser", "mount"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			missing += " " + tool
		}
		tools[tool] = p
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("missing: %s (see docs/benchmark.md for the packages)", missing)
		}
		t.Skipf("missing: %s", missing)
	}
	srcPerf, err := filepath.EvalSymlinks(tools["perf"])
	if err != nil {
		t.Fatal(err)
	}
	if head, _ := os.ReadFile(srcPerf); strings.HasPrefix(string(head), "#!") {
		t.Skipf("%s is a wrapper script", srcPerf)
	}
	_, pmuErr := os.Stat("/sys/bus/event_source/devices/cpu")
	hasPMU := pmuErr == nil

	sh := func(t *testing.T, args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	// install copies perf into a fresh directory as the perf_users module does:
	// group first, mode second, capabilities last.
	install := func(t *testing.T, dir, mode string, caps bool) string {
		t.Helper()
		p := filepath.Join(dir, "perf")
		sh(t, "cp", srcPerf, p)
		sh(t, "chgrp", "nogroup", p)
		sh(t, "chmod", mode, p)
		if caps {
			sh(t, "setcap", "cap_perfmon,cap_sys_ptrace,cap_syslog=ep", p)
		}
		return p
	}
	newDir := func(t *testing.T) string {
		t.Helper()
		// Not /var/tmp: a binary with capabilities under a world-writable directory is refused.
		d, err := os.MkdirTemp("/var/lib", "perfprov-bench-test-")
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o711)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	run := func(t *testing.T, member, perf string, require bool) *HostReport {
		t.Helper()
		nonMember := "daemon"
		if member == "daemon" {
			nonMember = "nobody"
		}
		b := &spec.Benchmark{Name: "local", RunAs: member, Perf: perf, RequireHardwareCounters: require, Repeat: 1}
		rep, err := Run(context.Background(), &localConn{host: "localhost"}, b, Options{NonMember: nonMember})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict == Fail && strings.Contains(rep.Reason, "nosuid") && !strings.Contains(perf, "nosuid") {
			t.Skipf("/var/lib is mounted nosuid here: %s", rep.Reason)
		}
		return rep
	}
	expectGood := PassSoftwareOnly
	if hasPMU {
		expectGood = Pass
	}

	t.Run("good", func(t *testing.T) {
		p := install(t, newDir(t), "0750", true)
		r := run(t, "nobody", p, false)
		if r.Verdict != expectGood || r.CapEff != "0000004400080000" || !r.SystemWideOK || r.NonMember != "refused" {
			t.Errorf("%s: %s (cap_eff %s, system-wide %v, non-member %s)", r.Verdict, r.Reason, r.CapEff, r.SystemWideOK, r.NonMember)
		}
	})
	t.Run("require hardware counters", func(t *testing.T) {
		p := install(t, newDir(t), "0750", true)
		r := run(t, "nobody", p, true)
		want := Fail
		if hasPMU {
			want = Pass
		}
		if r.Verdict != want || (want == Fail && !strings.Contains(r.Reason, "require_hardware_counters is set")) {
			t.Errorf("%s: %s", r.Verdict, r.Reason)
		}
	})
	t.Run("caps removed", func(t *testing.T) {
		p := install(t, newDir(t), "0750", false)
		r := run(t, "nobody", p, false)
		if r.Verdict != Fail || !strings.Contains(r.Reason, "has no file capabilities") {
			t.Errorf("%s: %s", r.Verdict, r.Reason)
		}
	})
	t.Run("not a member", func(t *testing.T) {
		p := install(t, newDir(t), "0750", true)
		r := run(t, "daemon", p, false)
		if r.Verdict != Fail || !strings.Contains(r.Reason, "user daemon is not a member of group nogroup") {
			t.Errorf("%s: %s", r.Verdict, r.Reason)
		}
	})
	t.Run("world-executable", func(t *testing.T) {
		p := install(t, newDir(t), "0755", false)
		r := run(t, "nobody", p, false)
		if r.Verdict != Fail || r.NonMember != "allowed" {
			t.Errorf("%s: %s (non-member %s)", r.Verdict, r.Reason, r.NonMember)
		}
	})
	t.Run("directory a user owns", func(t *testing.T) {
		d := filepath.Join(newDir(t), "daemon-owned")
		os.Mkdir(d, 0o755)
		sh(t, "chown", "daemon", d)
		p := install(t, d, "0750", true)
		r := run(t, "nobody", p, false)
		if r.Verdict != Fail || !strings.Contains(r.Reason, d+" (a directory above "+p+") is owned by daemon") {
			t.Errorf("%s: %s", r.Verdict, r.Reason)
		}
	})
	t.Run("nosuid", func(t *testing.T) {
		d := newDir(t)
		m := filepath.Join(d, "nosuid")
		os.Mkdir(m, 0o711)
		sh(t, "mount", "-t", "tmpfs", "-o", "nosuid,mode=711", "tmpfs", m)
		t.Cleanup(func() { exec.Command("umount", m).Run() })
		p := install(t, m, "0750", true)
		r := run(t, "nobody", p, false)
		if r.Verdict != Fail || !strings.Contains(r.Reason, "nosuid mount") {
			t.Errorf("%s: %s", r.Verdict, r.Reason)
		}
	})
	t.Run("root refused", func(t *testing.T) {
		b := &spec.Benchmark{Name: "local", RunAs: "root", Perf: srcPerf}
		if _, err := Run(context.Background(), &localConn{host: "localhost"}, b, Options{}); err == nil || !strings.Contains(err.Error(), "run_as is root") {
			t.Errorf("err = %v", err)
		}
	})
}
