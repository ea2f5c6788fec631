package hcl

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/hcl/funcs"
	"github.com/perfprov/perfprov/provision/resource"
)

// TestDocsCoverLanguage keeps the README's HCL reference in step with the schemas: every
// resource type has a section that names each of its attributes, and every function is listed.
func TestDocsCoverLanguage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	schemas := resource.Schemas()
	// Every section names a type of the catalogue, and every type has a section.
	for _, m := range regexp.MustCompile(`(?m)^##### resource "([a-z_]+)"`).FindAllStringSubmatch(doc, -1) {
		if schemas[m[1]] == nil {
			t.Errorf("docs describe a resource type %q that the catalogue does not have", m[1])
		}
	}
	for typ, rs := range schemas {
		head := "##### resource \"" + typ + "\""
		i := strings.Index(doc, head)
		if i < 0 {
			t.Errorf("docs lack a section %s", head)
			continue
		}
		section := doc[i+len(head):]
		if j := strings.Index(section, "\n#"); j >= 0 {
			section = section[:j]
		}
		for _, a := range rs.Attrs {
			if !strings.Contains(section, "`"+a.Name+"`") {
				t.Errorf("docs section %s lacks attribute %s", head, a.Name)
			}
		}
	}
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
