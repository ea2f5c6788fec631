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

// ansibleGoal is the goal: a no-op Ansible run on 1 host at L = 100 ms takes at least
// this many times perfprov's no-op apply of the same desired state.
const ansibleGoal = 25

// BenchmarkAnsible: the no-op playbook testdata/ansible/noop.yml (the desired state of
// testdata/command) on one host at L = 0, 50, 100 and 200 ms, fresh and kept, next to perfprov
// apply of testdata/command at the same L in the same run, median of 3; round trips = the
// least-squares slope of the medians against L, as in BenchmarkRoundTrips; the ratio Ansible /
// perfprov at 100 ms against the goal.
func BenchmarkAnsible(b *testing.B) {
	w := newWAN(b, 1)
	ctx := context.Background()
	t := target{hosts: w.hosts[:1], inventory: w.inventory1}
	w.setup(b, t)
	a := newAnsible(b, w)
	keptDir := filepath.Join(a.dir, "cp-kept")
	b.Cleanup(func() { a.stopMasters(keptDir) })
	if err := os.MkdirAll(keptDir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := a.play(ctx, keptDir, true); err != nil {
		b.Fatalf("converging with Ansible: %v", err)
	}
	version, _ := exec.Command("ansible-playbook", "--version").Output()
	apply := op{name: "`perfprov apply`, nothing to change, spec with `command` resources", keptToo: true,
		run: perfprovApply(w.specCommand)}
	for i := 0; i < b.N; i++ {
		// med[who][m][k]: who 0 is Ansible, 1 perfprov; mode m; rtts()[k].
		var med [2][2][]time.Duration
		for k, rtt := range rtts() {
			if err := w.setRTT(ctx, time.Duration(rtt)*time.Millisecond); err != nil {
				b.Fatal(err)
			}
			for _, m := range []mode{fresh, kept} {
				med[0][m] = append(med[0][m], Median(a.measure(b, m, runs)))
				med[1][m] = append(med[1][m], Median(w.measure(b, apply, m, t, 100, m == kept || k == 0, runs)))
			}
		}
		printAnsible(b, firstLine(version), med)
	}
}

// verdict says whether ratio reaches the goal.
func verdict(ratio float64) string {
	if ratio >= ansibleGoal {
		return "MEETS"
	}
	return "MISSES"
}

func printAnsible(b *testing.B, version string, med [2][2][]time.Duration) {
	var rt [2][2]float64
	for who := range med {
		for m := range med[who] {
			s, err := roundTrips(med[who][m])
			if err != nil {
				b.Fatal(err)
			}
			rt[who][m] = s
		}
	}
	at := indexOf(rtts(), fanoutRTT)
	ratio := func(m mode) float64 { return med[0][m][at].Seconds() / med[1][m][at].Seconds() }
	var out strings.Builder
	fmt.Fprintf(&out, "\nAnsible, 1 host, no-op (median of %d at each L = %s ms; round trips = least-squares slope of time against L; %s)\n\n", runs, joinInts(rtts()), version)
	fmt.Fprintf(&out, "| no-op run, 1 host | round trips (fresh login) | round trips (kept connection) | time at L=%d ms (fresh / kept) |\n|---|---|---|---|\n", fanoutRTT)
	names := []string{"Ansible `ansible-playbook` of testdata/ansible/noop.yml (pipelining, no facts; kept: ControlPersist)", "`perfprov apply` of testdata/command"}
	for who, name := range names {
		fmt.Fprintf(&out, "| %s | %.1f | %.1f | %.2f s / %.2f s |\n", name, rt[who][fresh], rt[who][kept], med[who][fresh][at].Seconds(), med[who][kept][at].Seconds())
	}
	fmt.Fprintf(&out, "| Ansible / perfprov | %.1f | %.1f | %.1f / %.1f |\n", rt[0][fresh]/rt[1][fresh], rt[0][kept]/rt[1][kept], ratio(fresh), ratio(kept))
	fmt.Fprintf(&out, "\nAnsible / perfprov at L=%d ms, goal >= %d: fresh login %.1f, %s; kept connection %.1f, %s\n",
		fanoutRTT, ansibleGoal, ratio(fresh), verdict(ratio(fresh)), ratio(kept), verdict(ratio(kept)))
	fmt.Fprintf(&out, "\nMedians (s) at each L:\n\n| run | mode | %s |\n|---|---|%s\n", "L="+strings.Join(strings.Split(joinInts(rtts()), ", "), " | L="), strings.Repeat("---|", len(rtts())))
	for who, name := range []string{"ansible-playbook", "perfprov apply"} {
		for m := range med[who] {
			var cells []string
			for _, d := range med[who][m] {
				cells = append(cells, fmt.Sprintf("%.3f", d.Seconds()))
			}
			fmt.Fprintf(&out, "| %s | %s | %s |\n", name, mode(m), strings.Join(cells, " | "))
		}
	}
	b.ReportMetric(ratio(kept), "ansible/perfprov-kept")
	b.ReportMetric(ratio(fresh), "ansible/perfprov-fresh")
	b.ReportMetric(rt[0][fresh], "ansible-rt-fresh")
	b.ReportMetric(rt[0][kept], "ansible-rt-kept")
	fmt.Print(out.String())
}
