package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/hcl/funcs"
	"github.com/perfprov/perfprov/provision/resource"
)

// TestDocsCoverLanguage keeps the HCL reference (docs/language.md) in step with the language:
// every function and every block is described. (The resource types' tables are generated from
// their schemas: provision/resource's TestResourceDocs.)
func TestDocsCoverLanguage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "language.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, f := range funcs.Names() {
		if !strings.Contains(doc, "`"+f+"`") && !strings.Contains(doc, "`"+f+"(") {
			t.Errorf("docs lack function %s", f)
		}
	}
	for _, block := range []string{"host", "group", "connection", "variable", "locals", "resource", "module", "output", "rollout", "benchmark"} {
		if !strings.Contains(doc, "### `"+block+"`") {
			t.Errorf("docs lack block %s", block)
		}
	}
}

// TestDocsExamplesValidate loads every ```hcl example of the README and docs/ as a spec of its
// own: each must validate, unless the line before it says `<!-- fragment -->` (a piece of a
// bigger spec, shown for one attribute), and a fragment must still parse.
func TestDocsExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	files = append(files, filepath.Join("..", "README.md"))
	block := regexp.MustCompile("(?s)(<!-- fragment -->\\n)?```hcl\\n(.*?)```")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllStringSubmatchIndex(string(b), -1) {
			n++
			fragment := m[2] >= 0
			text := string(b)[m[4]:m[5]]
			line := 1 + strings.Count(string(b)[:m[0]], "\n")
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(dir, LoadOptions{Resources: resource.Schemas()})
			for _, d := range diags {
				if d.Severity != hcl2.DiagError {
					continue
				}
				parse := d.Summary == "Invalid block definition" || strings.Contains(d.Summary, "Argument or block definition required") || strings.HasPrefix(d.Summary, "Unclosed") || strings.HasPrefix(d.Summary, "Invalid character")
				if !fragment || parse {
					t.Errorf("%s:%d: the example does not validate: %s: %s", filepath.Base(f), line, d.Summary, d.Detail)
					break
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("found %d hcl examples: the pattern must be wrong", n)
	}
}
