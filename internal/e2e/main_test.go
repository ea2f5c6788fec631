// Package e2e runs the seed workflow end to end on lab hosts: the perfprov binary is built once
// and driven as a user drives it (apply, plan -detailed-exitcode), and every result is checked
// from OUTSIDE perfprov, inside the hosts (stat, getcap, sysctl, /proc/PID/status of a member's
// running perf).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/internal/testbin"
)

// perfprovBin is the binary TestMain builds; empty when the lab tests are skipped.
var perfprovBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() || os.Getenv("CI") == "true" {
		bin, err := testbin.Perfprov("e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
		perfprovBin = bin
	}
	testbed.Main(m)
}

// repoRoot is the repository's root (the tests run in internal/e2e).
func repoRoot(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// sources are the real tarballs scripts/fetch-sources.sh keeps in its cache.
type sources struct {
	Libcap, Perf string
}

// fetchSources runs scripts/fetch-sources.sh (a no-op when cached) and returns the tarballs.
func fetchSources(t testing.TB) sources {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "scripts", "fetch-sources.sh"))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/fetch-sources.sh: %v\n%s", err, errb.String())
	}
	var s sources
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "LIBCAP_TARBALL":
			s.Libcap = v
		case "PERF_TARBALL":
			s.Perf = v
		}
	}
	if s.Libcap == "" || s.Perf == "" {
		t.Fatalf("scripts/fetch-sources.sh did not name both tarballs:\n%s", out)
	}
	return s
}

// inventory writes an inventory for the given lab hosts, with extra HCL (groups) appended.
func inventory(t testing.TB, lab *testbed.Lab, extra string, names ...string) string {
	t.Helper()
	var hosts []*testbed.Host
	for _, n := range names {
		h, err := lab.Host(n)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	p := filepath.Join(t.TempDir(), "inventory.hcl")
	content := append(testbed.InventoryHCL(lab.KeyPath, lab.KnownHostsPath, hosts), []byte("\n"+extra)...)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// result is one run of the perfprov binary.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type result struct {
	code     int
	out      string // stdout and stderr together
	stdout   string // stdout alone (the -json stream)
	duration time.Duration
}

// perfprov runs the binary in a private working directory (audit log, logs) and cache.
func perfprov(t testing.TB, work string, args ...string) result {
	t.Helper()
	return perfprovEnv(t, work, nil, args...)
}

// perfprovEnv is perfprov with more environment variables.
func perfprovEnv(t testing.TB, work string, extraEnv []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, perfprovBin, args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CACHE_HOME="+filepath.Join(work, "cache"),
		"XDG_RUNTIME_DIR="+filepath.Join(work, "run")) // the test's own connection daemon
	cmd.Env = append(cmd.Env, extraEnv...)
	// stdout and stderr are copied by two goroutines: the buffer both write to needs a lock.
	var out, stdout bytes.Buffer
	both := &lockedWriter{w: &out}
	cmd.Stdout, cmd.Stderr = io.MultiWriter(both, &stdout), both
	start := time.Now()
	err := cmd.Run()
	r := result{out: out.String(), stdout: stdout.String(), duration: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("perfprov %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("perfprov %s: exit %d in %.1fs", strings.Join(args, " "), r.code, r.duration.Seconds())
	return r
}

// mustCode fails the test unless r ended with code; it shows the output.
func mustCode(t testing.TB, r result, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d; output:\n%s", what, r.code, code, r.out)
	}
}

// hostExec runs a script as root inside a lab host.
func hostExec(t testing.TB, lab *testbed.Lab, host, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := lab.Exec(ctx, host, script)
	if err != nil {
		t.Fatalf("%s: %s: %v", host, script, err)
	}
	return strings.TrimSpace(string(out))
}

// hostTry runs a script that may fail and returns its output and whether it succeeded.
func hostTry(t testing.TB, lab *testbed.Lab, host, script string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := lab.Exec(ctx, host, script)
	return strings.TrimSpace(string(out)), err == nil
}

const paranoidPath = "/proc/sys/kernel/perf_event_paranoid"

// keepParanoid saves kernel.perf_event_paranoid (one value for the whole machine and every lab
// host) and restores it when the test ends.
func keepParanoid(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(paranoidPath)
	if err != nil {
		t.Fatalf("reading %s: %v", paranoidPath, err)
	}
	saved := strings.TrimSpace(string(b))
	t.Cleanup(func() {
		if err := os.WriteFile(paranoidPath, []byte(saved+"\n"), 0o644); err != nil {
			t.Errorf("restoring %s to %s: %v", paranoidPath, saved, err)
		}
	})
}

// copyDir copies a directory tree of small files (an example with its patches).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lab3 is the package's lab of three hosts: lab1 for the seed workflow, lab2 and lab3 for the
// error cases.
func lab3(t testing.TB) *testbed.Lab {
	t.Helper()
	return testbed.Require(t, 3)
}

// ctxT is a context for one lab operation.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// checkMemberCaps checks from inside the host that alice (a member) runs perf system-wide with
// exactly CapEff 0000004400080000 and bob (not a member) is refused.
func checkMemberCaps(t *testing.T, lab *testbed.Lab, host, perf string) {
	t.Helper()
	status := hostExec(t, lab, host, `cd / && runuser -u alice -- `+perf+` stat -a -e task-clock -- sleep 3 >/dev/null 2>&1 &
for i in $(seq 50); do pid=$(pgrep -o -u alice -x perf) && break; sleep 0.1; done
[ -n "$pid" ] && cat /proc/$pid/status; wait`)
	if m := capEffRE.FindStringSubmatch(status); m == nil || m[1] != perfmonEff {
		t.Errorf("%s: the member's running perf: CapEff %v, want %s", host, m, perfmonEff)
	}
	out, ok := hostTry(t, lab, host, "cd / && runuser -u bob -- "+perf+" --version 2>&1")
	if ok || !strings.Contains(out, "Permission denied") {
		t.Errorf("%s: non-member bob: ok=%v %q, want Permission denied", host, ok, out)
	}
}
