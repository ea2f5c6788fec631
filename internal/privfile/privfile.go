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
func Write(path string, data []byte) error { return WriteMode(path, data, 0o600) }

// WriteMode is Write for a file of the given mode: the retry list (.perfprov/failed) is 0644,
// since it names hosts, not secrets, and scripts of other users may read it.
func WriteMode(path string, data []byte, mode os.FileMode) error {
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
	if mode != 0o600 {
		if err := tmp.Chmod(mode); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
