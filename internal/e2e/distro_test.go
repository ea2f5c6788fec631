package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packageSpecWith copies the package spec (testdata/package) to a directory of the test's own,
// with extra HCL in a file of its own, and returns that directory.
func packageSpecWith(t *testing.T, extra string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "package")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "extra.hcl"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestHostWithoutRunuser: on a host without runuser (busybox systems such as Alpine have none),
// the perf_users check runs the member's and the non-member's perf through su, and the
// benchmark runs as the member through su as well.
func TestHostWithoutRunuser(t *testing.T) {
	lab := lab3(t)
	keepParanoid(t)
	host := lab.Hosts[1].Name
	work := t.TempDir()
	inv := inventory(t, lab, "", host)
	hostExec(t, lab, host, "mv /usr/sbin/runuser /usr/sbin/runuser.perfprov-hidden")
	t.Cleanup(func() { hostExec(t, lab, host, "mv /usr/sbin/runuser.perfprov-hidden /usr/sbin/runuser") })
	if out, ok := hostTry(t, lab, host, "command -v runuser"); ok {
		t.Fatalf("runuser still found: %s", out)
	}
	spec := packageSpecWith(t, `
benchmark "counters" {
  run_as = "alice"
  perf   = module.perf.binary
}
`)
	// The check runs in apply (command.verify), and the benchmark after it: both through su.
	r := perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec)
	mustCode(t, r, 0, "apply on a host without runuser")
	if !strings.Contains(r.out, host+": pass-software-only") {
		t.Errorf("apply's benchmark as the member through su:\n%s", r.out)
	}
	out := hostExec(t, lab, host, "/var/lib/perfprov/perf_users/check-perf_users.sh")
	if !strings.HasPrefix(out, "ok: alice's perf stat -a ran with CapEff "+perfmonEff) || !strings.Contains(out, "nobody is refused") {
		t.Errorf("the check without runuser: %q", out)
	}
	// From outside perfprov, with su too: the member's running perf has the capabilities.
	status := hostExec(t, lab, host, `cd / && su -s /bin/sh alice -c '`+perfBin+` stat -a -e task-clock -- /bin/sh -c "grep ^CapEff: /proc/\$PPID/status"' 2>/dev/null`)
	if m := capEffRE.FindStringSubmatch(status); m == nil || m[1] != perfmonEff {
		t.Errorf("the member's perf under su: %q, want CapEff %s", status, perfmonEff)
	}

	r = perfprov(t, work, "bench", "-inventory", inv, spec)
	mustCode(t, r, 0, "bench on a host without runuser")
	if !strings.Contains(r.out, host+": pass-software-only") {
		t.Errorf("bench as the member through su:\n%s", r.out)
	}
}
