//go:build linux

package ssh_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// watchTemps reports every temporary file of an upload to a file in dir that another user could
// have opened when it was created: one made beside the target with group or other bits, or one
// made in a temporary directory that others could enter. It hears creations from inotify, so it
// sees a file at once, before the uploader's next request could change its mode. stop ends it and
// returns what it saw.
func watchTemps(t *testing.T, dir string) (stop func() []string) {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	dirs := map[int32]string{}
	wd, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	dirs[int32(wd)] = dir
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				off += syscall.SizeofInotifyEvent + int(ev.Len)
				parent := dirs[ev.Wd]
				p := filepath.Join(parent, name)
				if parent != dir { // a file in a temporary directory: the directory must be closed
					if fi, err := os.Lstat(parent); err == nil && fi.Mode().Perm()&0o077 != 0 {
						seen = append(seen, fmt.Sprintf("%s created in a directory of mode %v", p, fi.Mode().Perm()))
					}
					continue
				}
				fi, err := os.Lstat(p)
				switch {
				case err != nil:
				case fi.IsDir():
					if wd, err := syscall.InotifyAddWatch(fd, p, syscall.IN_CREATE); err == nil {
						dirs[int32(wd)] = p
					}
				case fi.Mode().Perm()&0o077 != 0:
					seen = append(seen, fmt.Sprintf("%s created with mode %v", p, fi.Mode().Perm()))
				}
			}
		}
	}()
	return func() []string {
		f.Close()
		<-done
		return seen
	}
}

// checkingReader runs check before its first read, when the temporary file exists and is empty.
type checkingReader struct {
	io.Reader
	once  sync.Once
	check func()
}

func (r *checkingReader) Read(p []byte) (int, error) {
	r.once.Do(r.check)
	return r.Reader.Read(p)
}

func TestSSHUploadTempNeverExposed(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
	}{
		{"group readable target", "secret\n", 0o640},
		{"world readable target", strings.Repeat("big ", 300000), 0o644},
		{"private target", "", 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "conf")
			stop := watchTemps(t, dir)
			var during string
			r := &checkingReader{Reader: strings.NewReader(tc.content), check: func() {
				tmps, _ := filepath.Glob(filepath.Join(dir, ".conf.perfprov-*", ssh.UploadTempFile))
				if len(tmps) != 1 {
					during = fmt.Sprintf("temporary files %q, want one in a private directory", tmps)
				} else if fi, err := os.Lstat(filepath.Dir(tmps[0])); err != nil || fi.Mode().Perm() != 0o700 {
					during = fmt.Sprintf("%s: %v, %v; want mode 0700", filepath.Dir(tmps[0]), fi, err)
				}
			}}
			err := c.Upload(context.Background(), target, r, tc.mode)
			seen := stop()
			if err != nil {
				t.Fatal(err)
			}
			if during != "" {
				t.Errorf("while writing: %s", during)
			}
			for _, s := range seen {
				t.Errorf("seen during the upload: %s", s)
			}
			if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != tc.mode {
				t.Errorf("target: %v, %v; want mode %v", fi, err, tc.mode)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("left beside the target: %v", entries)
			}
		})
	}
}

func TestSSHUploadRemovesStaleTemps(t *testing.T) {
	c, _ := sshtest.Connected(t, sshtest.Options{})
	dir := t.TempDir()
	elsewhere := t.TempDir()
	keep := filepath.Join(elsewhere, ssh.UploadTempFile)
	for _, w := range []struct {
		path string
		dir  bool
	}{
		{filepath.Join(dir, ".conf.perfprov-0123456789ab"), true},
		{filepath.Join(dir, ".conf.perfprov-0123456789ab", ssh.UploadTempFile), false},
		{filepath.Join(dir, ".conf.perfprov-ba9876543210"), false}, // an old-style temporary file
		{keep, false},
	} {
		var err error
		if w.dir {
			err = os.Mkdir(w.path, 0o700)
		} else {
			err = os.WriteFile(w.path, []byte("partial"), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, ".conf.perfprov-feedfacecafe")); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "conf")
	if err := c.Upload(context.Background(), target, strings.NewReader("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "conf" {
		t.Errorf("left: %v", entries)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("a file behind a symbolic link was removed: %v", err)
	}
}
