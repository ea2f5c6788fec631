package hcl

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/resource"
)

// FuzzLoad feeds arbitrary text to the loader as a one-file spec: nothing may panic (Load turns a
// panic into an "Internal error" diagnostic, which fails the test too). The seed corpus is every
// fixture and example file, so plain `go test` runs them all.
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"testdata/*/*.hcl", "testdata/*/*/*.hcl", "testdata/*/*/*/*.hcl", "../examples/*/*.hcl", "../modules/builtin/*/*.hcl"} {
		m, _ := filepath.Glob(pattern)
		seeds = append(seeds, m...)
	}
	if len(seeds) < 20 {
		f.Fatalf("only %d seed files", len(seeds))
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("host \"a\" {\n  address = \"10.0.0.1\"\n}\nresource \"command\" \"x\" {\n  count = 3\n  run = \"${count.index}\"\n}\n")
	f.Add("locals {\n  a = [for x in range(3) : x * 2]\n}\n")
	f.Add("resource \"file\" \"x\" {\n  path = \"/x\"\n  content = jsonencode({ a = try(host.facts.nope, 1) })\n}\n")
	facts := cty.ObjectVal(map[string]cty.Value{"cap_last_cap": cty.NumberIntVal(40), "os_id": cty.StringVal("debian"),
		"package_manager": cty.StringVal("apt"), "kernel_release": cty.StringVal("6.1.0"),
		"perf": cty.ObjectVal(map[string]cty.Value{"version": cty.StringVal("6.1")})})
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		sp, diags := Load(dir, LoadOptions{Resources: resource.Schemas()})
		if sp == nil {
			t.Fatal("nil spec")
		}
		for _, d := range diags {
			if strings.HasPrefix(d.Summary, "Internal error") {
				t.Fatalf("%s: %s", d.Summary, d.Detail)
			}
		}
		WriteDiagnostics(io.Discard, diags, sp.Files(), true)
		_ = JSONDiagnostics(diags, sp.Files())
		if diags.HasErrors() {
			return
		}
		for _, h := range sp.Hosts {
			for _, fv := range []cty.Value{cty.DynamicVal, facts} {
				_, d := sp.Evaluate(h.Name, fv)
				for _, x := range d {
					if strings.HasPrefix(x.Summary, "Internal error") {
						t.Fatalf("Evaluate: %s: %s", x.Summary, x.Detail)
					}
				}
			}
		}
	})
}
