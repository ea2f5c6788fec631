package e2e

// The fault matrix's link cases: toxiproxy (in this process) between perfprov and one lab host's
// sshd, on loopback, for a link cut in the middle of an upload and a slow link.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/perfprov/perfprov/internal/testbed"
)

// linkProxy is a toxiproxy proxy in front of one lab host's sshd.
type linkProxy struct {
	proxy *toxiproxy.Proxy
	port  int
}

func newLinkProxy(t *testing.T, lab *testbed.Lab, host string) *linkProxy {
	t.Helper()
	h, err := lab.Host(host)
	if err != nil {
		t.Fatal(err)
	}
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "ssh-"+host, "127.0.0.1:0", net.JoinHostPort(h.Address, strconv.Itoa(h.Port)))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	_, port, _ := net.SplitHostPort(p.Listen)
	n, _ := strconv.Atoi(port)
	return &linkProxy{proxy: p, port: n}
}

// toxic adds a toxic on the client-to-host stream (upstream) or the other (downstream).
func (l *linkProxy) toxic(t *testing.T, name, kind, stream string, attrs string) {
	t.Helper()
	js := fmt.Sprintf(`{"name": %q, "type": %q, "stream": %q, "toxicity": 1, "attributes": %s}`, name, kind, stream, attrs)
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
		t.Fatalf("toxic %s: %v", name, err)
	}
}

func (l *linkProxy) clear(t *testing.T) {
	l.proxy.Toxics.ResetToxics(t.Context())
}

// proxiedInventory reaches host through the proxy: the proxy's address and port, with the host's
// own key recorded for it, strict checking as everywhere.
func proxiedInventory(t *testing.T, lab *testbed.Lab, host string, l *linkProxy) string {
	t.Helper()
	h, err := lab.Host(host)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(fmt.Sprintf("127.0.0.1:%d", l.port))}, h.HostKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := fmt.Sprintf(`connection {
  user              = "root"
  identity_files    = [%q]
  known_hosts       = %q
  keepalive         = "1s"
  host_key_checking = "strict"
}

host %q {
  address = "127.0.0.1"
  port    = %d
}
`, lab.KeyPath, kh, host, l.port)
	p := filepath.Join(dir, "inventory.hcl")
	if err := os.WriteFile(p, []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFaultLinkCutDuringUpload: the link closes after 2 MB, in the middle of the upload of a
// 10 MB source archive: the host is reported with the lost connection; the archive on the host is
// absent or whole, never a prefix; the unpacked tree is the old one; once the link is back, the
// next apply converges and leaves no temporary file.
func TestFaultLinkCutDuringUpload(t *testing.T) {
	lab, hs := faultHosts(t)
	link := newLinkProxy(t, lab, hs[0])
	inv := proxiedInventory(t, lab, hs[0], link)
	spec := faultDiskSpec(t)
	dir := t.TempDir()
	small, big := writeTree(t, dir, "small", 8<<10), writeTree(t, dir, "big", 10<<20)
	blob := writeBlob(t, dir, "blob", 1<<10)
	apply := func(tarball string) result {
		return perfprovEnv(t, t.TempDir(), nil, "apply", "-auto-approve", "-json", "-inventory", inv,
			"-var", "tarball="+tarball, "-var", "blob="+blob, spec)
	}
	mustCode(t, apply(small), 0, "the first apply")
	before := hostExec(t, lab, hs[0], "cat /opt/big/tree/.perfprov-source.sha256")

	link.toxic(t, "cut", "limit_data", "upstream", `{"bytes": 2000000}`)
	r := apply(big)
	mustCode(t, r, 1, "the apply whose link is cut")
	checkOutcome(t, r, nil, hs[0], "upload", "lost")
	if got := hostExec(t, lab, hs[0], "cat /opt/big/tree/.perfprov-source.sha256"); got != before {
		t.Errorf("the tree changed after the cut: %q, then %q", before, got)
	}
	// Every archive in the host's cache is whole: its name is its sha256.
	out := hostExec(t, lab, hs[0], `cd /var/cache/perfprov/sources && for f in *.tar; do [ -e "$f" ] || continue
  [ "$(sha256sum < "$f" | cut -c1-64).tar" = "$f" ] || echo "$f is not whole"; done; exit 0`)
	if out != "" {
		t.Errorf("after the cut: %s", out)
	}
	link.clear(t)
	mustCode(t, apply(big), 0, "the apply once the link is back")
	checkClean(t, lab, hs[0])
}

// TestFaultSlowLink: a 100 MB upload over a link of 20 MB/s completes, whole, and says how far it
// has come as it goes.
func TestFaultSlowLink(t *testing.T) {
	lab, hs := faultHosts(t)
	link := newLinkProxy(t, lab, hs[0])
	inv := proxiedInventory(t, lab, hs[0], link)
	spec := faultDiskSpec(t)
	dir := t.TempDir()
	small := writeTree(t, dir, "small", 8<<10)
	blob := writeBlob(t, dir, "blob", 100<<20)
	link.toxic(t, "slow", "bandwidth", "upstream", `{"rate": 20000}`)
	start := time.Now()
	r := perfprovEnv(t, t.TempDir(), nil, "apply", "-auto-approve", "-json", "-inventory", inv,
		"-var", "tarball="+small, "-var", "blob="+blob, spec)
	mustCode(t, r, 0, "the apply over a slow link")
	// The upload shows how far it has come, about once a second.
	progress := 0
	for _, line := range strings.Split(r.out, "\n") {
		if strings.Contains(line, `"type":"apply_progress"`) && strings.Contains(line, `"address":"file.blob"`) && strings.Contains(line, "MB") {
			progress++
		}
	}
	if progress < 2 {
		t.Errorf("%d progress lines for the 100 MB upload, want one a second:\n%s", progress, r.out)
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("100 MB went through a 20 MB/s link in %.1fs: the toxic did not hold", d.Seconds())
	}
	want := hostExec(t, lab, hs[0], "sha256sum < /opt/big/blob | cut -c1-64")
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256Hex(b); got != want {
		t.Errorf("the uploaded file's sha256 is %s, want %s", want, got)
	}
	checkClean(t, lab, hs[0])
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
