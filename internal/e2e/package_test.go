package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNosuidPrefixRefused: a prefix on a nosuid mount (setcap would succeed there, but exec
// ignores file capabilities) is refused with a message that proposes another prefix, before
// anything is installed there.
func TestNosuidPrefixRefused(t *testing.T) {
	lab := lab3(t)
	keepParanoid(t)
	host := lab.Hosts[1].Name
	work := t.TempDir()
	spec := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "package")
	inv := inventory(t, lab, "", host)

	if err := lab.MountNosuid(ctxT(t), host, "/opt/perf"); err != nil {
		t.Fatal(err)
	}
	r := perfprov(t, work, "plan", "-detailed-exitcode", "-inventory", inv, spec)
	mustCode(t, r, 2, "plan with a nosuid prefix")
	if !strings.Contains(r.out, "~ module.perf.command.check_prefix[0]") {
		t.Errorf("the plan does not show the prefix check failing:\n%s", r.out)
	}
	r = perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec)
	mustCode(t, r, 1, "apply with a nosuid prefix")
	for _, want := range []string{"module.perf.command.check_prefix[0] failed", "/opt/perf is on a nosuid mount", `prefix = "/usr/local/perf"`} {
		if !strings.Contains(r.out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, r.out)
		}
	}
	if out, ok := hostTry(t, lab, host, "ls -A /opt/perf"); !ok || out != "" {
		t.Errorf("something was installed under the refused prefix: %q", out)
	}

	// Where file capabilities cannot work, the perf shell can: sudo perf-shell gives a member a
	// login shell with the capabilities in its ambient set.
	r = perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, "-var", "file_caps=false", spec)
	mustCode(t, r, 0, "apply with the perf shell on the nosuid prefix")
	if got := hostExec(t, lab, host, "getcap /opt/perf/bin/perf; stat -c '%U:%G %a' /opt/perf/bin/perf"); got != "root:perf_users 750" {
		t.Errorf("perf on the nosuid prefix: %q, want no capabilities, root:perf_users 750", got)
	}
	out := hostExec(t, lab, host, `cd / && echo 'grep ^CapEff: /proc/self/status; /opt/perf/bin/perf stat -a -e task-clock true 2>&1' | runuser -u alice -- sudo -n /usr/local/sbin/perf-shell`)
	if !strings.Contains(out, "CapEff:\t"+perfmonEff) || !strings.Contains(out, "system wide") {
		t.Errorf("the member's perf shell:\n%s", out)
	}
	hostExec(t, lab, host, "rm -rf /opt/perf/* /usr/local/sbin/perf-shell /etc/sudoers.d/perfprov-perf-shell-perf_users")

	// The proposed prefix works.
	r = perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, "-var", "prefix=/usr/local/perf", spec)
	mustCode(t, r, 0, "apply with the proposed prefix")
	checkMemberCaps(t, lab, host, "/usr/local/perf/bin/perf")
	if err := lab.Unmount(ctxT(t), host, "/opt/perf"); err != nil {
		t.Fatal(err)
	}
}

// TestWrapperScriptNeverGetsCaps: on a host whose /usr/bin/perf is a wrapper script (Ubuntu's
// layout: it execs /usr/lib/linux-tools/RELEASE/perf), the perf module copies the real ELF and
// that copy gets the capabilities; the wrapper never does, and pointing perf_users at it is
// refused before it is touched.
func TestWrapperScriptNeverGetsCaps(t *testing.T) {
	lab := lab3(t)
	keepParanoid(t)
	host := lab.Hosts[2].Name
	work := t.TempDir()
	spec := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "package")
	inv := inventory(t, lab, "", host)

	hostExec(t, lab, host, `set -e
rel=$(uname -r)
mkdir -p /usr/lib/linux-tools/$rel
mv /usr/bin/perf /usr/lib/linux-tools/$rel/perf
printf '#!/bin/sh\n# Ubuntu-style wrapper\nexec /usr/lib/linux-tools/$(uname -r)/perf "$@"\n' > /usr/bin/perf
chmod 0755 /usr/bin/perf`)
	wrapper := hostExec(t, lab, host, "stat -c '%U:%G %a %s' /usr/bin/perf; sha256sum /usr/bin/perf")

	r := perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec)
	mustCode(t, r, 0, "apply on a host with a wrapper script")
	if got := hostExec(t, lab, host, "cmp /opt/perf/bin/perf /usr/lib/linux-tools/$(uname -r)/perf && echo same"); got != "same" {
		t.Errorf("/opt/perf/bin/perf is not the ELF behind the wrapper: %q", got)
	}
	checkMemberCaps(t, lab, host, perfBin)
	checkWrapper := func() {
		t.Helper()
		if got := hostExec(t, lab, host, "getcap /usr/bin/perf"); got != "" {
			t.Errorf("the wrapper script got capabilities: %q", got)
		}
		if got := hostExec(t, lab, host, "stat -c '%U:%G %a %s' /usr/bin/perf; sha256sum /usr/bin/perf"); got != wrapper {
			t.Errorf("the wrapper script changed:\n%s\nwas:\n%s", got, wrapper)
		}
	}
	checkWrapper()

	r = perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, "-var", "perf=/usr/bin/perf", spec)
	mustCode(t, r, 1, "apply with perf_users pointed at the wrapper")
	if !strings.Contains(r.out, "/usr/bin/perf is not an ELF binary") {
		t.Errorf("no clear refusal of the wrapper:\n%s", r.out)
	}
	checkWrapper()
}
