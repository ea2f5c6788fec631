package wanbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/internal/testbed"
)

// mode is how a run reaches its hosts.
type mode int

const (
	fresh mode = iota // a new login per run: PERFPROV_PERSIST=0, no connection daemon
	kept              // through the connection daemon, whose connection an earlier run left open
)

func (m mode) String() string { return [...]string{"fresh", "kept"}[m] }

// target is what one run reaches: hosts, and the perfprov inventory of exactly those hosts.
type target struct {
	hosts     []*testbed.Host // as reached through their proxies
	inventory string
}

// op is one operation of the tables: a row.
type op struct {
	name    string
	keptToo bool // also measured over a kept connection (OpenSSH and x/crypto log in every time)
	// heavy: the operation runs a workload on every host (perfprov bench compiles and counts
	// one): the 20-host fan-out, CPU-bound on this machine, times it once.
	heavy bool
	run   func(ctx context.Context, w *wan, m mode, t target, cache string) error
}

// operations are the rows of the tables, in the order.
func operations(w *wan) []op {
	return []op{
		{name: "OpenSSH `ssh host true`", run: opensshTrue},
		{name: "bare x/crypto: dial, login, one command", run: bareTrue},
		{name: "`perfprov facts`", keptToo: true, run: perfprovFacts},
		{name: "`perfprov plan`, nothing to change, spec with `command` resources", keptToo: true, run: perfprovPlan(w.specCommand)},
		{name: "`perfprov apply`, nothing to change, spec with `command` resources", keptToo: true, run: perfprovApply(w.specCommand)},
		{name: "`perfprov plan`, the same without `command` resources", keptToo: true, run: perfprovPlan(w.specNoCommand)},
		{name: "`perfprov apply`, the same without `command` resources", keptToo: true, run: perfprovApply(w.specNoCommand)},
		{name: "`perfprov bench`", keptToo: true, heavy: true, run: perfprovBench},
	}
}

// timed runs f and returns its wall time.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// fanout runs each on every host at once and returns the first error.
func fanout(hosts []*testbed.Host, each func(h *testbed.Host) error) error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := each(h); err != nil {
				errs[i] = fmt.Errorf("%s: %w", h.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// opensshTrue is `ssh host true` to every host at once: a fresh login each (no ControlMaster),
// its own known_hosts file, strict checking, nothing from the user's ssh_config.
func opensshTrue(ctx context.Context, w *wan, _ mode, t target, _ string) error {
	return fanout(t.hosts, func(h *testbed.Host) error {
		cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null", "-i", w.lab.KeyPath, "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile="+w.sshKnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
			"-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "BatchMode=yes",
			"-p", strconv.Itoa(h.Port), "root@"+h.Address, "true")
		cmd.Env = cleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ssh: %w: %s", err, out)
		}
		return nil
	})
}

// bareTrue is the floor: a plain golang.org/x/crypto/ssh client that dials every host at once,
// logs in with the key and runs `true` in one session.
func bareTrue(ctx context.Context, w *wan, _ mode, t target, _ string) error {
	pem, err := os.ReadFile(w.lab.KeyPath)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	cb, err := knownhosts.New(w.knownHosts)
	if err != nil {
		return err
	}
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb,
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519}, Timeout: 30 * time.Second}
	return fanout(t.hosts, func(h *testbed.Host) error {
		addr := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
		nc, err := (&net.Dialer{Timeout: cfg.Timeout}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		conn, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
		if err != nil {
			nc.Close()
			return err
		}
		c := ssh.NewClient(conn, chans, reqs)
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			return err
		}
		return s.Run("true")
	})
}

// cleanEnv is this process's environment without what would change how a client logs in: no
// agent (every client uses the lab key only), no inherited perfprov settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "SSH_AUTH_SOCK" || strings.HasPrefix(name, "PERFPROV_") || strings.HasPrefix(name, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "NO_COLOR=1")
}

// perfprov runs the perfprov binary in mode m with its caches in cache (each operation has its
// own, so that the read scripts it remembers are its own spec's, as for a user who runs one spec
// again and again) and returns its standard output and exit status. A kept run that says it is
// not keeping connections is an error: its figure would be a fresh one.
func (w *wan) perfprov(ctx context.Context, m mode, cache string, args ...string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Dir = w.work
	cmd.Env = append(cleanEnv(), "XDG_CACHE_HOME="+cache)
	if m == kept {
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+w.keptRuntime)
	} else {
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+w.freshRuntime, "PERFPROV_PERSIST=0")
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, 0, fmt.Errorf("perfprov %s: %w", strings.Join(args, " "), err)
	}
	if m == kept && strings.Contains(errb.String(), "not keeping connections") {
		return nil, 0, fmt.Errorf("perfprov %s: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()))
	}
	code := cmd.ProcessState.ExitCode()
	if code != 0 {
		return out.Bytes(), code, fmt.Errorf("perfprov %s: exit status %d\n%s%s", strings.Join(args, " "), code, out.Bytes(), errb.Bytes())
	}
	return out.Bytes(), 0, nil
}

func perfprovFacts(ctx context.Context, w *wan, m mode, t target, cache string) error {
	_, _, err := w.perfprov(ctx, m, cache, "facts", "-json", t.inventory)
	return err
}

// perfprovPlan plans spec; -detailed-exitcode makes a plan that would change something fail.
func perfprovPlan(spec string) func(context.Context, *wan, mode, target, string) error {
	return func(ctx context.Context, w *wan, m mode, t target, cache string) error {
		_, code, err := w.perfprov(ctx, m, cache, "plan", "-detailed-exitcode", "-inventory", t.inventory, spec)
		if code == 2 {
			return fmt.Errorf("plan of %s: something would change, the benchmark times no-op runs: %w", filepath.Base(spec), err)
		}
		return err
	}
}

// perfprovApply applies spec and checks that it changed nothing on any host.
func perfprovApply(spec string) func(context.Context, *wan, mode, target, string) error {
	return func(ctx context.Context, w *wan, m mode, t target, cache string) error {
		out, _, err := w.perfprov(ctx, m, cache, "apply", "-auto-approve", "-json", "-inventory", t.inventory, spec)
		if err != nil {
			return err
		}
		if ok := unchangedHosts(out); ok != len(t.hosts) {
			return fmt.Errorf("apply of %s: %d of %d hosts ok without a change, the benchmark times no-op runs:\n%s", filepath.Base(spec), ok, len(t.hosts), out)
		}
		return nil
	}
}

// converge applies spec with changes allowed: the benchmark's setup.
func (w *wan) converge(ctx context.Context, t target, spec string) error {
	_, _, err := w.perfprov(ctx, fresh, filepath.Join(w.dir, "cache-setup"), "apply", "-auto-approve", "-json", "-inventory", t.inventory, spec)
	return err
}

// unchangedHosts counts the host_summary lines of an apply -json stream with status ok.
func unchangedHosts(stream []byte) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e struct{ Type, Status string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "host_summary" && e.Status == "ok" {
			n++
		}
	}
	return n
}

func perfprovBench(ctx context.Context, w *wan, m mode, t target, cache string) error {
	_, _, err := w.perfprov(ctx, m, cache, "bench", "-json", "-no-save", "-inventory", t.inventory, w.specBench)
	return err
}
