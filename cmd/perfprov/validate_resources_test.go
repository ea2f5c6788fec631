package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// planCause is the error plan's engine gets preparing addr for host (resource.New, as
// engine.Options.NewResource defaults to), or "" when it prepares.
func planCause(t *testing.T, path, host, addr string) string {
	t.Helper()
	sp, diags := hcl.Load(path, hcl.LoadOptions{Resources: resource.Schemas()})
	if diags.HasErrors() {
		t.Fatalf("load %s: %v", path, diags)
	}
	hc, diags := sp.Evaluate(host, cty.DynamicVal)
	if diags.HasErrors() {
		t.Fatalf("evaluate %s: %v", host, diags)
	}
	for _, r := range hc.Resources {
		if r.Addr == addr {
			if _, err := resource.New(r, nil); err != nil {
				return err.Error()
			}
			return ""
		}
	}
	t.Fatalf("%s has no %s", host, addr)
	return ""
}

func TestValidateResourceRules(t *testing.T) {
	for _, tc := range []struct {
		file, host, addr, pos string
		want                  string // part of plan's cause, which validate must report
		note                  string // the hosts note, when not every host has the problem
	}{
		{"sysctl_newline.hcl", "web1", "sysctl.paranoid", ":9:1", "must be a non-empty single line", ""},
		{"sysctl_persist_file.hcl", "web1", "sysctl.paranoid", ":9:1", "must end in .conf", ""},
		{"source_dest.hcl", "web1", "source.libcap", ":9:1", "dest must not be /", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "validate", tc.file)
			cause := planCause(t, path, tc.host, tc.addr)
			if !strings.Contains(cause, tc.want) {
				t.Fatalf("plan's cause %q lacks %q", cause, tc.want)
			}
			code, out, errs := specCLI(t, "validate", path)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
			}
			for _, s := range []string{"on " + path + tc.pos, tc.addr + ": " + cause, tc.note, "The spec has 1 error.\n"} {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			if tc.note == "" && strings.Contains(errs, "This happens for host") {
				t.Errorf("every host has it, yet stderr names hosts:\n%s", errs)
			}
		})
	}
}

// TestValidateCatalogueRules: rules of the catalogue that the loader applies itself, at the
// attribute, for every host (the same rules resource.New applies before a plan).
func TestValidateCatalogueRules(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"build_env.hcl", `build_env.hcl:12,14-29: Invalid value for env; "A B" is not a valid environment variable name.`},
		{"per_host.hcl", `per_host.hcl:11,11-57: Invalid value for name; "kernel..x" is not a sysctl parameter name such as "kernel.perf_event_paranoid". This happens when evaluating for host "web2".`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "validate", tc.file)
			_, diags := hcl.Load(path, hcl.LoadOptions{Resources: resource.Schemas()})
			if !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("load: %v, want %q", diags, tc.want)
			}
			if code, out, _ := specCLI(t, "validate", path); code != 1 || out != "" {
				t.Errorf("validate: exit %d, stdout %q", code, out)
			}
		})
	}
}

func TestValidateResourceRulesUnknown(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the source's archive is looked up there, not fetched
	path := filepath.Join("testdata", "validate", "valid_unknown.hcl")
	if code, out, errs := specCLI(t, "validate", path); code != 0 || !validOutput.MatchString(out) || errs != "" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

func TestValidateResourceRulesSensitive(t *testing.T) {
	r := &spec.Resource{Addr: "sysctl.s", Type: "sysctl",
		Attrs:     map[string]cty.Value{"value": cty.StringVal("secret\nline")},
		Sensitive: map[string]bool{"value": true}}
	for _, tc := range []struct{ msg, want string }{
		{`sysctl value "secret\nline" must be a single line`, `sysctl value "(sensitive value)" must be a single line`},
		{"raw secret\nline here", "raw (sensitive value) here"},
	} {
		if got := redactSensitive(tc.msg, r); got != tc.want {
			t.Errorf("redactSensitive(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
