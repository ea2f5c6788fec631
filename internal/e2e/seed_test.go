package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/testbed"
)

const (
	perfBin    = "/opt/perf/bin/perf"
	capsh      = "/opt/libcap/sbin/capsh"
	newSetcap  = "/opt/libcap/sbin/setcap"
	dropIn     = "/etc/sysctl.d/99-zz-perf-security.conf"
	perfmonSet = "cap_perfmon,cap_sys_ptrace,cap_syslog=ep"
	// perfmonEff is CapEff with cap_perfmon (38), cap_syslog (34) and cap_sys_ptrace (19).
	perfmonEff = "0000004400080000"
)

// TestSeedWorkflow is the cover letter's workflow from scratch on a fresh host, with
// examples/cap-perfmon: libcap and perf built from their sources with patches, the new setcap,
// perf_users, paranoid 2. Then: a re-apply changes and rebuilds nothing; drift is shown and
// repaired; editing the libcap patch rebuilds libcap only; a patch that fails leaves the
// installed tools as they were.
func TestSeedWorkflow(t *testing.T) {
	lab := testbed.Require(t, 3)
	keepParanoid(t)
	src := fetchSources(t)
	host := lab.Hosts[0].Name
	work := t.TempDir()
	spec := filepath.Join(work, "cap-perfmon")
	copyDir(t, filepath.Join(repoRoot(t), "examples", "cap-perfmon"), spec)
	inv := inventory(t, lab, "", host)
	args := func(cmd ...string) []string {
		return append(cmd, "-inventory", inv, "-var", "libcap_tarball="+src.Libcap, "-var", "kernel_tarball="+src.Perf, spec)
	}

	r := perfprov(t, work, args("plan", "-detailed-exitcode")...)
	mustCode(t, r, 2, "plan on a fresh host")

	r = perfprov(t, work, args("apply", "-auto-approve")...)
	mustCode(t, r, 0, "first apply")
	t.Logf("first apply (libcap and perf built from source): %.1fs", r.duration.Seconds())
	checkSeedHost(t, lab, host)
	perfInode := hostExec(t, lab, host, "stat -c %i "+perfBin)
	libcapInode := hostExec(t, lab, host, "stat -c %i /opt/libcap/lib/libcap.so.2.66")

	t.Run("reapply changes nothing", func(t *testing.T) {
		r := perfprov(t, work, args("plan", "-detailed-exitcode")...)
		mustCode(t, r, 0, "plan after apply")
		r = perfprov(t, work, args("apply", "-auto-approve")...)
		mustCode(t, r, 0, "second apply")
		t.Logf("no-op re-apply: %.2fs", r.duration.Seconds())
		if strings.Contains(r.out, " changed (") || strings.Contains(r.out, " created (") {
			t.Errorf("a second apply changed something:\n%s", r.out)
		}
		if got := hostExec(t, lab, host, "stat -c %i "+perfBin); got != perfInode {
			t.Errorf("perf was reinstalled (inode %s -> %s)", perfInode, got)
		}
		if got := hostExec(t, lab, host, "stat -c %i /opt/libcap/lib/libcap.so.2.66"); got != libcapInode {
			t.Errorf("libcap was reinstalled (inode %s -> %s)", libcapInode, got)
		}
	})

	t.Run("drift is planned and repaired", func(t *testing.T) {
		hostExec(t, lab, host, "setcap -r "+perfBin+" && chgrp root "+perfBin+" && chmod 0755 "+perfBin+" && echo 3 > "+paranoidPath)
		r := perfprov(t, work, args("plan", "-detailed-exitcode")...)
		mustCode(t, r, 2, "plan after drift")
		for _, want := range []string{"~ module.perf_users.permissions.perf", "~ module.perf_users.capabilities.perf", "~ module.perf_users.sysctl.paranoid", "~ module.perf_users.command.verify[0]"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("plan after drift does not show %q:\n%s", want, r.out)
			}
		}
		if strings.Contains(r.out, "build.") && strings.Contains(r.out, "~ module.perf.build") {
			t.Errorf("drift of the installed binary plans a rebuild:\n%s", r.out)
		}
		r = perfprov(t, work, args("apply", "-auto-approve")...)
		mustCode(t, r, 0, "apply after drift")
		checkSeedHost(t, lab, host)
		mustCode(t, perfprov(t, work, args("plan", "-detailed-exitcode")...), 0, "plan after repair")
	})

	patch := filepath.Join(spec, "patches", "libcap", "0001-perfprov-version-suffix.patch")
	good, err := os.ReadFile(patch)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("editing the libcap patch rebuilds libcap only", func(t *testing.T) {
		edited := strings.Replace(string(good), "+LOCALVERSION=+perfprov\n", "+LOCALVERSION=+perfprov.e2e\n", 1)
		if edited == string(good) {
			t.Fatal("the libcap patch has no LOCALVERSION=+perfprov line to edit")
		}
		if err := os.WriteFile(patch, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		r := perfprov(t, work, args("plan", "-detailed-exitcode")...)
		mustCode(t, r, 2, "plan after editing the libcap patch")
		if !strings.Contains(r.out, "~ module.libcap.build.libcap") || strings.Contains(r.out, "~ module.perf.build.perf") {
			t.Errorf("the plan should rebuild libcap and not perf:\n%s", r.out)
		}
		r = perfprov(t, work, args("apply", "-auto-approve")...)
		mustCode(t, r, 0, "apply with the edited patch")
		if !strings.Contains(r.out, "module.libcap.build.libcap changed") || strings.Contains(r.out, "module.perf.build.perf[0] changed") {
			t.Errorf("apply should rebuild libcap and not perf:\n%s", r.out)
		}
		if got := hostExec(t, lab, host, capsh+" --version"); got != "capsh (libcap) 2.66+perfprov.e2e" {
			t.Errorf("capsh --version = %q after the edited patch", got)
		}
		if got := hostExec(t, lab, host, "stat -c %i "+perfBin); got != perfInode {
			t.Errorf("perf was reinstalled by a libcap patch (inode %s -> %s)", perfInode, got)
		}
		checkSeedHost(t, lab, host)
	})

	t.Run("a failing patch leaves the installed tools", func(t *testing.T) {
		before := hostExec(t, lab, host, capsh+" --version; sha256sum /opt/libcap/sbin/* /opt/libcap/lib/libcap.so.2.66")
		// The last file the patch changes does not exist: patch fails after the first files.
		broken := strings.Replace(string(good), "--- a/progs/setcap.c\n+++ b/progs/setcap.c\n", "--- a/progs/setcap-e2e.c\n+++ b/progs/setcap-e2e.c\n", 1)
		if broken == string(good) {
			t.Fatal("the libcap patch does not change progs/setcap.c")
		}
		if err := os.WriteFile(patch, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		r := perfprov(t, work, args("apply", "-auto-approve")...)
		mustCode(t, r, 1, "apply with a patch that does not apply")
		if !strings.Contains(r.out, "module.libcap.build.libcap failed") {
			t.Errorf("the recap does not name the failed libcap build:\n%s", r.out)
		}
		if after := hostExec(t, lab, host, capsh+" --version; sha256sum /opt/libcap/sbin/* /opt/libcap/lib/libcap.so.2.66"); after != before {
			t.Errorf("the installed libcap changed after a failed patch:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		// The tools still work and perf keeps its capabilities.
		hostExec(t, lab, host, newSetcap+" -v "+perfmonSet+" "+perfBin)

		if err := os.WriteFile(patch, good, 0o644); err != nil {
			t.Fatal(err)
		}
		r = perfprov(t, work, args("apply", "-auto-approve")...)
		mustCode(t, r, 0, "apply with the good patch again")
		if got := hostExec(t, lab, host, capsh+" --version"); got != "capsh (libcap) 2.66+perfprov" {
			t.Errorf("capsh --version = %q after restoring the patch", got)
		}
		checkSeedHost(t, lab, host)
	})
}

var capEffRE = regexp.MustCompile(`(?m)^CapEff:\s*([0-9a-f]{16})$`)

// checkSeedHost checks the seed's end state from inside the host, without perfprov.
func checkSeedHost(t *testing.T, lab *testbed.Lab, host string) {
	t.Helper()
	if got := hostExec(t, lab, host, capsh+" --version"); !strings.HasPrefix(got, "capsh (libcap) 2.66+perfprov") {
		t.Errorf("capsh --version = %q: not the patched libcap", got)
	}
	if got := hostExec(t, lab, host, "ldd "+newSetcap+" | awk '/libcap.so/ { print $3 }'"); got != "/opt/libcap/lib/libcap.so.2" {
		t.Errorf("the new setcap loads libcap from %q, not from its prefix", got)
	}
	if got := hostExec(t, lab, host, perfBin+" --version"); got != "perf version 6.1.192+perfprov" {
		t.Errorf("perf --version = %q: not the patched perf", got)
	}
	if got := hostExec(t, lab, host, "getent group perf_users | cut -d: -f4"); got != "alice" {
		t.Errorf("perf_users members = %q, want alice", got)
	}
	if got := hostExec(t, lab, host, "stat -c '%U:%G %a' "+perfBin); got != "root:perf_users 750" {
		t.Errorf("perf is %q, want root:perf_users 750", got)
	}
	if got := hostExec(t, lab, host, newSetcap+" -v "+perfmonSet+" "+perfBin); !strings.HasSuffix(got, ": OK") {
		t.Errorf("setcap -v: %q", got)
	}
	if got := hostExec(t, lab, host, newSetcap+" -v "+perfmonSet+" "+perfBin+" && getcap "+perfBin); !strings.Contains(got, "cap_perfmon") {
		t.Errorf("getcap: %q", got)
	}
	if got := hostExec(t, lab, host, "sysctl -n kernel.perf_event_paranoid"); got != "2" {
		t.Errorf("kernel.perf_event_paranoid = %q at runtime, want 2", got)
	}
	if got := hostExec(t, lab, host, "cat "+dropIn); !regexp.MustCompile(`(?m)^kernel\.perf_event_paranoid\s*=\s*2$`).MatchString(got) {
		t.Errorf("%s does not set kernel.perf_event_paranoid = 2:\n%s", dropIn, got)
	}
	// A member counts system-wide, privileged (no :u fallback).
	out, ok := hostTry(t, lab, host, "cd / && runuser -u alice -- "+perfBin+" stat -a -e task-clock -- sleep 0.2 2>&1")
	if !ok || !strings.Contains(out, "task-clock") || strings.Contains(out, "task-clock:u") || !strings.Contains(out, "system wide") {
		t.Errorf("member's perf stat -a: ok=%v\n%s", ok, out)
	}
	// The member's running perf, seen from outside: /proc/PID/status.
	status := hostExec(t, lab, host, `cd / && runuser -u alice -- `+perfBin+` stat -a -e task-clock -- sleep 3 >/dev/null 2>&1 &
for i in $(seq 50); do pid=$(pgrep -o -u alice -x perf) && break; sleep 0.1; done
[ -n "$pid" ] && cat /proc/$pid/status; wait`)
	if m := capEffRE.FindStringSubmatch(status); m == nil || m[1] != perfmonEff {
		t.Errorf("the member's running perf: CapEff %v, want %s\n%s", m, perfmonEff, status)
	}
	// A non-member is refused.
	out, ok = hostTry(t, lab, host, "cd / && runuser -u bob -- "+perfBin+" --version 2>&1")
	if ok || !strings.Contains(out, "Permission denied") {
		t.Errorf("non-member bob: ok=%v %q, want Permission denied", ok, out)
	}
}
