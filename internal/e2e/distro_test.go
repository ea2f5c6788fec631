package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/testbed"
)

// distroHostIndex is the lab host these tests change (runuser hidden, libcap2-bin removed): one
// of their own, after the hosts of the other tests (0-2) and of the fault matrix (3-5), so that
// what they leave behind meets no other test.
const distroHostIndex = 6

func distroHost(t *testing.T) (*testbed.Lab, string) {
	t.Helper()
	lab := testbed.Require(t, distroHostIndex+1)
	return lab, lab.Hosts[distroHostIndex].Name
}

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
	lab, host := distroHost(t)
	keepParanoid(t)
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

// TestSetcapInstalledWhenMissing: on a host without setcap (libcap2-bin removed), perf_users
// installs the distribution's package that carries it, with the host's own apt, before it sets
// the capabilities. The lab hosts cannot reach a package mirror, so the package comes from apt's
// own cache: the very .deb the lab's base was built from (its debootstrap tree keeps the
// archives), which apt takes because it matches the host's package lists; a proxy on a closed
// loopback port makes sure nothing is fetched.
func TestSetcapInstalledWhenMissing(t *testing.T) {
	lab, host := distroHost(t)
	keepParanoid(t)
	work := t.TempDir()
	inv := inventory(t, lab, "", host)

	cache := os.Getenv("PERFPROV_TESTBED_CACHE")
	if cache == "" {
		cache = testbed.CacheDir
	}
	debs, _ := filepath.Glob(filepath.Join(cache, "rootfs-*", "var", "cache", "apt", "archives", "libcap2-bin_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("the lab base's libcap2-bin archive: found %q under %s", debs, cache)
	}
	deb, err := os.ReadFile(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(debs[0])
	hostExec(t, lab, host, `set -e
echo 'Acquire::http::Proxy "http://127.0.0.1:9/"; Acquire::https::Proxy "http://127.0.0.1:9/";' > /etc/apt/apt.conf.d/99perfprov-test-offline
printf '%s' '`+base64.StdEncoding.EncodeToString(deb)+`' | base64 -d > /var/cache/apt/archives/`+name+`
dpkg -r --force-depends libcap2-bin >/dev/null 2>&1
rm -f /opt/perf/bin/perf`)
	t.Cleanup(func() {
		hostExec(t, lab, host, "rm -f /etc/apt/apt.conf.d/99perfprov-test-offline /var/cache/apt/archives/"+name+"; dpkg -s libcap2-bin >/dev/null 2>&1 || dpkg -i /var/cache/apt/archives/"+name+" >/dev/null 2>&1; true")
	})
	if out, ok := hostTry(t, lab, host, "command -v setcap"); ok {
		t.Fatalf("setcap still there: %s", out)
	}

	spec := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "package")
	r := perfprov(t, work, "plan", "-inventory", inv, spec)
	if !strings.Contains(r.out, "+ module.perf_users.package.setcap[0]\n      installed: \"libcap2-bin\"") {
		t.Fatalf("the plan does not install libcap2-bin:\n%s", r.out)
	}
	r = perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec)
	mustCode(t, r, 0, "apply on a host without setcap")
	if i, j := strings.Index(r.out, "module.perf_users.package.setcap[0] created"), strings.Index(r.out, "module.perf_users.capabilities.perf[0] created"); i < 0 || j < i {
		t.Errorf("libcap2-bin is not installed before the capabilities are set:\n%s", r.out)
	}
	if got := hostExec(t, lab, host, "dpkg-query -W -f='${db:Status-Abbrev}' libcap2-bin; command -v setcap"); got != "ii /usr/sbin/setcap" {
		t.Errorf("after apply: %q, want libcap2-bin installed and setcap found", got)
	}
	checkMemberCaps(t, lab, host, perfBin)
	// setcap is there now: the package is no longer part of the plan, and nothing changes.
	r = perfprov(t, work, "plan", "-detailed-exitcode", "-inventory", inv, spec)
	mustCode(t, r, 0, "plan after the install")
	if strings.Contains(r.out, "package.setcap") {
		t.Errorf("the setcap package is still planned:\n%s", r.out)
	}
}
