package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/perfprov/perfprov/internal/privfile"
	"github.com/perfprov/perfprov/provision/resource"
)

// MemoCache keeps, per host, what resources' reads learned of files that depend on the files
// alone (resource.Memo: a content hash, getcap, an ELF header), so that a read of a file that
// did not change since does not start the processes that learned it. It is only an
// optimisation: a missing or corrupt file is an empty cache, and a failure to save is ignored.
//
// A memo is given to a resource only once it is confirmed: a second read, at least memoSettle
// after the first, printed the same lines for the same fingerprint. A file written again within
// the tick of its filesystem's clock in which the first read saw it would keep its fingerprint
// with another content; the second read, later than any such tick, would see that content. Any
// later write changes the fingerprint (its ctime).
type MemoCache struct {
	path  string
	key   func(host string) string
	mu    sync.Mutex
	hosts map[string]map[string]*memoEntry
	dirty bool
}

type memoEntry struct {
	Memo      resource.Memo `json:"memo"`
	Seen      int64         `json:"seen"` // the controller's clock at the first read that printed it (Unix ms)
	Confirmed bool          `json:"confirmed,omitempty"`
}

// MemoCacheFile is the cache's file name, beside the perf version cache.
const MemoCacheFile = "read-memos.json"

// memoSettle is how long after a first read a second one confirms a memo: longer than the
// coarsest filesystem clock a binary with file capabilities lives on (1 s; FAT's 2 s cannot
// hold them).
const memoSettle = 3 * time.Second

// OpenMemoCache returns the cache kept in path ("" for one that is never saved); key names a
// host in it (the inventory's name may be given to another machine later: see factsCacheKey).
func OpenMemoCache(path string, key func(host string) string) *MemoCache {
	c := &MemoCache{path: path, key: key, hosts: map[string]map[string]*memoEntry{}}
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &c.hosts) != nil {
			c.hosts = map[string]map[string]*memoEntry{}
		}
	}
	return c
}

func (c *MemoCache) hostKey(host string) string {
	if c.key == nil {
		return host
	}
	return c.key(host)
}

// get returns host's confirmed memo under k (the zero Memo when there is none).
func (c *MemoCache) get(host, k string) resource.Memo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.hosts[c.hostKey(host)][k]; e != nil && e.Confirmed {
		return e.Memo
	}
	return resource.Memo{}
}

// observe records that a read of host printed m under k at now.
func (c *MemoCache) observe(host, k string, m resource.Memo, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hk := c.hostKey(host)
	if c.hosts[hk] == nil {
		c.hosts[hk] = map[string]*memoEntry{}
	}
	e := c.hosts[hk][k]
	switch {
	case e != nil && e.Memo.Fingerprint == m.Fingerprint && slices.Equal(e.Memo.Lines, m.Lines):
		if !e.Confirmed && now.Sub(time.UnixMilli(e.Seen)) >= memoSettle {
			e.Confirmed, c.dirty = true, true
		}
	default:
		c.hosts[hk][k] = &memoEntry{Memo: m, Seen: now.UnixMilli()}
		c.dirty = true
	}
}

// Save writes the cache when it changed: to a private temporary file, renamed into place.
func (c *MemoCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return nil
	}
	b, err := json.Marshal(c.hosts)
	if err != nil {
		return err
	}
	if err := privfile.Write(c.path, b); err != nil {
		return fmt.Errorf("read memo cache: %w", err)
	}
	c.dirty = false
	return nil
}

// useMemo gives a resource its host's confirmed memo, before its read script is made.
func (r *Run) useMemo(h *HostRun, res resource.Resource) {
	mz, ok := res.(resource.Memoizer)
	if !ok || r.opts.Memo == nil {
		return
	}
	if k := mz.MemoKey(); k != "" {
		mz.UseMemo(r.opts.Memo.get(h.Name, k))
	}
}

// learnMemo records what a resource's read printed that its next reads may reuse.
func (r *Run) learnMemo(h *HostRun, res resource.Resource, sec resource.Section, now time.Time) {
	mz, ok := res.(resource.Memoizer)
	if !ok || r.opts.Memo == nil {
		return
	}
	k := mz.MemoKey()
	if m, ok := resource.ParseMemo(sec.Stdout); ok && k != "" && mz.KeepMemo(m.Lines) {
		r.opts.Memo.observe(h.Name, k, m, now)
	}
}

// saveMemo writes the memo cache and the read script cache at the end of a run's reads (a
// failure only costs time).
func (r *Run) saveMemo() {
	if r.opts.Memo != nil {
		_ = r.opts.Memo.Save()
	}
	_ = r.opts.ReadCache.save()
}
