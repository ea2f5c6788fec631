package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/perfprov/perfprov/internal/privfile"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/provision/resource"
)

// Speculative read: a host's plan needs two round trips, facts and then the batched read, because
// the read scripts come from the spec evaluated with the facts. But a spec and a host rarely change
// between two runs, so the read scripts of a host are most often those of its previous run. The
// facts command therefore also carries the host's previous read scripts (remembered on the
// controller, ReadCache); when this run's scripts turn out to be the very same text, that output
// is this run's read and the second round trip is saved. When they differ, the output is dropped
// and the read runs as usual. Either way what the plan is made of is the output of this run's
// read scripts, run on the host during this run.
//
// Two conditions keep it the same read: the read must run as root, so with a root login it goes
// in the facts command itself, and otherwise in a privileged command of its own sent beside the
// facts (both in one round trip on a kept connection, whose helper takes requests in a row); and nothing
// sensitive is remembered (it must not be written to the controller's disk). A command's guards
// (creates, unless, only_if) are remembered with the rest: they are reads by the command type's
// contract, and the previous run ran the very same text, so at most a guard the spec has since
// dropped runs once more, its output unused.

// Speculation is one host's speculative read: planHost hands it to the Gather, which runs the
// host's previous read scripts with the facts when it can (CachedGather does; a Gather that
// cannot ignores it). It is nil when the run has no ReadCache.
type Speculation struct {
	timeout time.Duration // the read's timeout (the facts command carries it)
	cache   *ReadCache

	// Set by the Gather that ran a speculative read (ran true); marker frames its output.
	ran            bool
	plan           readPlan
	marker         string
	stdout, stderr []byte
	// remember records the read plan of this run for the next one (nil: no cache; a nil plan
	// forgets the host).
	remember func(rp *readPlan)
}

// readPlan is what a batched read runs: a prelude in the script's shell (package prelude), then
// the snippets.
type readPlan struct {
	Pre      prelude.Plan `json:"pre"`
	Snippets []string     `json:"snippets"`
	// InShell says which snippets run in the script's own shell (resource.InShellReader).
	InShell []bool `json:"in_shell,omitempty"`
	// Privileged: the login is not root, so the read runs through become in a command of its
	// own, beside the facts (the facts run as the login user).
	Privileged bool `json:"privileged,omitempty"`
}

func (rp *readPlan) equal(o *readPlan) bool {
	return rp.Pre.Equal(o.Pre) && slices.Equal(rp.Snippets, o.Snippets) && slices.Equal(rp.InShell, o.InShell)
}

func (rp *readPlan) script(marker string) string {
	return batchScript(marker, prelude.Script(rp.Pre), rp.Snippets, rp.InShell)
}

// use returns the speculative read's sections when it ran exactly rp.
func (sp *Speculation) use(rp *readPlan) ([]resource.Section, []error, bool) {
	if sp == nil || !sp.ran || !sp.plan.equal(rp) {
		return nil, nil, false
	}
	secs, errs := parseBatch(sp.stdout, sp.stderr, sp.marker, len(rp.Snippets))
	return secs, errs, true
}

// pureRead reports whether a resource's read snippet may be remembered and run speculatively.
func pureRead(rr *ResourceResult) bool {
	for _, sensitive := range rr.meta.Sensitive {
		if sensitive {
			return false
		}
	}
	return true
}

// ReadCache remembers, per host, the read plan of its last plan. It is only an optimisation:
// a missing or corrupt file is an empty cache, and a failure to save is ignored. It is written
// once at the end of a run's plans when a host's snippets changed (written per change, a
// 1,000-host fleet whose scripts all changed marshalled the whole cache 1,000 times: tens of
// CPU seconds), private to the user: read scripts name paths and users. The caller opens it for
// a run and passes it in Options.ReadCache.
type ReadCache struct {
	path    string
	mu      sync.Mutex
	entries map[string]*readPlan
	dirty   bool
}

// ReadCacheFile is the cache's file name, beside the perf version cache.
const ReadCacheFile = "read-scripts.json"

// OpenReadCache returns the cache kept in path ("" for one that is never saved).
func OpenReadCache(path string) *ReadCache {
	c := &ReadCache{path: path, entries: map[string]*readPlan{}}
	if path != "" {
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &c.entries) != nil {
			c.entries = map[string]*readPlan{} // a cache of another format: start afresh
		}
	}
	return c
}

func (c *ReadCache) get(host string) *readPlan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[host]
}

// put records host's read plan (nil forgets the host) and saves the cache when that changed it.
func (c *ReadCache) put(host string, rp *readPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.entries[host]
	if old == nil && rp == nil || old != nil && rp != nil && old.equal(rp) {
		return
	}
	if rp == nil {
		delete(c.entries, host)
	} else {
		c.entries[host] = rp
	}
	c.dirty = true
}

// save writes the cache when a put changed it.
func (c *ReadCache) save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.path == "" || !c.dirty {
		return nil
	}
	c.dirty = false
	b, err := json.Marshal(c.entries)
	if err != nil {
		return err
	}
	if err := privfile.Write(c.path, b); err != nil {
		return fmt.Errorf("read script cache: %w", err)
	}
	return nil
}
