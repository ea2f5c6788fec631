package resource

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestStatPreludeReadsAsStat: a read snippet says the same whether its paths were stat'ed by a
// batch's prelude (one stat for every path) or by the snippet itself.
func TestStatPreludeReadsAsStat(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "a |b c")
	os.WriteFile(odd, []byte("x"), 0o640)
	os.Mkdir(filepath.Join(dir, "d"), 0o750)
	os.Symlink(odd, filepath.Join(dir, "link"))
	elf := filepath.Join(dir, "elf")
	b, _ := os.ReadFile("/bin/true")
	os.WriteFile(elf, b, 0o750)
	var all []Resource
	var paths []string
	for _, p := range []string{odd, filepath.Join(dir, "d"), filepath.Join(dir, "link"), filepath.Join(dir, "missing"), elf} {
		paths = append(paths, p)
		attrs := map[string]cty.Value{"path": s(p)}
		all = append(all,
			mustNew(t, mkres("directory", "d", attrs), nil),
			mustNew(t, mkres("permissions", "p", attrs), nil),
			mustNew(t, mkres("file", "f", map[string]cty.Value{"path": s(p), "content": s("x")}), nil),
			mustNew(t, mkres("capabilities", "c", map[string]cty.Value{"path": s(p), "caps": list("cap_perfmon"), "follow_symlinks": cty.True}), nil))
	}
	prelude := StatPrelude(paths)
	for _, r := range all {
		alone, err := exec.Command("sh", "-c", r.ReadScript()).Output()
		if err != nil {
			t.Fatalf("%s alone: %v", r.Meta().Type, err)
		}
		// After the prelude, a stat of the snippet's own would show (the capabilities' stat of the
		// directories above its path, for captrust, is its own and runs either way).
		batched, err := exec.Command("sh", "-c", prelude+"stat() { case $2 in ct=*) command stat \"$@\";; *) echo fallback-stat-ran;; esac; }\n(\n"+r.ReadScript()+"\n)").Output()
		if err != nil {
			t.Fatalf("%s batched: %v", r.Meta().Type, err)
		}
		if strings.Contains(string(batched), "fallback-stat-ran") {
			t.Errorf("%s: the snippet ran its own stat after the prelude", r.Meta().Type)
		}
		if string(alone) != string(batched) {
			t.Errorf("%s %s: alone\n%s\nafter the prelude\n%s", r.Meta().Type, r.(StatPather).StatPaths()[0], alone, batched)
		}
	}
}
