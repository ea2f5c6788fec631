package engine

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenAuditLogRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, path string) // puts something at path; nil: nothing
		wantErr string                          // "" opens; else a part of the one-line error
		root    bool                            // needs root (to give a file to another user)
	}{
		{name: "new file", setup: nil},
		{name: "existing private file", setup: func(t *testing.T, p string) { writeAuditFixture(t, p, 0o600) }},
		{name: "existing wider file is narrowed", setup: func(t *testing.T, p string) { writeAuditFixture(t, p, 0o644) }},
		{name: "symbolic link", wantErr: "is a symbolic link", setup: func(t *testing.T, p string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			writeAuditFixture(t, target, 0o600)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "dangling symbolic link", wantErr: "is a symbolic link", setup: func(t *testing.T, p string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "nothing"), p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", wantErr: "not a regular file", setup: func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
		}},
		{name: "another user's file", wantErr: "is owned by uid 65534, not by you", root: true, setup: func(t *testing.T, p string) {
			writeAuditFixture(t, p, 0o600)
			if err := os.Chown(p, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("needs root to make a file of another user")
			}
			path := filepath.Join(t.TempDir(), "logs", "audit.log")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, path)
			}
			a, err := OpenAuditLog(path)
			if tc.wantErr != "" {
				if a != nil {
					a.Close()
				}
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line naming %s with %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
			fi, err := os.Lstat(path)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("audit log: %v, %v; want a regular file of mode 0600", fi, err)
			}
		})
	}
}

func writeAuditFixture(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("{}\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}
