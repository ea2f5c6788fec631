package hcl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/provision/resource"
)

// Pathological specs: each must give an error diagnostic with a clear summary, within a bounded
// time and memory, and never crash, hang or read outside the spec tree. The bounds are generous
// (this is a robustness check, not a benchmark): a load that needs them is broken.
const (
	pathoDeadline = 20 * time.Second
	pathoMaxHeap  = 1 << 30
)

// pathoCase builds a spec (in t.TempDir() or a fixture under testdata/pathological) and says what
// Load must report about it.
type pathoCase struct {
	name    string
	build   func(t *testing.T) string // returns the spec path
	summary string                    // an error diagnostic's summary must contain this ("": no errors)
	detail  string                    // and its detail this ("" for any)
	file    string                    // and its subject must be in a file ending so ("" for none needed)
}

func fixture(dir string) func(*testing.T) string {
	return func(*testing.T) string { return filepath.Join("testdata", "pathological", dir) }
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

const depth = 10000

func pathoCases() []pathoCase {
	return []pathoCase{
		{name: "nested brackets", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n}\n"})
			}},
		{name: "unclosed nested brackets", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = " + strings.Repeat("[", depth) + "\n}\n"})
			}},
		{name: "nested objects", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = " + strings.Repeat("{a = ", depth) + "1" + strings.Repeat("}", depth) + "\n}\n"})
			}},
		{name: "nested blocks", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "resource \"file\" \"x\" {\n" + strings.Repeat("b {\n", depth) + strings.Repeat("}\n", depth) + "}\n"})
			}},
		{name: "nested parentheses and templates", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = " + strings.Repeat("(\"${", depth) + "1" + strings.Repeat("}\")", depth) + "\n}\n"})
			}},
		{name: "nested brackets a million deep", summary: "Nesting too deep", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = " + strings.Repeat("[", 1000000) + "\n}\n"})
			}},
		// A 10 MB string is within the limit of a spec file: it loads, and is evaluated per host.
		{name: "10 MB string", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "host \"a\" {\n  address = \"192.0.2.1\"\n}\nlocals {\n  a = \"" + strings.Repeat("x", 10<<20) + "\"\n}\n" +
					"resource \"file\" \"big\" {\n  path    = \"/big\"\n  content = \"${local.a}${local.a}\"\n}\n"})
			}},
		{name: "10 MB unterminated string", summary: "Unterminated template string", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = \"" + strings.Repeat("x", 10<<20) + "\n"})
			}},
		{name: "20 MB spec file", summary: "Spec file too large", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = \"" + strings.Repeat("x", 20<<20) + "\"\n}\n"})
			}},
		{name: "module file is a device", summary: "Cannot read a module file", detail: "not a regular file", file: "zero.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "module \"m\" {\n  source = \"./m\"\n}\n", "m/main.hcl": "locals {\n  a = 1\n}\n"})
				symlink(t, "/dev/zero", filepath.Join(dir, "m", "zero.hcl"))
				return dir
			}},
		// Many declarations: each expression's context holds what it reads, not the whole module.
		{name: "50,000 chained locals",
			build: func(t *testing.T) string {
				var b strings.Builder
				b.WriteString("host \"a\" {\n  address = \"192.0.2.1\"\n}\nlocals {\n  a0 = 0\n")
				for i := 1; i < 50000; i++ {
					fmt.Fprintf(&b, "  a%d = local.a%d + 1\n", i, i-1)
				}
				b.WriteString("}\n")
				return writeSpec(t, map[string]string{"main.hcl": b.String()})
			}},
		{name: "20,000 resources",
			build: func(t *testing.T) string {
				var b strings.Builder
				b.WriteString("host \"a\" {\n  address = \"192.0.2.1\"\n}\n")
				for i := 0; i < 20000; i++ {
					fmt.Fprintf(&b, "resource \"file\" \"f%d\" {\n  path    = \"/f%d\"\n  content = \"x\"\n}\n", i, i)
				}
				return writeSpec(t, map[string]string{"main.hcl": b.String()})
			}},
		{name: "cyclic locals", build: fixture("cyclic_locals"), summary: "Dependency cycle", file: "main.hcl"},
		{name: "module that uses itself", build: fixture("self_module"), summary: "Module calls itself", file: "mod/main.hcl"},
		{name: "modules A uses B uses A", build: fixture("mutual_modules"), summary: "Module calls itself", file: "b/main.hcl"},
		{name: "module source ../../etc", build: fixture("climb_out/spec"), summary: "Module source outside the spec", detail: "../../etc", file: "spec/main.hcl"},
		{name: "absolute module source", summary: "Module source outside the spec", detail: "/etc", file: "main.hcl",
			build: func(t *testing.T) string {
				return writeSpec(t, map[string]string{"main.hcl": "module \"etc\" {\n  source = \"/etc\"\n}\n"})
			}},
		{name: "module symlinked out of the tree", summary: "Module source outside the spec", file: "main.hcl",
			build: func(t *testing.T) string {
				out := writeSpec(t, map[string]string{"x.hcl": "locals {\n  secret = 1\n}\n"})
				dir := writeSpec(t, map[string]string{"main.hcl": "module \"m\" {\n  source = \"./m\"\n}\n"})
				symlink(t, out, filepath.Join(dir, "m"))
				return dir
			}},
		{name: "symlink loop of spec files", summary: "Cannot read a spec file", detail: "too many levels of symbolic links", file: "a.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = 1\n}\n"})
				symlink(t, "b.hcl", filepath.Join(dir, "a.hcl"))
				symlink(t, "a.hcl", filepath.Join(dir, "b.hcl"))
				return dir
			}},
		{name: "symlink loop of module directories", summary: "Module source not found", file: "main.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "module \"m\" {\n  source = \"./loop\"\n}\n"})
				symlink(t, "loop", filepath.Join(dir, "loop"))
				return dir
			}},
		{name: "directory symlinked to itself", summary: "Module calls itself", file: "main.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "module \"m\" {\n  source = \"./self\"\n}\n"})
				symlink(t, ".", filepath.Join(dir, "self"))
				return dir
			}},
		{name: "spec file is a device", summary: "Cannot read a spec file", detail: "not a regular file", file: "zero.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = 1\n}\n"})
				symlink(t, "/dev/zero", filepath.Join(dir, "zero.hcl"))
				return dir
			}},
		{name: "spec file is a fifo", summary: "Cannot read a spec file", detail: "not a regular file", file: "fifo.hcl",
			build: func(t *testing.T) string {
				dir := writeSpec(t, map[string]string{"main.hcl": "locals {\n  a = 1\n}\n"})
				if err := syscall.Mkfifo(filepath.Join(dir, "fifo.hcl"), 0o644); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
				return dir
			}},
	}
}

