package wanbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ansible runs ansible-playbook (Debian's ansible-core, installed by make deps) against the
// first host, through its proxy, with OpenSSH as its transport and the lab key.
type ansible struct {
	w         *wan
	dir       string
	config    string // ansible.cfg
	inventory string // hosts.ini
	freshRuns int    // fresh runs so far: each has a control directory of its own
}

// ansibleConfig is Ansible configured as a user who cares about speed would, so that the
// comparison flatters Ansible rather than perfprov:
//   - pipelining = True: a module goes to the host's python on the stdin of one ssh session,
//     instead of a temporary directory, an sftp upload, a chmod, the exec and a cleanup (off by
//     default; measured here: 27 s instead of 9 s for a fresh no-op run at L = 100 ms);
//   - ssh_args keeps Ansible's own default "-o ControlMaster=auto -o ControlPersist=60s": every
//     task of a run rides the first task's connection, and a run within 60 s of the last one
//     (the kept runs) logs in not at all. Compression (-C, also a default) is left out: loopback
//     gains nothing from it. The rest is the lab's key, a known_hosts of its own with strict
//     checking (as every client of the benchmark), and nothing from root's ssh_config;
//   - interpreter_python is fixed: no interpreter discovery round trip;
//   - the playbook sets gather_facts: false, as its tasks use no fact.
//
// %[1]s is the benchmark's Ansible directory, %[2]s the known_hosts file.
const ansibleConfig = `[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
local_tmp = %[1]s/tmp
[ssh_connection]
pipelining = True
ssh_args = -F /dev/null -o IdentitiesOnly=yes -o UserKnownHostsFile=%[2]s -o StrictHostKeyChecking=yes -o UpdateHostKeys=no -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s
`

func newAnsible(b *testing.B, w *wan) *ansible {
	b.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		b.Fatalf("ansible-playbook not found (make deps installs Debian's ansible-core): %v", err)
	}
	a := &ansible{w: w, dir: filepath.Join(w.dir, "ansible")}
	a.config = filepath.Join(a.dir, "ansible.cfg")
	a.inventory = filepath.Join(a.dir, "hosts.ini")
	known := filepath.Join(a.dir, "known_hosts")
	h := w.hosts[0]
	cfg := fmt.Sprintf(ansibleConfig, a.dir, known)
	inv := fmt.Sprintf("%s ansible_host=%s ansible_port=%d ansible_user=root ansible_ssh_private_key_file=%s\n",
		h.Name, h.Address, h.Port, w.lab.KeyPath)
	kh, err := os.ReadFile(w.knownHosts)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(a.dir, "tmp"), 0o700); err != nil {
		b.Fatal(err)
	}
	for path, data := range map[string][]byte{a.config: []byte(cfg), a.inventory: []byte(inv), known: kh} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return a
}

var recapRE = regexp.MustCompile(`(?m)^\S+\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// play runs the no-op playbook with its ControlPersist masters in controlDir. Unless converging,
// a run that changed something is an error: the benchmark times runs that change nothing.
func (a *ansible) play(ctx context.Context, controlDir string, converging bool) error {
	// A no-op run takes seconds: one that takes minutes is stuck, and its output says where.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", a.inventory, a.w.playbook)
	cmd.Dir = a.dir
	cmd.Env = append(cleanEnv(), "ANSIBLE_CONFIG="+a.config, "ANSIBLE_HOME="+a.dir,
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+controlDir, "ANSIBLE_NOCOLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Should a process Ansible started keep the output open after ansible-playbook ends (the
	// ControlPersist master does not: it has /dev/null), the run still ends.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ansible-playbook: %w\n%s", err, out.Bytes())
	}
	m := recapRE.FindSubmatch(out.Bytes())
	switch {
	case m == nil:
		return fmt.Errorf("ansible-playbook: no recap line:\n%s", out.Bytes())
	case string(m[2]) != "0" || string(m[3]) != "0":
		return fmt.Errorf("ansible-playbook: the host failed:\n%s", out.Bytes())
	case !converging && string(m[1]) != "0":
		return fmt.Errorf("ansible-playbook changed %s tasks, the benchmark times no-op runs:\n%s", m[1], out.Bytes())
	}
	return nil
}

// stopMasters ends the OpenSSH ControlPersist masters whose sockets are in controlDir.
func (a *ansible) stopMasters(controlDir string) {
	socks, _ := filepath.Glob(filepath.Join(controlDir, "*"))
	for _, s := range socks {
		_ = exec.Command("ssh", "-F", "/dev/null", "-o", "ControlPath="+s, "-O", "exit", "wan-master").Run()
	}
}

var masterRE = regexp.MustCompile(`Master running \(pid=(\d+)\)`)

// master returns the pid of the ControlPersist master in controlDir, "" for none.
func (a *ansible) master(controlDir string) string {
	socks, _ := filepath.Glob(filepath.Join(controlDir, "*"))
	for _, s := range socks {
		out, _ := exec.Command("ssh", "-F", "/dev/null", "-o", "ControlPath="+s, "-O", "check", "wan-master").CombinedOutput()
		if m := masterRE.FindSubmatch(out); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// timedRun is one playbook run in mode m, timed: fresh in a control directory of its own (its
// first task logs in, the others ride its master, stopped after the run, outside the time),
// kept in the benchmark's one directory, through the master an earlier run left open. A kept
// run that found no master, or left another one, logged in: its figure would be a fresh one.
func (a *ansible) timedRun(ctx context.Context, m mode) (time.Duration, error) {
	dir := filepath.Join(a.dir, "cp-kept")
	if m == fresh {
		a.freshRuns++
		dir = filepath.Join(a.dir, fmt.Sprintf("cp-fresh-%d", a.freshRuns))
		defer a.stopMasters(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	before := a.master(dir)
	d, err := timed(func() error { return a.play(ctx, dir, false) })
	if err == nil && m == kept && (before == "" || a.master(dir) != before) {
		err = fmt.Errorf("a kept ansible-playbook run logged in (master %q before it, %q after)", before, a.master(dir))
	}
	return d, err
}

// measure times n playbook runs in mode m at the link's current latency; a kept measurement
// runs once first, untimed, so that the master the timed runs use is open.
func (a *ansible) measure(b *testing.B, m mode, n int) []time.Duration {
	b.Helper()
	ctx := context.Background()
	if m == kept {
		if err := a.play(ctx, filepath.Join(a.dir, "cp-kept"), false); err != nil {
			b.Fatalf("ansible-playbook (kept, warm-up): %v", err)
		}
	}
	var ds []time.Duration
	for range n {
		d, err := a.timedRun(ctx, m)
		if err != nil {
			b.Fatalf("ansible-playbook (%s): %v", m, err)
		}
		ds = append(ds, d)
	}
	progress(a.w, 1, "ansible-playbook", m, ds)
	return ds
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" {
		return "ansible version unknown"
	}
	return line
}
