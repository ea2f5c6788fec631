package script

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAsUserWithoutRunuser: on a host without runuser (busybox systems: Alpine), a root login
// switches users with su; where runuser exists it is the one used. The outer shell is busybox
// sh, Alpine's /bin/sh, with a PATH that has su but no runuser.
func TestAsUserWithoutRunuser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs root")
		}
		t.Skip("needs root: switching users")
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		runuser bool
		want    string
	}{
		{"su", false, "nobody\n"},
		{"runuser", true, "fake runuser\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The target user runs the tools too: a directory it can reach (t.TempDir is 0700).
			bin, err := os.MkdirTemp("", "perfprov-asuser-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(bin) })
			if err := os.Chmod(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, tool := range []string{"su", "head", "id"} {
				p, err := exec.LookPath(tool)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.runuser {
				if err := os.WriteFile(filepath.Join(bin, "runuser"), []byte("#!/bin/sh\necho fake runuser\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			c := exec.Command(busybox, "sh", "-c", AsUser("root", "nobody", StdinBoot))
			c.Dir = "/"
			c.Env = []string{"PATH=" + bin}
			c.Stdin = Framed("id -un", nil)
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			if err := c.Run(); err != nil {
				t.Fatalf("%v: %s", err, errb.String())
			}
			if out.String() != tt.want {
				t.Errorf("ran as %q, want %q (stderr %q)", out.String(), tt.want, strings.TrimSpace(errb.String()))
			}
		})
	}
}
