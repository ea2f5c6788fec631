package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDist runs make dist's script (scripts/dist.sh) into a directory of its own: static
// binaries for amd64 and arm64, a .deb and an .rpm of each, SHA256SUMS that check; then installs
// the amd64 .deb on a lab host with dpkg and runs `perfprov version` there, and removes it again.
func TestDist(t *testing.T) {
	lab, hs := faultHosts(t)
	h := hs[0]
	out := t.TempDir()
	start := time.Now()
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "dist.sh"), out)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/dist.sh: %v\n%s", err, b)
	}
	t.Logf("scripts/dist.sh took %s", time.Since(start).Round(time.Second))
	for _, arch := range []struct{ goarch, elf string }{{"amd64", "EM_X86_64"}, {"arm64", "EM_AARCH64"}} {
		bin := filepath.Join(out, "perfprov-linux-"+arch.goarch)
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		if f.Machine.String() != arch.elf {
			t.Errorf("%s: machine %s, want %s", bin, f.Machine, arch.elf)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s has an interpreter: not static", bin)
			}
		}
		f.Close()
		for _, pattern := range []string{"perfprov_*_" + arch.goarch + ".deb", "perfprov-*." + map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[arch.goarch] + ".rpm"} {
			if m, _ := filepath.Glob(filepath.Join(out, pattern)); len(m) != 1 {
				t.Errorf("%s: %d files, want 1", pattern, len(m))
			}
		}
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = out
	if b, err := check.CombinedOutput(); err != nil || strings.Count(string(b), ": OK") != 6 {
		t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "perfprov_*_amd64.deb"))
	if len(debs) != 1 {
		t.FailNow()
	}
	deb, err := os.ReadFile(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.WriteFile(h, "/tmp/perfprov.deb", deb, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostTry(t, lab, h, "dpkg -r perfprov >/dev/null 2>&1; rm -f /tmp/perfprov.deb") })
	hostExec(t, lab, h, "dpkg -i /tmp/perfprov.deb >/dev/null")
	got := hostExec(t, lab, h, "/usr/bin/perfprov version; stat -c '%a %U' /usr/bin/perfprov; dpkg-query -W -f '${Version}' perfprov")
	lines := strings.Split(got, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "perfprov ") || lines[len(lines)-2] != "755 root" {
		t.Fatalf("on %s after dpkg -i:\n%s", h, got)
	}
	if v := lines[len(lines)-1]; !strings.Contains(lines[0], v) {
		t.Errorf("perfprov version says %q, the package is version %q", lines[0], v)
	}
}
