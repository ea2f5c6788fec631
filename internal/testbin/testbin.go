// Package testbin builds the perfprov binary for tests that drive it as a user does (the lab's
// integration tests and the fleet benchmarks).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Perfprov builds cmd/perfprov into a fixed directory under TMPDIR named after the calling test
// package (testbed.Main exits without returning, so a per-run directory could never be
// removed). The build is renamed into place, so a binary another test run is executing is never
// rewritten under it.
func Perfprov(pkg string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("perfprov-%s-bin-%d", pkg, os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".perfprov-%d", os.Getpid()))
	out, err := exec.Command("go", "build", "-o", tmp, "github.com/perfprov/perfprov/cmd/perfprov").CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building perfprov: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "perfprov")
	return bin, os.Rename(tmp, bin)
}
