package hcl

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// maxFileSize bounds what file() and friends read: specs are small, and a mistaken path to a
// large file should fail clearly instead of filling memory.
const maxFileSize = 16 << 20

// moduleFS says where a module's own files live: on disk (fsys nil, dir an OS path) or in the
// embedded built-in modules (fsys set, dir a slash path inside it).
type moduleFS struct {
	fsys fs.FS
	dir  string
}

func (m moduleFS) read(p string) ([]byte, error) {
	if m.fsys != nil && !filepath.IsAbs(p) {
		full := path.Join(m.dir, p)
		return fs.ReadFile(m.fsys, full)
	}
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(m.dir, p)
	}
	st, err := os.Stat(full)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		// Directories, devices and pipes: /dev/zero would never end.
		return nil, fmt.Errorf("%s is not a regular file", full)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", full, maxFileSize>>20)
	}
	return os.ReadFile(full)
}
