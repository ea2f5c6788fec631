package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

// procsSpec is the no-op spec of the scale benchmarks (internal/fleetbench/testdata/noop) on
// names of its own: a group, two users in it, a directory, a file, its permissions and
// capabilities, a sysctl.
const procsSpec = `
resource "group" "pp_procs" {}

resource "user" "alice" {
  groups = [resource.group.pp_procs.name]
}

resource "user" "bob" {
  groups = [resource.group.pp_procs.name]
}

resource "directory" "bin" {
  path = "/opt/pp-procs/bin"
  mode = "0755"
}

resource "file" "perf" {
  path   = "${resource.directory.bin.path}/perf"
  source = "perf.elf"
  group  = resource.group.pp_procs.name
  mode   = "0750"
}

resource "permissions" "perf" {
  path  = resource.file.perf.path
  group = resource.group.pp_procs.name
  mode  = "0750"
}

resource "capabilities" "perf" {
  path = resource.permissions.perf.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

resource "sysctl" "domain" {
  name         = "kernel.domainname"
  value        = "procs.perfprov"
  persist_file = "/etc/sysctl.d/99-zz-pp-procs.conf"
}
`

// TestNoopProcesses (issue 13): a no-op apply of a perf_users-like spec (8 resources) starts at
// most 3 processes on the host over a kept connection (the remote helper's subshell for the
// request, one stat and one awk), and with a fresh login at most 3 more than OpenSSH's `ssh host
// true` starts there. Counted from outside perfprov: the PIDs taken in the host's PID namespace,
// where they are handed out in order (a subshell or a pipeline stage takes one, exec or not).
func TestNoopProcesses(t *testing.T) {
	lab := lab3(t)
	h := lab.Hosts[1]
	cleanup := `gpasswd -d alice pp_procs; gpasswd -d bob pp_procs; groupdel pp_procs; rm -rf /opt/pp-procs /etc/sysctl.d/99-zz-pp-procs.conf
sysctl -qw kernel.domainname='(none)'; true`
	hostTry(t, lab, h.Name, cleanup)
	t.Cleanup(func() { hostTry(t, lab, h.Name, cleanup) })
	work := t.TempDir()
	spec := filepath.Join(work, "spec")
	if err := os.MkdirAll(spec, 0o755); err != nil {
		t.Fatal(err)
	}
	elf, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec, "main.hcl"), []byte(procsSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(spec, "perf.elf"), elf, 0o644); err != nil {
		t.Fatal(err)
	}
	inv := inventory(t, lab, "", h.Name)
	daemonDir := filepath.Join(work, "run", "perfprov")
	t.Cleanup(func() {
		if pid := daemonPID(daemonDir); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	})
	kept := []string{"PERFPROV_PERSIST=10m"}
	apply := func(env []string, what string) {
		t.Helper()
		r := perfprovEnv(t, work, env, "apply", "-json", "-auto-approve", "-inventory", inv, spec)
		mustCode(t, r, 0, what)
		if what != "first apply" && !strings.Contains(r.stdout, `"type":"host_summary","host":"`+h.Name+`","status":"ok","ok":8}`) {
			t.Fatalf("%s changed something or failed:\n%s", what, r.out)
		}
	}
	apply(kept, "first apply")
	// What the reads learn of the file (its hash, getcap, its ELF header) is used once a second
	// read, seconds later, saw the same (engine.MemoCache); the run after that reads what the
	// one before it read, with the facts (its speculative read).
	apply(kept, "no-op apply")
	time.Sleep(3100 * time.Millisecond)
	apply(kept, "no-op apply, seconds later")
	apply(kept, "no-op apply, with what the reads remembered")

	lastPID := func() int {
		t.Helper()
		n, err := strconv.Atoi(hostExec(t, lab, h.Name, `echo "$$"`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := lastPID()
	overhead := lastPID() - a
	count := func(run func()) int {
		before := lastPID()
		run()
		return lastPID() - before - overhead
	}
	if n := count(func() { apply(kept, "no-op apply, counted") }); n > 3 {
		t.Errorf("a no-op apply over a kept connection started %d processes on %s, want at most 3", n, h.Name)
	} else {
		t.Logf("no-op apply over a kept connection: %d processes on the host", n)
	}
	ssh := count(func() { opensshTrue(t, lab, h) })
	fresh := count(func() { apply([]string{"PERFPROV_PERSIST=0"}, "no-op apply, logging in") })
	if fresh > ssh+3 {
		t.Errorf("a no-op apply logging in started %d processes on %s, OpenSSH's ssh host true %d: want at most 3 more", fresh, h.Name, ssh)
	} else {
		t.Logf("no-op apply logging in: %d processes on the host, OpenSSH's ssh host true: %d", fresh, ssh)
	}

	// What the reads remembered does not hide a change: a byte of the file written in place
	// (same size; the write also drops its capabilities) and a membership taken away by hand.
	hostExec(t, lab, h.Name, `printf X | dd of=/opt/pp-procs/bin/perf bs=1 seek=200 conv=notrunc 2>/dev/null; gpasswd -d bob pp_procs >/dev/null`)
	r := perfprovEnv(t, work, kept, "plan", "-json", "-detailed-exitcode", "-inventory", inv, spec)
	mustCode(t, r, 2, "plan after the changes by hand")
	for _, want := range []string{`"address":"file.perf","action":"update"`, `"address":"capabilities.perf","action":"create"`, `"address":"user.bob","action":"update"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan after the changes by hand lacks %s:\n%s", want, r.stdout)
		}
	}
}

// opensshTrue logs in with OpenSSH and runs true: the reference a fresh login is held to.
func opensshTrue(t *testing.T, lab *testbed.Lab, h *testbed.Host) {
	t.Helper()
	cmd := exec.Command("ssh", "-F", "/dev/null", "-i", lab.KeyPath,
		"-o", "UserKnownHostsFile="+lab.KnownHostsPath, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=60", "-p", strconv.Itoa(h.Port), "root@"+h.Address, "true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh %s true: %v: %s", h.Name, err, out)
	}
}
