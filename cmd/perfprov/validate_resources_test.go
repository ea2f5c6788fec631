package main

import (
	"github.com/perfprov/perfprov/spec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/resource"
)

// planCause is the error plan's engine gets preparing addr for host (resource.New, as
// engine.Options.NewResource defaults to), or "" when it prepares.
func planCause(t *testing.T, path, host, addr string) string {
	t.Helper()
	sp, diags := hcl.Load(path, hcl.LoadOptions{})
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
		{"build_env.hcl", "web1", "build.perf", ":9:1", `invalid environment variable name "A B"`, ""},
		{"source_dest.hcl", "web1", "source.libcap", ":9:1", "dest must not be /", ""},
		{"per_host.hcl", "web2", "sysctl.per_host", ":10:1", `invalid sysctl name "kernel..x"`, `This happens for host "web2".`},
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
