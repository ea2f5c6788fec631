package facts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/perfprov/perfprov/internal/privfile"
)

// PerfCache remembers, per host, the version an ELF perf printed with the fingerprint of that
// file, so that later gatherings need not start perf again (see Options.KnownPerf). It is only an
// optimisation: a missing, unreadable or corrupt cache file is an empty cache, and an entry is
// used only when the host's perf is still the very same file.
type PerfCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]KnownPerf
	dirty   bool
}

// PerfCachePath returns the cache file under the user's cache directory, read through getenv
// (XDG_CACHE_HOME, else HOME/.cache), or "" when there is none.
func PerfCachePath(getenv func(string) string) string {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home := getenv("HOME")
		if home == "" || !filepath.IsAbs(home) {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "perfprov", "perf-versions.json")
}

// OpenPerfCache reads the cache at path ("" for a cache that is never saved).
func OpenPerfCache(path string) *PerfCache {
	c := &PerfCache{path: path, entries: map[string]KnownPerf{}}
	if path == "" {
		return c
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c
	}
	var entries map[string]KnownPerf
	if json.Unmarshal(b, &entries) == nil {
		for k, v := range entries {
			if v.Fingerprint != "" && v.Version != "" {
				c.entries[k] = v
			}
		}
	}
	return c
}

// Path is the cache's file ("" for a cache that is never saved): other controller caches of
// per-host knowledge live beside it.
func (c *PerfCache) Path() string { return c.path }

// Get returns what is known of host's perf (the zero KnownPerf when nothing).
func (c *PerfCache) Get(host string) KnownPerf {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[host]
}

// Put records host's facts: its perf's version when it can be reused, else forgets the host.
func (c *PerfCache) Put(host string, f *Facts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := f.KnownPerf()
	old, had := c.entries[host]
	switch {
	case ok && (!had || old != k):
		c.entries[host] = k
		c.dirty = true
	case !ok && had:
		delete(c.entries, host)
		c.dirty = true
	}
}

// Save writes the cache when it changed: to a private temporary file, renamed into place.
func (c *PerfCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return nil
	}
	b, err := json.MarshalIndent(c.entries, "", "  ")
	if err != nil {
		return err
	}
	if err := privfile.Write(c.path, append(b, '\n')); err != nil {
		return fmt.Errorf("perf version cache: %w", err)
	}
	c.dirty = false
	return nil
}
