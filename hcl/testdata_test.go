package hcl

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/resource"
)

// A fixture states the errors it must produce with comments: "# want: SUMMARY" at the end of the
// line the error points at, or "# want: LINE: SUMMARY" anywhere in the file.
var wantRe = regexp.MustCompile(`#\s*want:\s*(?:(\d+):\s*)?(.+?)\s*$`)

type want struct {
	file    string
	line    int
	summary string
}

func (w want) String() string { return fmt.Sprintf("%s:%d: %s", w.file, w.line, w.summary) }

func fixtureWants(t *testing.T, path string) []want {
	t.Helper()
	var files []string
	_ = filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".hcl") {
			files = append(files, p)
		}
		return nil
	})
	var out []want
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(src))
		for n := 1; sc.Scan(); n++ {
			m := wantRe.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			line := n
			if m[1] != "" {
				line, _ = strconv.Atoi(m[1])
			}
			out = append(out, want{file: f, line: line, summary: m[2]})
		}
	}
	return out
}

func fixtures(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".hcl") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func TestInvalidFixtures(t *testing.T) {
	for _, path := range fixtures(t, filepath.Join("testdata", "invalid")) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			sp, diags := Load(path, LoadOptions{Resources: resource.Schemas()})
			if sp == nil {
				t.Fatal("Load returned a nil spec")
			}
			wants := fixtureWants(t, path)
			if len(wants) == 0 {
				t.Fatal("fixture has no # want: comments")
			}
			matched := map[*hcl2.Diagnostic]bool{}
			for _, w := range wants {
				found := false
				for _, d := range diags {
					if d.Severity == hcl2.DiagError && d.Subject != nil && d.Subject.Filename == w.file &&
						d.Subject.Start.Line == w.line && d.Summary == w.summary {
						matched[d] = true
						found = true
					}
				}
				if !found {
					t.Errorf("missing error %s", w)
				}
			}
			for _, d := range diags {
				if d.Severity == hcl2.DiagError && !matched[d] {
					t.Errorf("unexpected error: %s", describeDiag(d))
				}
				if d.Severity == hcl2.DiagError && d.Detail == "" {
					t.Errorf("error without detail: %s", describeDiag(d))
				}
			}
			if t.Failed() {
				var buf bytes.Buffer
				WriteDiagnostics(&buf, diags, sp.Files(), false)
				t.Logf("diagnostics:\n%s", buf.String())
			}
		})
	}
}

func describeDiag(d *hcl2.Diagnostic) string {
	if d.Subject == nil {
		return d.Summary + ": " + d.Detail
	}
	return fmt.Sprintf("%s:%d: %s: %s", d.Subject.Filename, d.Subject.Start.Line, d.Summary, d.Detail)
}

func TestValidFixtures(t *testing.T) {
	for _, path := range fixtures(t, filepath.Join("testdata", "valid")) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			sp, diags := Load(path, LoadOptions{Resources: resource.Schemas()})
			if diags.HasErrors() {
				var buf bytes.Buffer
				WriteDiagnostics(&buf, diags, sp.Files(), false)
				t.Fatalf("unexpected errors:\n%s", buf.String())
			}
			for _, h := range sp.Hosts {
				if _, d := sp.Evaluate(h.Name, cty.DynamicVal); d.HasErrors() {
					t.Errorf("Evaluate(%s): %s", h.Name, d.Error())
				}
			}
		})
	}
}

// TestExamplesValidate loads every example with its built-in modules.
func TestExamplesValidate(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "examples", "*"))
	sort.Strings(dirs)
	if len(dirs) < 3 {
		t.Fatalf("expected the examples under ../examples, found %v", dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			sp, diags := Load(dir, LoadOptions{Resources: resource.Schemas()})
			if len(diags) > 0 {
				var buf bytes.Buffer
				WriteDiagnostics(&buf, diags, sp.Files(), false)
				t.Fatalf("diagnostics:\n%s", buf.String())
			}
			if len(sp.Hosts) == 0 {
				t.Fatal("example declares no hosts")
			}
		})
	}
}
