package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// perfUsersLike is the perf_users job in small: group, 2 users, directory, file (an ELF copied
// from the controller), permissions, capabilities, sysctl.
const perfUsersLike = `
resource "group" "perf_users" {}

resource "user" "alice" {
  groups = [resource.group.perf_users.name]
}

resource "user" "bob" {
  groups = [resource.group.perf_users.name]
}

resource "directory" "bin" {
  path = "/opt/bench/bin"
  mode = "0755"
}

resource "file" "perf" {
  path   = "${resource.directory.bin.path}/perf"
  source = "perf.elf"
  group  = resource.group.perf_users.name
  mode   = "0750"
}

resource "permissions" "perf" {
  path  = resource.file.perf.path
  group = resource.group.perf_users.name
  mode  = "0750"
}

resource "capabilities" "perf" {
  path = resource.permissions.perf.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

resource "sysctl" "paranoid_stand_in" {
  name  = "kernel.domainname"
  value = "bench.perfprov"
}
`

// timedRun runs the CLI and returns its wall time and peak RSS.
func timedRun(b *testing.B, dir string, args ...string) (time.Duration, int64) {
	b.Helper()
	return timedRunEnv(b, dir, nil, args...)
}

// timedRunEnv is timedRun with more environment variables.
func timedRunEnv(b *testing.B, dir string, env []string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(perfprovBin(b), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "XDG_RUNTIME_DIR="+dir), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("perfprov %v: %v\n%s", args, err, out.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB
	}
	return d, rss
}

// sshFanout runs OpenSSH "ssh host true" to every host in parallel.
func sshFanout(b *testing.B, lab *testbed.Lab) time.Duration {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(lab.Hosts))
	for _, h := range lab.Hosts {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			out, err := exec.Command("ssh", "-i", lab.KeyPath, "-o", "UserKnownHostsFile="+lab.KnownHostsPath,
				"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-F", "/dev/null", "root@"+addr, "true").CombinedOutput()
			if err != nil {
				errs <- fmt.Errorf("ssh %s: %v: %s", addr, err, out)
			}
		}(h.Address)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkNoopApply: a no-op re-apply and a plan of a perf_users-like spec on a 20-host lab,
// against OpenSSH's "ssh host true" fan-out to the same hosts. Goal: ratio <= 0.75.
func BenchmarkNoopApply(b *testing.B) {
	lab := testbed.Require(b, 20)
	dir := b.TempDir()
	inv, err := os.ReadFile(lab.InventoryPath)
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "inventory.hcl"), inv, 0o600)
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(perfUsersLike), 0o600)
	elf, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "perf.elf"), elf, 0o755)
	cleanup := func() {
		for _, h := range lab.Hosts {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			lab.Exec(ctx, h.Name, `rm -rf /opt/bench; userdel -r bob 2>/dev/null; gpasswd -d alice perf_users 2>/dev/null; groupdel perf_users 2>/dev/null; sysctl -qw kernel.domainname='(none)'; true`)
			cancel()
		}
	}
	cleanup()
	b.Cleanup(cleanup)

	first, firstRSS := timedRun(b, dir, "apply", "-auto-approve", ".")
	b.ResetTimer()
	var cold, apply, plan, ssh []time.Duration
	peak := firstRSS
	run := func(into *[]time.Duration, env []string, args ...string) {
		d, rss := timedRunEnv(b, dir, env, args...)
		*into = append(*into, d)
		peak = max(peak, rss)
	}
	for i := 0; i < b.N; i++ {
		for j := 0; j < 3; j++ {
			// Every host logs in: what a first run, or one with persist off, costs.
			run(&cold, []string{"PERFPROV_PERSIST=0"}, "apply", "-auto-approve", ".")
		}
		// The first apply changed every host and let its connections go: this one logs in
		// through the daemon, which keeps the connections for the runs after it.
		var warmup []time.Duration
		run(&warmup, nil, "apply", "-auto-approve", ".")
		for j := 0; j < 3; j++ {
			run(&apply, nil, "apply", "-auto-approve", ".")
			run(&plan, nil, "plan", "-detailed-exitcode", ".")
			ssh = append(ssh, sshFanout(b, lab))
		}
		if i+1 < b.N {
			stopDaemon(b, dir)
		}
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	verdict := func(r float64) string {
		if r <= 0.75 {
			return "meets"
		}
		return "MISSES"
	}
	ratio := func(ds []time.Duration) float64 { return med(ds).Seconds() / med(ssh).Seconds() }
	ms := func(ds []time.Duration) string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%.2f", d.Seconds()))
		}
		return fmt.Sprintf("%v (runs %s)", med(ds).Round(time.Millisecond), strings.Join(out, " "))
	}
	fmt.Printf("BenchmarkNoopApply: %d hosts, 8 resources each; medians\n", len(lab.Hosts))
	fmt.Printf("  first apply:                       %v\n", first.Round(time.Millisecond))
	fmt.Printf("  no-op apply, logging in:           %s\n", ms(cold))
	fmt.Printf("  no-op apply, connections kept:     %s\n", ms(apply))
	fmt.Printf("  plan, connections kept:            %s\n", ms(plan))
	fmt.Printf("  OpenSSH ssh host true fan-out:     %s\n", ms(ssh))
	fmt.Printf("  ratio no-op apply / ssh: %.2f with connections kept (goal <= 0.75: %s), %.2f logging in (%s); plan / ssh: %.2f\n",
		ratio(apply), verdict(ratio(apply)), ratio(cold), verdict(ratio(cold)), ratio(plan))
	fmt.Printf("  peak controller RSS:  %d MiB (perfprov; its connection daemon: %d MiB)\n", peak/1024, daemonRSS(dir)/1024)
	phases(b, dir)
	b.ReportMetric(med(apply).Seconds(), "noop-apply-s")
	b.ReportMetric(med(cold).Seconds(), "noop-apply-login-s")
	b.ReportMetric(med(plan).Seconds(), "plan-s")
	b.ReportMetric(med(ssh).Seconds(), "ssh-fanout-s")
	b.ReportMetric(ratio(apply), "ratio")
}

