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
	// of its own and strict checking, and nothing from root's ssh_config.
	cfg := fmt.Sprintf(`[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
local_tmp = %[1]s/tmp
[ssh_connection]
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

// BenchmarkAnsible: the no-op playbook testdata/ansible/noop.yml (the desired state of
// testdata/command) on one host at L = 0 and 100 ms, fresh and kept, next to perfprov apply of
// testdata/command in the same run; round trips from the two medians; the ratio Ansible /
// perfprov at 100 ms (the goal: >= 25).
func BenchmarkAnsible(b *testing.B) {
	w := newWAN(b, 1)
	ctx := context.Background()
	t := target{hosts: w.hosts[:1], inventory: w.inventory1}
	w.setup(b, t)
	a := newAnsible(b, w)
	b.Cleanup(func() { a.stopMasters(filepath.Join(a.dir, "cp-kept")) })
	if err := a.play(ctx, filepath.Join(a.dir, "cp-kept"), true); err != nil {
		b.Fatalf("converging with Ansible: %v", err)
	}
	version, _ := exec.Command("ansible-playbook", "--version").Output()
	apply := op{name: "`perfprov apply`, nothing to change, spec with `command` resources", keptToo: true,
		run: perfprovApply(w.specCommand)}
	pts := []int{0, fanoutRTT}
	for i := 0; i < b.N; i++ {
		// [0]: Ansible, [1]: perfprov; then mode, then the point.
		var med [2][2][]time.Duration
		n := 0
		for k, rtt := range pts {
			if err := w.setRTT(ctx, time.Duration(rtt)*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			for _, m := range []mode{fresh, kept} {
				if m == kept {
					if _, err := a.timedRun(ctx, kept, 0); err != nil { // opens the master the timed runs use
						b.Fatal(err)
					}
				}
				var ds []time.Duration
				for range runs {
					n++
					d, err := a.timedRun(ctx, m, n)
					if err != nil {
						b.Fatal(err)
					}
					ds = append(ds, d)
				}
				med[0][m] = append(med[0][m], Median(ds))
				med[1][m] = append(med[1][m], Median(w.measure(b, apply, m, t, 100, m == kept || k == 0)))
			}
		}
		printAnsible(b, firstLine(version), pts, med)
	}
}

func printAnsible(b *testing.B, version string, pts []int, med [2][2][]time.Duration) {
	xs := []float64{float64(pts[0]) / 1000, float64(pts[1]) / 1000}
	var rt [2][2]float64
	for who := range med {
		for m := range med[who] {
			ys := []float64{med[who][m][0].Seconds(), med[who][m][1].Seconds()}
			s, err := Slope(xs, ys)
			if err != nil {
				b.Fatal(err)
			}
			rt[who][m] = s
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nAnsible, 1 host, no-op, L = %d and %d ms (median of %d; round trips = slope between the two; %s)\n\n", pts[0], pts[1], runs, version)
	out.WriteString("| no-op run, 1 host | round trips (fresh login) | round trips (kept connection) | time at L=100 ms (fresh / kept) |\n|---|---|---|---|\n")
	names := []string{"Ansible `ansible-playbook` of testdata/ansible/noop.yml (facts gathered; kept: ControlPersist)", "`perfprov apply` of testdata/command"}
	for who, name := range names {
		fmt.Fprintf(&out, "| %s | %.1f | %.1f | %.2f s / %.2f s |\n", name, rt[who][fresh], rt[who][kept], med[who][fresh][1].Seconds(), med[who][kept][1].Seconds())
	}
	ratio := func(m mode) float64 { return med[0][m][1].Seconds() / med[1][m][1].Seconds() }
	fmt.Fprintf(&out, "| Ansible / perfprov at L=100 ms | %.1f | %.1f | %.1f / %.1f (goal >= 25) |\n",
		rt[0][fresh]/rt[1][fresh], rt[0][kept]/rt[1][kept], ratio(fresh), ratio(kept))
	b.ReportMetric(ratio(kept), "ansible/perfprov-kept")
	b.ReportMetric(ratio(fresh), "ansible/perfprov-fresh")
	fmt.Print(out.String())
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" {
		return "ansible version unknown"
	}
	return line
}
