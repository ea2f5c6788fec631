package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/internal/testbed"
)

// The attacks of the security review, repeated on lab hosts: a binary a user could swap never
// gets capabilities, and a secret never shows in a process listing of the host.

func securitySpec(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "security", name)
}

// toolState is the tool's owner, mode and capabilities, from inside the host.
func toolState(t *testing.T, host string, run func(string) string) string {
	t.Helper()
	return run(`echo "$(stat -c '%U %a' /srv/perfx/tool) caps=[$(getcap /srv/perfx/tool | sed 's/^[^ ]* //')]"`)
}

// TestSecuritySwappableBinary: perf under a directory alice owns (the review's escalation), a
// binary she swapped in, and a group-writable binary are refused before any chown, chmod or
// setcap, in plan and in apply, with the path and its owner in one line. A host that fails after
// setcap loses the capabilities again.
func TestSecuritySwappableBinary(t *testing.T) {
	lab, hs := faultHosts(t)
	h := hs[0]
	run := func(s string) string { return hostExec(t, lab, h, s) }
	t.Cleanup(func() { run("rm -rf /srv/perfx") })
	run("rm -rf /srv/perfx; mkdir -m 0755 /srv/perfx; cp /bin/cat /srv/perfx/tool; chmod 0755 /srv/perfx/tool")
	inv := inventory(t, lab, "", h)
	spec := securitySpec(t, "caps")
	work := t.TempDir()

	refused := func(what, setup, want, state string) {
		t.Helper()
		run(setup)
		before := toolState(t, h, run)
		for _, cmd := range [][]string{{"plan", "-inventory", inv, spec}, {"apply", "-auto-approve", "-inventory", inv, spec}} {
			r := perfprov(t, work, cmd...)
			mustCode(t, r, 1, what+": "+cmd[0])
			t.Logf("%s, %s:\n%s", what, cmd[0], r.out)
			if !strings.Contains(r.out, want) || !strings.Contains(r.out, "nothing was changed on this host") {
				t.Errorf("%s: %s does not say %q and that nothing was changed:\n%s", what, cmd[0], want, r.out)
			}
		}
		if after := toolState(t, h, run); after != before || after != state {
			t.Errorf("%s: the tool was %q, is %q after the refused apply, want %q", what, before, after, state)
		}
	}

	run("chown alice /srv/perfx")
	refused("directory owned by alice", "true",
		"capabilities.tool: /srv/perfx (a directory above /srv/perfx/tool) is owned by alice (mode 0755), not root", "root 755 caps=[]")

	// Root takes the directory back: the setup applies.
	run("chown root /srv/perfx")
	mustCode(t, perfprov(t, work, "apply", "-auto-approve", "-inventory", inv, spec), 0, "apply with a root-owned directory")
	if got := toolState(t, h, run); got != "root 750 caps=[cap_sys_ptrace,cap_syslog,cap_perfmon=ep]" {
		t.Fatalf("after apply: %s", got)
	}

	// The directory is alice's again and she swaps the binary (the review's loop): the next
	// apply must not chown, chmod or setcap her file.
	run("chown alice /srv/perfx")
	run(`runuser -u alice -- sh -c 'cp /bin/cat /srv/perfx/.evil && mv -f /srv/perfx/.evil /srv/perfx/tool'`)
	refused("binary swapped by alice", "true", "the binary /srv/perfx/tool is owned by alice (mode 0755), not root", "alice 755 caps=[]")

	run("chown root /srv/perfx; rm -f /srv/perfx/tool; cp /bin/cat /srv/perfx/tool; chmod 0770 /srv/perfx/tool")
	refused("group-writable binary", "true", "the binary /srv/perfx/tool is writable by its group (mode 0770)", "root 770 caps=[]")

	// A check after setcap fails: the capabilities are removed again before the report.
	run("chmod 0755 /srv/perfx/tool")
	r := perfprov(t, work, "apply", "-auto-approve", "-json", "-var", "fail_after=true", "-inventory", inv, spec)
	mustCode(t, r, 1, "apply with a failing check after setcap")
	if !strings.Contains(r.out, "undid capabilities.tool: the host failed after it was applied") {
		t.Errorf("no word of the capabilities removed again:\n%s", r.out)
	}
	if got := toolState(t, h, run); got != "root 750 caps=[]" {
		t.Errorf("after the failed check: %s, want no capabilities", got)
	}
	checkClean(t, lab, h)
}

