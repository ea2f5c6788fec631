package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWaves applies one host and counts its commands: the batched read of the plan, then one
// command per wave of independent scripted changes (applies, verifying reads and the reads of
// what comes next), and a resource that is not scripted as before (its apply, its verify).
func TestWaves(t *testing.T) {
	sc := func(name string, deps ...string) fakeDecl {
		return fakeDecl{name: name, want: "v-" + name, deps: deps, scripted: true}
	}
	tests := []struct {
		name     string
		decls    []fakeDecl
		inSync   []string // resources whose file already holds the wanted value
		commands int32
		want     map[string]Status
		errs     map[string]string // resource -> part of its error
	}{
		{name: "independent changes go in one command",
			decls:    []fakeDecl{sc("a"), sc("b"), sc("c")},
			commands: 2,
			want:     map[string]Status{"a": StatusChanged, "b": StatusChanged, "c": StatusChanged}},
		{name: "one command per dependency level",
			decls:    []fakeDecl{sc("a"), sc("b"), sc("c"), sc("d", "fake.a"), sc("e", "fake.b"), sc("f", "fake.d")},
			commands: 1 + 3,
			want:     map[string]Status{"a": StatusChanged, "d": StatusChanged, "e": StatusChanged, "f": StatusChanged}},
		{name: "members in sync are not applied",
			decls:    []fakeDecl{sc("a"), sc("b")},
			inSync:   []string{"a"},
			commands: 2,
			want:     map[string]Status{"a": StatusOK, "b": StatusChanged}},
		{name: "nothing to change costs the plan's read only",
			decls:    []fakeDecl{sc("a"), sc("b", "fake.a")},
			inSync:   []string{"a", "b"},
			commands: 1,
			want:     map[string]Status{"a": StatusOK, "b": StatusOK}},
		{name: "a failure in a wave fails only it and its dependents",
			decls:    []fakeDecl{sc("a"), {name: "b", want: "v-b", fail: "nope", scripted: true}, sc("c"), sc("d", "fake.b"), sc("e", "fake.a")},
			commands: 1 + 2,
			want:     map[string]Status{"a": StatusChanged, "b": StatusFailed, "c": StatusChanged, "d": StatusSkipped, "e": StatusChanged},
			errs:     map[string]string{"b": "write failed (exit 1): nope"}},
		{name: "a change that did not stick fails its verify",
			decls:    []fakeDecl{{name: "liar", want: "v", noStick: true, scripted: true}, sc("b")},
			commands: 2,
			want:     map[string]Status{"liar": StatusFailed, "b": StatusChanged},
			errs:     map[string]string{"liar": "verify: still differs after apply"}},
		{name: "a resource that is not scripted between two waves",
			decls: []fakeDecl{sc("a"), {name: "upload", want: "v-upload", deps: []string{"fake.a"}}, sc("g", "fake.upload")},
			// the plan's read; wave a; upload's read (not in-shell, so not read ahead), its apply
			// and its verify (which reads g too); wave g
			commands: 1 + 1 + 3 + 1,
			want:     map[string]Status{"a": StatusChanged, "upload": StatusChanged, "g": StatusChanged}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFleet(dir, 1, tc.decls...)
			for _, name := range tc.inSync {
				for _, d := range tc.decls {
					if d.name == name {
						os.WriteFile(filepath.Join(dir, "h1", name), []byte(d.want), 0o644)
					}
				}
			}
			r := fleetRun(t, f, f.options())
			h := r.Hosts[0]
			for _, rr := range h.Resources {
				name := strings.TrimPrefix(rr.Addr, "fake.")
				if w, ok := tc.want[name]; ok && rr.Status != w {
					t.Errorf("%s: %s (%v), want %s", name, rr.Status, rr.Err, w)
				}
				if w := tc.errs[name]; w != "" && (rr.Err == nil || !strings.Contains(rr.Err.Error(), w)) {
					t.Errorf("%s: error %v, want one with %q", name, rr.Err, w)
				}
				if rr.Status == StatusChanged {
					if b, _ := os.ReadFile(filepath.Join(dir, "h1", name)); string(b) != "v-"+name {
						t.Errorf("%s: file holds %q after its change", name, b)
					}
				}
			}
			if n := f.conns["h1"].runs.Load(); n != tc.commands {
				t.Errorf("%d commands, want %d", n, tc.commands)
			}
		})
	}
}