func TestPathologicalSpecs(t *testing.T) {
	for _, tc := range pathoCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.build(t)
			diags, elapsed, peak := loadBounded(t, path)
			t.Logf("%s: %d diagnostics in %v, peak heap %d MiB", tc.name, len(diags), elapsed.Round(time.Millisecond), peak>>20)
			if peak > pathoMaxHeap {
				t.Errorf("peak heap %d MiB, want under %d MiB", peak>>20, pathoMaxHeap>>20)
			}
			if tc.summary == "" {
				if diags.HasErrors() {
					t.Fatalf("want no errors, got:\n%s", diagList(diags))
				}
				return
			}
			d := findDiag(diags, tc.summary, tc.detail)
			if d == nil {
				t.Fatalf("no error diagnostic %q (detail %q) among:\n%s", tc.summary, tc.detail, diagList(diags))
			}
			if strings.HasPrefix(d.Summary, "Internal error") {
				t.Fatalf("internal error: %s", d.Detail)
			}
			if tc.file == "" {
				return
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q has no source position, want one in %s", d.Summary, tc.file)
			}
			if !strings.HasSuffix(filepath.ToSlash(d.Subject.Filename), tc.file) || d.Subject.Start.Line < 1 || d.Subject.Start.Column < 1 {
				t.Errorf("diagnostic at %s:%d:%d, want a position in %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, tc.file)
			}
		})
	}
}

// loadBounded loads the spec at path in a goroutine and fails the test if it takes longer than
// pathoDeadline or panics past Load's own recover. It samples the heap while the load runs.
func loadBounded(t *testing.T, path string) (hcl2.Diagnostics, time.Duration, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pathoDeadline)
	defer cancel()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > before.HeapAlloc && ms.HeapAlloc-before.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc - before.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	type result struct {
		diags hcl2.Diagnostics
		err   error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		sp, diags := Load(path, LoadOptions{Resources: resource.Schemas()})
		if sp == nil {
			done <- result{err: fmt.Errorf("nil spec")}
			return
		}
		done <- result{diags: diags}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		close(stop)
		t.Fatalf("Load(%s) did not finish within %v", path, pathoDeadline)
	}
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	if res.err != nil {
		t.Fatalf("Load(%s): %v", path, res.err)
	}
	return res.diags, elapsed, peak.Load()
}

func findDiag(diags hcl2.Diagnostics, summary, detail string) *hcl2.Diagnostic {
	for _, d := range diags {
		if d.Severity == hcl2.DiagError && strings.Contains(d.Summary, summary) && strings.Contains(d.Detail, detail) {
			return d
		}
	}
	return nil
}

func diagList(diags hcl2.Diagnostics) string {
	var b strings.Builder
	for i, d := range diags {
		if i == 20 {
			fmt.Fprintf(&b, "  ... %d more\n", len(diags)-i)
			break
		}
		detail := d.Detail
		if len(detail) > 200 {
			detail = detail[:200] + "..."
		}
		pos := "-"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(&b, "  %s: %s: %s\n", pos, d.Summary, detail)
	}
	return b.String()
}
