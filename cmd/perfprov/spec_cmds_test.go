package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/view"
)

// specCLI runs perfprov with args and an empty environment (no colour, no PERFPROV_VAR_*).
func specCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// validOutput is what validate prints for a valid spec (the counts change as modules grow).
var validOutput = regexp.MustCompile(`^Success! The spec is valid: [0-9]+ hosts?, [0-9]+ resources?\.\n$`)

func TestValidateExamples(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*"))
	if len(dirs) < 3 {
		t.Fatalf("examples: %q", dirs)
	}
	for _, dir := range dirs {
		code, out, errs := specCLI(t, "validate", dir)
		if code != 0 || !validOutput.MatchString(out) || errs != "" {
			t.Errorf("validate %s: exit %d\nstdout: %s\nstderr: %s", dir, code, out, errs)
		}
	}
	if _, out, _ := specCLI(t, "validate", filepath.Join("..", "..", "examples", "fleet")); !strings.HasPrefix(out, "Success! The spec is valid: 5 hosts, ") {
		t.Errorf("fleet: %s", out)
	}
}

func TestValidateErrors(t *testing.T) {
	path := filepath.Join("..", "..", "hcl", "testdata", "invalid", "unknown_attribute.hcl")
	code, out, errs := specCLI(t, "validate", path)
	if code != 1 || out != "" {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	for _, s := range []string{
		"Error: Unsupported argument\n\n  on " + path + ":3:3, in host \"a\":\n  3:   prot    = 22",
		`Did you mean "port"?`,
		`Did you mean "owner"?`,
		"The spec has 2 errors.\n",
	} {
		if !strings.Contains(errs, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errs)
		}
	}
	if strings.Contains(errs, "goroutine") || strings.Contains(errs, "panic") {
		t.Errorf("stderr shows a stack trace:\n%s", errs)
	}
}

func TestValidateJSON(t *testing.T) {
	path := filepath.Join("..", "..", "hcl", "testdata", "invalid", "cycle.hcl")
	code, out, _ := specCLI(t, "validate", "-json", path)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		Valid        bool `json:"valid"`
		ErrorCount   int  `json:"error_count"`
		WarningCount int  `json:"warning_count"`
		Diagnostics  []struct {
			Severity, Summary, Detail string
			Range                     struct {
				Filename string
				Start    struct{ Line, Column, Byte int }
				End      struct{ Line, Column, Byte int }
			}
			Snippet *struct {
				Code string `json:"code"`
			}
		}
	}
	if err := json.Unmarshal([]byte(strings.Join(jsonBody(t, out, "validate", view.StreamValidate), "\n")), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if res.Valid || res.ErrorCount != 1 || res.WarningCount != 0 || len(res.Diagnostics) != 1 {
		t.Fatalf("result = %+v", res)
	}
	d := res.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Dependency cycle" || d.Range.Filename != path || d.Range.Start.Line != 1 ||
		d.Range.Start.Column != 1 || !strings.Contains(d.Detail, "resource.command.a -> resource.command.b -> resource.command.a") ||
		d.Snippet == nil || !strings.HasPrefix(d.Snippet.Code, `resource "command" "a"`) {
		t.Errorf("diagnostic = %+v", d)
	}
	code, out, _ = specCLI(t, "validate", "-json", filepath.Join("..", "..", "examples", "fleet"))
	if code != 0 || !strings.Contains(out, `"valid":true`) || !strings.Contains(out, `"diagnostics":[]`) {
		t.Errorf("valid spec: exit %d\n%s", code, out)
	}
}

func TestSpecCommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate", "a", "b"},
		{"validate", "-nope"},
		{"fmt", "-check", "a", "b"},
		{"plan", "-offline", "-detailed-exitcode", "."},
		{"plan", "-offline", "-limit", "nosuchhost", filepath.Join("..", "..", "examples", "fleet")},
	} {
		if code, _, errs := specCLI(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, errs)
		}
	}
	if code, _, errs := specCLI(t, "validate", "-var", "nope=1", filepath.Join("..", "..", "examples", "fleet")); code != 1 ||
		!strings.Contains(errs, "Value for undeclared variable") {
		t.Errorf("-var undeclared: exit %d\n%s", code, errs)
	}
	if code, out, errs := specCLI(t, "validate", filepath.Join("..", "..", "examples", "fleet"), "-json"); code != 0 || !strings.Contains(out, `"valid":true`) {
		t.Errorf("flags after PATH: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := specCLI(t, "validate", "-var", `members=["alice","carol"]`, filepath.Join("..", "..", "examples", "fleet")); code != 0 {
		t.Errorf("-var members: exit %d\n%s", code, errs)
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	messy := "host \"a\" {\naddress=\"10.0.0.1\"\n    port = 22\n}\n"
	tidy := "host \"a\" {\n  address = \"10.0.0.1\"\n  port    = 22\n}\n"
	file := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(file, []byte(messy), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out, _ := specCLI(t, "fmt", "-check", "-diff", dir)
	if code != 1 || !strings.HasPrefix(out, file+"\n--- "+file) || !strings.Contains(out, "-address=\"10.0.0.1\"\n-    port = 22\n+  address = \"10.0.0.1\"") {
		t.Errorf("fmt -check: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(file); string(b) != messy {
		t.Error("fmt -check changed the file")
	}
	if code, out, _ = specCLI(t, "fmt", dir); code != 0 || out != file+"\n" {
		t.Errorf("fmt: exit %d\n%s", code, out)
	}
	b, _ := os.ReadFile(file)
	st, _ := os.Stat(file)
	if string(b) != tidy || st.Mode().Perm() != 0o640 {
		t.Errorf("formatted to %q, mode %v", b, st.Mode())
	}
	if code, out, _ = specCLI(t, "fmt", "-check", dir); code != 0 || out != "" {
		t.Errorf("fmt -check after fmt: exit %d %q", code, out)
	}
	broken := filepath.Join(dir, "broken.hcl")
	os.WriteFile(broken, []byte("host \"b\" {\n"), 0o644)
	if code, _, errs := specCLI(t, "fmt", dir); code != 1 || !strings.Contains(errs, "Unclosed configuration block") {
		t.Errorf("fmt of a broken file: exit %d\n%s", code, errs)
	}
	// The repository's own specs are formatted.
	for _, p := range []string{"../../examples", "../../modules/builtin", "../../hcl/testdata/valid"} {
		if code, out, errs := specCLI(t, "fmt", "-check", "-recursive", p); code != 0 {
			t.Errorf("%s is not formatted: %s%s", p, out, errs)
		}
	}
}

func TestPlanOfflineGolden(t *testing.T) {
	specs := map[string]string{
		"cap-perfmon": filepath.Join("..", "..", "examples", "cap-perfmon"),
		"fleet":       filepath.Join("..", "..", "examples", "fleet"),
		"localhost":   filepath.Join("..", "..", "examples", "localhost"),
		"full":        filepath.Join("..", "..", "hcl", "testdata", "valid", "full"),
	}
	for name, dir := range specs {
		for _, variant := range []struct {
			suffix string
			args   []string
		}{{".txt", nil}, {".json", []string{"-json"}}} {
			args := append([]string{"plan", "-offline"}, variant.args...)
			code, out, errs := specCLI(t, append(args, dir)...)
			if code != 0 || errs != "" {
				t.Errorf("plan -offline %s: exit %d\n%s", name, code, errs)
				continue
			}
			if variant.args != nil {
				// The golden file holds the document after the header line, indented.
				var ind bytes.Buffer
				if err := json.Indent(&ind, []byte(strings.Join(jsonBody(t, out, "plan", view.StreamPlanOffline), "\n")), "", "  "); err != nil {
					t.Fatalf("plan -offline -json %s: %v\n%s", name, err, out)
				}
				out = ind.String() + "\n"
			}
			golden := filepath.Join("testdata", "plans", name+variant.suffix)
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("plan -offline %s differs from %s (go test -update rewrites it):\n%s", name, golden, out)
			}
		}
	}
	code, out, _ := specCLI(t, "plan", "-offline", "-limit", "db", specs["fleet"])
	if code != 0 || !strings.Contains(out, `host "db1"`) || strings.Contains(out, `host "web1"`) || !strings.Contains(out, "2 hosts, ") {
		t.Errorf("plan -offline -limit db: exit %d\n%s", code, out)
	}
}
