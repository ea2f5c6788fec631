package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestSysctlPersistLocal reads a real /proc/sys value (read only) and edits a drop-in in a
// temporary directory. The wanted value is the current one, so the runtime is never written.
func TestSysctlPersistLocal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the drop-in is written root:root")
	}
	cur, err := os.ReadFile("/proc/sys/kernel/domainname")
	if err != nil {
		t.Skip("no /proc/sys/kernel/domainname")
	}
	value := strings.TrimSpace(string(cur))
	dropin := filepath.Join(t.TempDir(), "sysctl.d", "99-zz-test.conf")
	os.MkdirAll(filepath.Dir(dropin), 0o755)
	// Another key's line, and no newline at the end: both must survive.
	os.WriteFile(dropin, []byte("# keep me\nkernel.kptr_restrict = 1"), 0o644)
	c := &localConn{}
	r := mustNew(t, mkres("sysctl", "d", map[string]cty.Value{"name": s("kernel.domainname"), "value": s(value), "persist_file": s(dropin)}), nil)
	_, d, err := diffLocal(t, c, r)
	if err != nil || changeAttrs(d) != "persist_file" {
		t.Fatalf("diff %+v, %v", d, err)
	}
	converge(t, c, r, nil)
	b, _ := os.ReadFile(dropin)
	want := "# keep me\nkernel.kptr_restrict = 1\nkernel.domainname = " + value + "\n"
	if string(b) != want {
		t.Errorf("drop-in\n%q\nwant\n%q", b, want)
	}
	for _, sc := range c.scripts {
		if strings.Contains(sc, "/proc/sys") && strings.Contains(sc, ">") && !strings.Contains(sc, "< \"$f\"") {
			t.Errorf("the runtime value was written:\n%s", sc)
		}
	}
}