// TestSecurityNoSecretInProcessList: while a command with a sensitive value in its env and its
// script runs, neither ps on the host nor an unprivileged user reading every /proc/*/cmdline and
// /proc/*/environ it may finds the value; the command still gets it.
func TestSecurityNoSecretInProcessList(t *testing.T) {
	lab, hs := faultHosts(t)
	h := hs[0]
	const secret = "S3cr3t-token-XYZ"
	work := t.TempDir()
	vars := filepath.Join(work, "secret.tfvars")
	if err := os.WriteFile(vars, []byte(`token = "`+secret+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := inventory(t, lab, "", h)
	a := startApply(t, work, nil, "-var-file", vars, "-inventory", inv, securitySpec(t, "secret"))
	sawSleep := false
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ps, _ := hostTry(t, lab, h, "ps -eo args")
		if strings.Contains(ps, "sleep 4") {
			sawSleep = true
		}
		if strings.Contains(ps, secret) {
			t.Errorf("ps on the host shows the secret:\n%s", ps)
			break
		}
		proc, _ := hostTry(t, lab, h, `runuser -u bob -- sh -c 'for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do cat "$f" 2>/dev/null; echo; done' | tr '\0' ' '`)
		if strings.Contains(proc, secret) {
			t.Errorf("bob reads the secret in /proc")
			break
		}
		if sawSleep && !strings.Contains(ps, "sleep 4") {
			break // the command ended
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := a.wait(t, time.Minute)
	mustCode(t, r, 0, "apply of the command with a secret")
	if !sawSleep {
		t.Errorf("never saw the command run: the listing was not checked while it ran")
	}
	if strings.Contains(r.out, secret) {
		t.Errorf("the output shows the secret:\n%s", r.out)
	}
}

// TestSecurityDebugLogNoSecret: PERFPROV_LOG=trace with -log-file, a login (bob) whose sudo needs
// a password, and a command with a sensitive value in its script and environment. The log
// (0600) has the connection, its channels and every command with its script, and neither the
// value nor the password; nor has the output.
func TestSecurityDebugLogNoSecret(t *testing.T) {
	lab, hs := faultHosts(t)
	h := hs[0]
	const secret = "L0gged-t0ken-QRS"
	work := t.TempDir()
	vars := filepath.Join(work, "secret.tfvars")
	if err := os.WriteFile(vars, []byte(`token = "`+secret+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := inventory(t, lab, "", h)
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	asBob := "host \"" + h + "\" {\n  connection {\n    user                = \"bob\"\n    become_password_env = \"LOGGED_SUDO_PW\"\n  }\n"
	if nb := bytes.Replace(b, []byte("host \""+h+"\" {\n"), []byte(asBob), 1); bytes.Equal(nb, b) {
		t.Fatalf("no host block for %s in the inventory:\n%s", h, b)
	} else if err := os.WriteFile(inv, nb, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(work, "debug.log")
	r := perfprovEnv(t, work, []string{"PERFPROV_LOG=trace", "LOGGED_SUDO_PW=" + testbed.BobPassword},
		"apply", "-auto-approve", "-log-file", logPath, "-var-file", vars, "-inventory", inv, securitySpec(t, "logged"))
	mustCode(t, r, 0, "apply with the debug log on")
	st, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %04o, want 0600", st.Mode().Perm())
	}
	log, _ := os.ReadFile(logPath)
	for _, want := range []string{
		h + ": connect to bob@",
		h + ": channel ",
		"debug: " + h + ": command (privileged",
		"trace: " + h + ": script of that command",
		redact.Placeholder,
	} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the log has no %q:\n%s", want, log)
		}
	}
	for _, s := range []string{secret, testbed.BobPassword} {
		if bytes.Contains(log, []byte(s)) {
			t.Errorf("the log shows %q:\n%s", s, log)
		}
		if strings.Contains(r.out, s) {
			t.Errorf("the output shows %q:\n%s", s, r.out)
		}
	}
}
