package resource

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/resources.md")

const resourcesDoc = "../../docs/resources.md"

// TestResourceDocs keeps docs/resources.md in step with the catalogue: each type's heading, its
// sentence and its attribute table are generated from its schema (between the markers), so they
// cannot drift. -update rewrites them; what follows each table is written by hand.
func TestResourceDocs(t *testing.T) {
	b, err := os.ReadFile(filepath.FromSlash(resourcesDoc))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	got := regenerate(doc)
	for _, typ := range Types() {
		if !strings.Contains(got, beginMarker(typ)) {
			t.Errorf("docs/resources.md has no generated section for resource %q (add %q and %q where it goes, then -update)", typ, beginMarker(typ), endMarker)
		}
	}
	if got == doc {
		return
	}
	if *update {
		if err := os.WriteFile(filepath.FromSlash(resourcesDoc), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/resources.md is not what the schemas say: go test ./provision/resource -run TestResourceDocs -update")
}

const endMarker = "<!-- end of generated part -->"

func beginMarker(typ string) string {
	return fmt.Sprintf("<!-- generated from the schema of %q by TestResourceDocs (-update) -->", typ)
}

var generatedPart = regexp.MustCompile(`(?s)<!-- generated from the schema of "([a-z_]+)" by TestResourceDocs \(-update\) -->\n.*?` + regexp.QuoteMeta(endMarker))

// regenerate replaces every generated part of doc with what the schemas say now.
func regenerate(doc string) string {
	schemas := Schemas()
	return generatedPart.ReplaceAllStringFunc(doc, func(part string) string {
		typ := generatedPart.FindStringSubmatch(part)[1]
		rs := schemas[typ]
		if rs == nil {
			return part // no such type: left as is, and the test above says so for the types it knows
		}
		return beginMarker(typ) + "\n" + schemaMarkdown(rs) + endMarker
	})
}

// schemaMarkdown is a type's heading, sentence and attribute table.
func schemaMarkdown(rs *spec.ResourceSchema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## resource %q\n\n%s\n\n| Attribute | Type | Default | Description |\n|---|---|---|---|\n", rs.Type, rs.Doc)
	for _, a := range rs.Attrs {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, typeexpr.TypeString(a.Type), defaultText(a), strings.ReplaceAll(a.Doc, "|", `\|`))
	}
	for _, group := range rs.OneOf {
		fmt.Fprintf(&b, "\nExactly one of `%s` must be set.\n", strings.Join(group, "`, `"))
	}
	b.WriteString("\n")
	return b.String()
}

func defaultText(a spec.AttrSchema) string {
	switch {
	case a.Required:
		return "**required**"
	case a.Default == cty.NilVal || a.Default.IsNull():
		return "unset"
	}
	switch a.Default.Type() {
	case cty.String:
		return fmt.Sprintf("`%q`", a.Default.AsString())
	case cty.Bool:
		if a.Default.True() {
			return "`true`"
		}
		return "`false`"
	case cty.Number:
		return "`" + a.Default.AsBigFloat().Text('f', -1) + "`"
	}
	if a.Default.CanIterateElements() && a.Default.LengthInt() == 0 {
		if a.Default.Type().IsMapType() || a.Default.Type().IsObjectType() {
			return "`{}`"
		}
		return "`[]`"
	}
	return "(see below)"
}
