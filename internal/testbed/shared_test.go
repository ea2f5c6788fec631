package testbed

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSharedMode starts 300 hosts in shared mode, two roots of 150: two /24 networks (240 hosts
// to one), ten sshds per root (16 addresses to one), and logs in to every host with x/crypto,
// strict on the host key recorded in known_hosts. The means to break one host refuse, and Down
// leaves no process behind.
func TestSharedMode(t *testing.T) {
	other := Require(t, 1) // skips under -short and without root, as every lab test
	ctx := context.Background()
	start := time.Now()
	lab, err := Up(ctx, Options{Hosts: 300, Shared: 150, Dir: filepath.Join(t.TempDir(), "lab"), Prefix: "sc", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("300 shared hosts up in %s", time.Since(start).Round(time.Millisecond))
	defer lab.Down(ctx)
	if len(lab.Nets) != 2 || lab.Nets[0] == other.Net || lab.Nets[1] == other.Net {
		t.Fatalf("networks %v (the other lab has %d): want two of their own", lab.Nets, other.Net)
	}
	if h := lab.Hosts[240]; h.Address != fmt.Sprintf("127.0.%d.1", lab.Nets[1]) {
		t.Errorf("host 241 at %s, want the second network's first address", h.Address)
	}
	roots := lab.Roots()
	if len(roots) != 2 || len(roots[0]) != 150 || len(roots[1]) != 150 {
		t.Fatalf("roots of %d groups, want 2 of 150", len(roots))
	}
	keys := map[string]int{}
	for _, h := range lab.Hosts {
		keys[string(h.HostKey().Marshal())]++
	}
	if len(keys) != 20 { // ceil(150/16) = 10 sshds per root, each with its own key
		t.Errorf("%d distinct host keys, want 20 (one per sshd)", len(keys))
	}

	// Every host answers with the key known_hosts records for its address.
	var wg sync.WaitGroup
	errs := make(chan error, len(lab.Hosts))
	sem := make(chan struct{}, 16)
	for i, h := range lab.Hosts {
		want := fmt.Sprintf("sc-shared%d", i/150+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- loginHostname(t, lab, h, want)
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil && failed < 5 {
			t.Error(err)
		}
		if err != nil {
			failed++
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d hosts failed", failed, len(lab.Hosts))
	}
	t.Logf("logged in to 300 hosts after %s", time.Since(start).Round(time.Millisecond))

	if err := lab.Freeze(ctx, "sc1"); err == nil || !strings.Contains(err.Error(), "shared mode") {
		t.Errorf("Freeze on a shared host: %v, want a refusal naming shared mode", err)
	}
	if err := lab.AddHosts(ctx, 1); err == nil {
		t.Error("AddHosts grew a shared-mode lab")
	}
	if out, err := lab.Exec(ctx, "sc300", "hostname"); err != nil || strings.TrimSpace(string(out)) != "sc-shared2" {
		t.Errorf("Exec on sc300: %v %q", err, out)
	}
	namespaces := map[string]bool{}
	for _, h := range lab.Hosts {
		namespaces[h.pidNS] = true
	}
	if err := lab.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := processesIn(namespaces); len(left) > 0 {
		t.Errorf("processes left in the shared roots' namespaces: %v", left)
	}
}

// loginHostname logs in to h as root (host key checked against known_hosts) and checks that
// hostname prints want.
func loginHostname(t *testing.T, lab *Lab, h *Host, want string) error {
	c, err := dialSSH(t, lab, h, "root", nil, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%s (%s): x/crypto ssh with the recorded host key: %w", h.Name, h.Address, err)
	}
	defer c.Close()
	out, err := runSSH(t, c, "hostname", "")
	if err != nil {
		return fmt.Errorf("%s: hostname: %w: %s", h.Name, err, out)
	}
	if got := strings.TrimSpace(out); got != want {
		return fmt.Errorf("%s: hostname says %q, want %q", h.Name, got, want)
	}
	return nil
}