// phases runs one no-op apply in process and prints where a host's time goes.
func phases(b *testing.B, dir string) {
	sp, diags := hcl.Load(dir, hcl.LoadOptions{Resources: resource.Schemas()})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	hosts, err := sp.Targets(nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	r := PlanAndApply(context.Background(), sp, hosts, Options{
		Open: func(ctx context.Context, h *spec.Host) (transport.Conn, error) {
			return connect.Open(ctx, h, connect.Options{Getenv: os.Getenv})
		},
		Rollout: sp.Rollout,
	})
	total := time.Since(start)
	r.Close()
	if !r.Converged() || r.HasChanges() {
		b.Fatalf("the in-process no-op run changed or failed something")
	}
	var sum, worst Timings
	for _, h := range r.Hosts {
		sum.Connect += h.Timings.Connect
		sum.Facts += h.Timings.Facts
		sum.Read += h.Timings.Read
		sum.Apply += h.Timings.Apply
		worst.Connect = max(worst.Connect, h.Timings.Connect)
		worst.Facts = max(worst.Facts, h.Timings.Facts)
		worst.Read = max(worst.Read, h.Timings.Read)
	}
	n := time.Duration(len(r.Hosts))
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Printf("  in-process no-op run: %v; per host mean (max): connect %s (%s), facts %s (%s), batched read %s (%s)\n",
		ms(total), ms(sum.Connect/n), ms(worst.Connect), ms(sum.Facts/n), ms(worst.Facts), ms(sum.Read/n), ms(worst.Read))
}

// stopDaemon ends the connection daemon of the benchmark (its directory is under dir).
func stopDaemon(b *testing.B, dir string) {
	b.Helper()
	if pid := daemonPID(dir); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// daemonPID finds the connection daemon serving dir/perfprov.
func daemonPID(dir string) int {
	want := "\x00" + filepath.Join(dir, "perfprov") + "\x00"
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(append([]byte("\x00"), b...), []byte(want)) && bytes.Contains(b, []byte("__persist")) {
			var pid int
			fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid)
			return pid
		}
	}
	return 0
}

// daemonRSS is the connection daemon's peak RSS in KiB (0 if none runs).
func daemonRSS(dir string) int64 {
	pid := daemonPID(dir)
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	var kib int64
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("VmHWM:")) {
			fmt.Sscanf(string(bytes.TrimPrefix(line, []byte("VmHWM:"))), "%d", &kib)
		}
	}
	return kib
}
