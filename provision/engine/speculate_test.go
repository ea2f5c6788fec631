package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/perfprov/perfprov/provision/facts"
)

// TestSpeculativeRead: with CachedGather, a host whose read scripts are those of its previous
// plan is planned in one command (facts and read together) when the login is root, and the plan
// is the same as with two: what it reads is the host as it is now, not as it was last time.
func TestSpeculativeRead(t *testing.T) {
	dir := t.TempDir()
	f := newFleet(dir, 1, fakeDecl{name: "a", want: "1"}, fakeDecl{name: "b", want: "2"})
	cache := facts.OpenPerfCache(filepath.Join(dir, "cache", "perfprov", "perf-versions.json"))
	opts := f.options()
	opts.Gather = CachedGather(cache, func(h string) string { return h })
	readCachePath := filepath.Join(dir, "cache", "perfprov", ReadCacheFile)
	root := os.Geteuid() == 0
	plan := func(wantRuns int32) *Run {
		t.Helper()
		// Each run opens the cache afresh, as each perfprov command does.
		opts.ReadCache = OpenReadCache(readCachePath)
		r := Plan(context.Background(), f.spec, f.hosts, opts)
		r.Close()
		if h := r.Hosts[0]; h.Err != nil {
			t.Fatalf("plan: %v", h.Err)
		}
		if got := f.conns["h1"].runs.Load(); got != wantRuns {
			t.Errorf("the plan ran %d commands, want %d", got, wantRuns)
		}
		return r
	}
	one := int32(2) // facts, then read: speculation is for root logins only
	if root {
		one = 1
	}

	plan(2) // nothing remembered yet
	if _, err := os.Stat(readCachePath); root && err != nil {
		t.Errorf("the read scripts were not remembered: %v", err)
	}
	r := plan(one)
	if a, c, _, _ := r.Hosts[0].Changes(); a != 2 || c != 0 {
		t.Errorf("add %d change %d, want 2 creates", a, c)
	}

	// The host changes between runs: the speculative read sees it as it is now.
	os.WriteFile(filepath.Join(dir, "h1", "a"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "h1", "b"), []byte("old"), 0o644)
	r = plan(one)
	if a, c, _, u := r.Hosts[0].Changes(); a != 0 || c != 1 || u != 1 {
		t.Errorf("add %d change %d unchanged %d, want 1 change and 1 unchanged", a, c, u)
	}

	// The spec changes: the remembered scripts no longer match, so the read runs again.
	f.spec.resources = append(f.spec.resources, fakeDecl{name: "c", want: "3"})
	r = plan(2)
	if a, c, _, u := r.Hosts[0].Changes(); a != 1 || c != 1 || u != 1 {
		t.Errorf("add %d change %d unchanged %d after the spec changed", a, c, u)
	}
	plan(one)

	// A sensitive resource's read is never remembered.
	f.spec.resources = append(f.spec.resources, fakeDecl{name: "s", want: "x", sensitive: true})
	plan(2)
	plan(2)
}

func TestReadCacheKeepsWhatChanged(t *testing.T) {
	p := filepath.Join(t.TempDir(), "perfprov", ReadCacheFile)
	c := OpenReadCache(p)
	c.put("h1", &readPlan{Snippets: []string{"echo a"}})
	c.put("h2", &readPlan{Snippets: []string{"echo b"}})
	c.put("h2", nil)
	if err := c.save(); err != nil { // once, at the end of the run's plans
		t.Fatal(err)
	}
	// The next run reads what was saved.
	d := OpenReadCache(p)
	if got := d.get("h1"); got == nil || len(got.Snippets) != 1 || got.Snippets[0] != "echo a" {
		t.Errorf("h1: %+v", got)
	}
	if got := d.get("h2"); got != nil {
		t.Errorf("h2 was forgotten, got %+v", got)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v %v", st, err)
	}
}

// TestNoReadCacheNoSpeculation: without Options.ReadCache every plan reads in a round trip of
// its own, and nothing is written beside the perf cache.
func TestNoReadCacheNoSpeculation(t *testing.T) {
	dir := t.TempDir()
	f := newFleet(dir, 1, fakeDecl{name: "a", want: "1"})
	cache := facts.OpenPerfCache(filepath.Join(dir, "cache", "perfprov", "perf-versions.json"))
	opts := f.options()
	opts.Gather = CachedGather(cache, func(h string) string { return h })
	for i := 0; i < 2; i++ {
		r := Plan(context.Background(), f.spec, f.hosts, opts)
		r.Close()
		if h := r.Hosts[0]; h.Err != nil {
			t.Fatalf("plan: %v", h.Err)
		}
	}
	if got := f.conns["h1"].runs.Load(); got != 2 {
		t.Errorf("the last plan ran %d commands, want 2 (facts, then read)", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "perfprov", ReadCacheFile)); err == nil {
		t.Error("a read cache was written without Options.ReadCache")
	}
}
