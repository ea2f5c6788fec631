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
}

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
	// Ansible's own ssh_args default is "-C -o ControlMaster=auto -o ControlPersist=60s": kept
	// here but for compression (loopback gains nothing from it), plus the lab's key, a known_hosts
	// of its own and strict checking, and nothing from root's ssh_config. Pipelining (one ssh
	// exec per task instead of a temporary directory, an upload and a chmod) is off by default
	// but what a user who cares about speed turns on: Ansible's fastest plain configuration.
	cfg := fmt.Sprintf(`[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
local_tmp = %[1]s/tmp
[ssh_connection]
pipelining = True
ssh_args = -F /dev/null -o IdentitiesOnly=yes -o UserKnownHostsFile=%[2]s -o StrictHostKeyChecking=yes -o UpdateHostKeys=no -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s
`, a.dir, known)
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
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", a.inventory, a.w.playbook)
	cmd.Dir = a.dir
	cmd.Env = append(cleanEnv(), "ANSIBLE_CONFIG="+a.config, "ANSIBLE_HOME="+a.dir,
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+controlDir, "ANSIBLE_NOCOLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
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

// timedRun is one playbook run in mode m, timed: fresh in a control directory of its own (its
// first task logs in; its master is stopped after it, outside the time), kept in the
// benchmark's one directory, whose master an earlier run left open.
func (a *ansible) timedRun(ctx context.Context, m mode, n int) (time.Duration, error) {
	dir := filepath.Join(a.dir, "cp-kept")
	if m == fresh {
		dir = filepath.Join(a.dir, fmt.Sprintf("cp-fresh-%d", n))
		defer a.stopMasters(dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	return timed(func() error { return a.play(ctx, dir, false) })
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" {
		return "ansible version unknown"
	}
	return line
}
