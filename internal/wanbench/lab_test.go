package wanbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/internal/testbin"
)

// wan is a lab seen through a wide-area link: one toxiproxy proxy per lab host, in this process,
// each on the host's own loopback address and a port of its own, forwarding to the host's sshd.
// Every client the benchmark runs (perfprov, OpenSSH, x/crypto, Ansible) reaches the hosts only
// through these proxies, with the hosts' keys recorded for the proxy addresses and strict host
// key checking.
type wan struct {
	lab     *testbed.Lab
	bin     string             // the perfprov binary
	proxies []*toxiproxy.Proxy // proxies[i] is in front of lab.Hosts[i]
	hosts   []*testbed.Host    // the lab hosts as reached through their proxies: Address and Port are the proxy's
	rtt     time.Duration      // the round-trip time setRTT set

	dir           string
	knownHosts    string // the proxies' host keys, for perfprov and the x/crypto client
	sshKnownHosts string // the same, a copy of its own for OpenSSH
	inventory1    string // a perfprov inventory of hosts[0]
	inventoryAll  string // every host
	keptRuntime   string // XDG_RUNTIME_DIR of the kept runs: their connection daemon lives there
	freshRuntime  string // XDG_RUNTIME_DIR of the fresh runs (PERFPROV_PERSIST=0: no daemon)
	cache         string // XDG_CACHE_HOME of every run: facts' perf versions, read scripts
	work          string // working directory of every run (audit log, bench history)
	specCommand   string // testdata/command, absolute
	specNoCommand string // testdata/nocommand
	specBench     string // testdata/bench
	playbook      string // testdata/ansible/noop.yml
}

// newWAN starts (or takes) the test binary's lab of n hosts, a proxy in front of each host, and
// writes the known_hosts files and inventories that reach the hosts through the proxies. Latency
// starts at 0; everything stops when b ends.
func newWAN(b *testing.B, n int) *wan {
	b.Helper()
	bin, err := testbin.Perfprov("wanbench")
	if err != nil {
		b.Fatal(err)
	}
	lab := testbed.Require(b, n)
	w := &wan{lab: lab, bin: bin, dir: b.TempDir()}
	for _, d := range []struct {
		p    *string
		name string
	}{{&w.keptRuntime, "run-kept"}, {&w.freshRuntime, "run-fresh"}, {&w.cache, "cache"}, {&w.work, "work"}} {
		*d.p = filepath.Join(w.dir, d.name)
		if err := os.MkdirAll(*d.p, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for _, s := range []struct {
		p    *string
		path string
	}{{&w.specCommand, "command"}, {&w.specNoCommand, "nocommand"}, {&w.specBench, "bench"}, {&w.playbook, "ansible/noop.yml"}} {
		if *s.p, err = filepath.Abs(filepath.Join("testdata", s.path)); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(w.stopDaemon)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var known strings.Builder
	for _, h := range lab.Hosts[:n] {
		upstream := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
		// Port 0 on the host's own address: sshd listens on port 22 of it only, so the proxy gets
		// a free port on an address no other lab uses.
		p := toxiproxy.NewProxy(server, "wan-"+h.Name, net.JoinHostPort(h.Address, "0"), upstream)
		if err := p.Start(); err != nil {
			b.Fatalf("proxy for %s: %v", h.Name, err)
		}
		b.Cleanup(p.Stop)
		addr, port, err := net.SplitHostPort(p.Listen)
		if err != nil {
			b.Fatal(err)
		}
		pn, _ := strconv.Atoi(port)
		w.proxies = append(w.proxies, p)
		w.hosts = append(w.hosts, &testbed.Host{Name: h.Name, Address: addr, Port: pn})
		known.WriteString(testbed.KnownHostsLine(addr, pn, h.HostKey()))
	}
	w.knownHosts = filepath.Join(w.dir, "known_hosts")
	w.sshKnownHosts = filepath.Join(w.dir, "known_hosts.openssh")
	w.inventory1 = filepath.Join(w.dir, "inventory-1.hcl")
	w.inventoryAll = filepath.Join(w.dir, "inventory-all.hcl")
	files := []struct {
		path string
		data []byte
	}{
		{w.knownHosts, []byte(known.String())},
		{w.sshKnownHosts, []byte(known.String())},
		{w.inventory1, testbed.InventoryHCL(lab.KeyPath, w.knownHosts, w.hosts[:1])},
		{w.inventoryAll, testbed.InventoryHCL(lab.KeyPath, w.knownHosts, w.hosts)},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return w
}

// setRTT makes every proxy's round-trip time rtt: a latency toxic of rtt/2 on each direction
// (upstream, client to host, and downstream), so that a message and its answer wait rtt
// together, whichever side speaks first. Toxics apply to the connections already open too: a
// connection the daemon keeps sees the new latency at once.
func (w *wan) setRTT(ctx context.Context, rtt time.Duration) error {
	w.rtt = rtt
	half := rtt.Milliseconds() / 2
	for _, p := range w.proxies {
		p.Toxics.ResetToxics(ctx)
		if half == 0 {
			continue
		}
		for _, stream := range []string{"upstream", "downstream"} {
			js := fmt.Sprintf(`{"name": "latency-%s", "type": "latency", "stream": %q, "toxicity": 1, "attributes": {"latency": %d, "jitter": 0}}`,
				stream, stream, half)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
				return fmt.Errorf("latency toxic on %s: %w", p.Name, err)
			}
		}
	}
	return nil
}

// stopDaemon ends the connection daemon of the kept runs, found by its command line
// (perfprov __persist DIR, with DIR this benchmark's own), so that it lets go of its connections
// with the benchmark rather than after its idle time.
func (w *wan) stopDaemon() {
	dir := filepath.Join(w.keptRuntime, "perfprov")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if len(args) != 3 || args[0] != w.bin || args[1] != "__persist" || args[2] != dir {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

// keepParanoid restores kernel.perf_event_paranoid when the benchmark ends: the bench spec's
// perf_users module sets it, and it is one value for the whole machine.
func keepParanoid(b *testing.B) {
	const p = "/proc/sys/kernel/perf_event_paranoid"
	saved, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.WriteFile(p, saved, 0o644) })
}
