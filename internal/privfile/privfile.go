// Package privfile writes the controller's private files (caches, plans): readable by their
// owner only, and replaced whole, so that a reader never sees half of one.
package privfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Write writes data to path, 0600, through a temporary file in the same directory renamed over
// it. The directory is made (0700) when missing.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
