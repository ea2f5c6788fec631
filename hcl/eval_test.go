package hcl

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// writeSpec writes files into a temporary spec directory.
func writeSpec(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, dir string, opts LoadOptions) *Spec {
	t.Helper()
	sp, diags := Load(dir, opts)
	if diags.HasErrors() {
		var buf bytes.Buffer
		WriteDiagnostics(&buf, diags, sp.Files(), false)
		t.Fatalf("Load: %s", buf.String())
	}
	return sp
}

func mustEval(t *testing.T, sp *Spec, host string, facts cty.Value) *spec.HostConfig {
	t.Helper()
	hc, diags := sp.Evaluate(host, facts)
	if diags.HasErrors() {
		var buf bytes.Buffer
		WriteDiagnostics(&buf, diags, sp.Files(), false)
		t.Fatalf("Evaluate(%s): %s", host, buf.String())
	}
	return hc
}

func TestConnectionPrecedence(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	web1, db1 := sp.Host("web1"), sp.Host("db1")
	// top: user deploy, timeout 15s; group web (declared first): port 2200; group eu: user eu-admin.
	want := spec.Connection{Type: "ssh", User: "eu-admin", Port: 2200, Timeout: 15 * time.Second,
		IdentityFiles: []string{filepath.Join("testdata", "valid", "full", "keys", "id_ed25519")}}
	if !reflect.DeepEqual(web1.Conn, want) {
		t.Errorf("web1.Conn = %+v, want %+v", web1.Conn, want)
	}
	if web1.Port != 2200 || !reflect.DeepEqual(web1.Groups, []string{"eu", "web"}) {
		t.Errorf("web1 port %d groups %v", web1.Port, web1.Groups)
	}
	if db1.Conn.User != "dba" || db1.Conn.HostKeyChecking != "accept-new" ||
		!reflect.DeepEqual(db1.Conn.Jump, []string{"bastion.example.net", "ops@192.0.2.99:2222"}) {
		t.Errorf("db1.Conn = %+v", db1.Conn)
	}
	// vars: web {role, tier 1} < eu {region, tier 2} < host {tier 3}
	vars := web1.Vars.AsValueMap()
	if vars["role"].AsString() != "web" || vars["region"].AsString() != "eu" || !vars["tier"].RawEquals(cty.NumberIntVal(3)) {
		t.Errorf("web1.Vars = %#v", web1.Vars)
	}
	if g := sp.Groups[0]; g.Name != "web" || !reflect.DeepEqual(g.Hosts, []string{"web1"}) {
		t.Errorf("group web = %+v", g)
	}
	if sp.Rollout != (spec.Rollout{Parallel: 5, BatchPercent: 50, MaxFailPercentage: 10}) {
		t.Errorf("Rollout = %+v", sp.Rollout)
	}
}

func addrs(rs []*spec.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Addr)
	}
	return out
}

func TestEvaluateOrderAndDependencies(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	facts := cty.ObjectVal(map[string]cty.Value{"cap_last_cap": cty.NumberIntVal(40)})
	hc := mustEval(t, sp, "web1", facts)
	want := []string{
		"module.grp.group.this",
		`user.members["alice"]`,
		`user.members["bob"]`,
		`directory.dirs["cache"]`,
		`directory.dirs["logs"]`,
		"file.motd",
		"command.warm[0]",
		"command.warm[1]",
		"command.token",
		"sysctl.paranoid",
		"capabilities.perf",
	}
	if got := addrs(hc.Resources); !reflect.DeepEqual(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
	byAddr := map[string]*spec.Resource{}
	for _, r := range hc.Resources {
		byAddr[r.Addr] = r
	}
	checkDeps := func(addr string, want ...string) {
		t.Helper()
		if got := byAddr[addr].DependsOn; !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s.DependsOn = %q, want %q", addr, got, want)
		}
	}
	checkDeps(`user.members["alice"]`, "module.grp.group.this")
	checkDeps("command.warm[1]", "file.motd")
	checkDeps("command.token", `directory.dirs["cache"]`, `directory.dirs["logs"]`)
	checkDeps("capabilities.perf", "module.grp.group.this", "sysctl.paranoid")
	checkDeps("file.motd")

	caps := byAddr["capabilities.perf"].Attrs["caps"]
	if !caps.RawEquals(cty.ListVal([]cty.Value{cty.StringVal("cap_perfmon"), cty.StringVal("cap_syslog")})) {
		t.Errorf("caps with cap_last_cap 40 = %#v", caps)
	}
	if got := byAddr["command.warm[1]"].Attrs["run"].AsString(); got != "echo 1 WEB1" {
		t.Errorf("command.warm[1].run = %q", got)
	}
	if got := byAddr["sysctl.paranoid"].Attrs["value"].AsString(); got != "2" {
		t.Errorf("sysctl value = %q", got)
	}
	if got := byAddr[`user.members["bob"]`].Attrs["groups"]; !got.RawEquals(cty.ListVal([]cty.Value{cty.StringVal("perf_users")})) {
		t.Errorf("user groups = %#v", got)
	}
	if got := byAddr["file.motd"].Attrs["content"].AsString(); !strings.HasPrefix(got, "Profiling here: alice bob \nManaged by perfprov. (web, ") {
		t.Errorf("motd = %q", got)
	}
	if got := byAddr["file.motd"].Attrs["mode"].AsString(); got != "0644" {
		t.Errorf("file mode default = %q", got)
	}
	if r := byAddr["module.grp.group.this"]; r.Module != "module.grp" || r.Dir != filepath.Join("testdata", "valid", "full", "mod") {
		t.Errorf("module resource Module %q Dir %q", r.Module, r.Dir)
	}
	if len(hc.Benchmarks) != 1 {
		t.Fatalf("benchmarks: %d", len(hc.Benchmarks))
	}
	b := hc.Benchmarks[0]
	if b.RunAs != "alice" || b.Perf != "/opt/perf/bin/perf" || b.Tolerance != 0.02 || b.Repeat != 2 || !b.RequireHardwareCounters ||
		!reflect.DeepEqual(b.Events, []string{"cycles", "instructions"}) {
		t.Errorf("benchmark = %+v", b)
	}

	// db1: the module and the users are for the web group only; the facts say no CAP_PERFMON.
	old := cty.ObjectVal(map[string]cty.Value{"cap_last_cap": cty.NumberIntVal(37)})
	hc = mustEval(t, sp, "db1", old)
	for _, r := range hc.Resources {
		if strings.HasPrefix(r.Addr, "module.grp") || strings.HasPrefix(r.Addr, "user.") {
			t.Errorf("db1 got %s", r.Addr)
		}
		if r.Addr == "capabilities.perf" {
			if !reflect.DeepEqual(r.DependsOn, []string{"sysctl.paranoid"}) {
				t.Errorf("db1 capabilities deps %q", r.DependsOn)
			}
			if r.Attrs["caps"].Index(cty.NumberIntVal(0)).AsString() != "cap_sys_admin" {
				t.Errorf("db1 caps = %#v", r.Attrs["caps"])
			}
		}
	}
	if len(hc.Benchmarks) != 0 {
		t.Errorf("db1 benchmarks = %d, want 0 (hosts = [web1])", len(hc.Benchmarks))
	}
	// Offline: facts unknown.
	hc = mustEval(t, sp, "web1", cty.DynamicVal)
	for _, r := range hc.Resources {
		if r.Addr == "capabilities.perf" && r.Attrs["caps"].IsWhollyKnown() {
			t.Errorf("offline caps should be unknown, got %#v", r.Attrs["caps"])
		}
	}
}

func TestSensitiveValues(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	hc := mustEval(t, sp, "web1", cty.DynamicVal)
	for _, r := range hc.Resources {
		for name, v := range r.Attrs {
			if v.ContainsMarked() {
				t.Errorf("%s.%s is marked; Attrs must be unmarked", r.Addr, name)
			}
		}
		if r.Addr == "command.token" {
			if !r.Sensitive["run"] || r.Sensitive["unless"] {
				t.Errorf("command.token Sensitive = %v", r.Sensitive)
			}
			if r.Attrs["run"].AsString() != "use-token s3cr3t-token" {
				t.Errorf("run = %q", r.Attrs["run"].AsString())
			}
		}
	}

	// A failing validation and a type error never echo the value.
	dir := writeSpec(t, map[string]string{"main.hcl": `
variable "password" {
  type      = string
  sensitive = true
  validation {
    condition     = length(var.password) >= 12
    error_message = "The password is too short."
  }
}
variable "pin" {
  type      = number
  sensitive = true
}
resource "command" "c" {
  run = "login ${var.password} ${var.pin}"
}
`})
	sp, diags := Load(dir, LoadOptions{Resources: resource.Schemas(), Vars: []string{"password=hunter2xyz", "pin=hunter3abc"}})
	if !diags.HasErrors() {
		t.Fatal("expected errors")
	}
	var buf bytes.Buffer
	WriteDiagnostics(&buf, diags, sp.Files(), false)
	for _, secret := range []string{"hunter2xyz", "hunter3abc"} {
		if strings.Contains(buf.String(), secret) || strings.Contains(diags.Error(), secret) {
			t.Errorf("diagnostics echo %q:\n%s", secret, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "The password is too short.") {
		t.Errorf("validation message missing:\n%s", buf.String())
	}
}

func TestVariablePrecedence(t *testing.T) {
	dir := writeSpec(t, map[string]string{
		"main.hcl": `
variable "a" { default = "default" }
variable "b" { default = "default" }
variable "c" { default = "default" }
variable "d" { default = "default" }
variable "n" {
  type    = number
  default = 1
}
variable "l" {
  type    = list(string)
  default = []
}
host "h" {
  connection {
    type = "local"
  }
}
resource "command" "x" {
  run = join(",", concat([var.a, var.b, var.c, var.d, tostring(var.n)], var.l))
}
`,
		"one.vars": `b = "file1"
c = "file1"
d = "file1"
`,
		"two.vars": `c = "file2"
d = "file2"
l = ["x", "y"]
`,
	})
	env := map[string]string{"PERFPROV_VAR_a": "env", "PERFPROV_VAR_b": "env", "PERFPROV_VAR_n": "7"}
	sp := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas(),
		Vars:     []string{"d=cli1", "d=cli2"},
		VarFiles: []string{filepath.Join(dir, "one.vars"), filepath.Join(dir, "two.vars")},
		Getenv:   func(k string) string { return env[k] },
	})
	hc := mustEval(t, sp, "h", cty.DynamicVal)
	if got := hc.Resources[0].Attrs["run"].AsString(); got != "env,file1,file2,cli2,7,x,y" {
		t.Errorf("run = %q", got)
	}
	_, diags := Load(dir, LoadOptions{Resources: resource.Schemas(), Vars: []string{"nope=1", "n=abc", "novalue"}})
	var sums []string
	for _, d := range diags {
		sums = append(sums, d.Summary)
	}
	want := []string{"Value for undeclared variable", "Invalid value for variable", "Invalid -var option"}
	for _, w := range want {
		if !strings.Contains(strings.Join(sums, "|"), w) {
			t.Errorf("missing %q in %q", w, sums)
		}
	}
}

func TestTargets(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	names := func(hs []*spec.Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return out
	}
	for _, tc := range []struct {
		limit []string
		want  []string
	}{
		{nil, []string{"web1", "db1"}},
		{[]string{"db1"}, []string{"db1"}},
		{[]string{"web"}, []string{"web1"}},
		{[]string{"db1", "eu"}, []string{"web1", "db1"}},
	} {
		hs, err := sp.Targets(tc.limit)
		if err != nil || !reflect.DeepEqual(names(hs), tc.want) {
			t.Errorf("Targets(%q) = %q, %v; want %q", tc.limit, names(hs), err, tc.want)
		}
	}
	_, err := sp.Targets([]string{"wbe"})
	if err == nil || !strings.Contains(err.Error(), `Did you mean "web"?`) || !strings.Contains(err.Error(), "db1") {
		t.Errorf("Targets(wbe) error = %v", err)
	}
}

// TestSelect: -shard composes with -limit (the intersection); a shard with none of the hosts is
// empty, not an error. web1 and db1 fall in shards 0 and 1 of 2 (spec/testdata/shards.txt has
// them of 4: 2 and 3).
func TestSelect(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	for _, tc := range []struct {
		limit []string
		shard spec.Shard
		want  []string
	}{
		{nil, spec.Shard{}, []string{"web1", "db1"}},
		{nil, spec.Shard{K: 0, N: 1}, []string{"web1", "db1"}},
		{nil, spec.Shard{K: 0, N: 2}, []string{"web1"}},
		{nil, spec.Shard{K: 1, N: 2}, []string{"db1"}},
		{nil, spec.Shard{K: 2, N: 4}, []string{"web1"}},
		{nil, spec.Shard{K: 0, N: 4}, nil},
		{[]string{"db1"}, spec.Shard{K: 0, N: 2}, nil},
		{[]string{"db1", "eu"}, spec.Shard{K: 1, N: 2}, []string{"db1"}},
	} {
		hs, err := sp.Select(tc.limit, tc.shard)
		var got []string
		for _, h := range hs {
			got = append(got, h.Name)
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Select(%q, %v) = %q, %v; want %q", tc.limit, tc.shard, got, err, tc.want)
		}
	}
	if _, err := sp.Select([]string{"wbe"}, spec.Shard{K: 0, N: 2}); err == nil {
		t.Error("an unknown -limit name is an error with -shard too")
	}
}

func TestWriteDiagnosticsFormat(t *testing.T) {
	path := filepath.Join("testdata", "invalid", "unknown_attribute.hcl")
	sp, diags := Load(path, LoadOptions{Resources: resource.Schemas()})
	var buf bytes.Buffer
	WriteDiagnostics(&buf, diags, sp.Files(), false)
	out := buf.String()
	for _, s := range []string{
		"Error: Unsupported argument\n\n  on testdata/invalid/unknown_attribute.hcl:3:3, in host \"a\":\n",
		"  3:   prot    = 22 # want: Unsupported argument\n       ^^^^\n",
		`An argument named "prot" is not expected here. Did you mean "port"?`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	js := JSONDiagnostics(diags, sp.Files())
	if len(js) != 2 || js[0].Range == nil || js[0].Range.Start.Line != 3 || js[0].Range.Start.Column != 3 || js[0].Snippet == nil || js[0].Snippet.Context != `host "a"` {
		t.Errorf("JSON = %+v", js)
	}
}

func TestLoadReturnsSpecOnFailure(t *testing.T) {
	sp, diags := Load(filepath.Join(t.TempDir(), "missing"), LoadOptions{Resources: resource.Schemas()})
	if sp == nil || sp.Files() == nil || !diags.HasErrors() {
		t.Fatalf("spec %v files %v diags %v", sp, sp.Files(), diags)
	}
	empty := t.TempDir()
	if _, diags := Load(empty, LoadOptions{Resources: resource.Schemas()}); !diags.HasErrors() || diags[0].Summary != "No spec files" {
		t.Errorf("empty dir: %v", diags)
	}
}

// TestEvaluateConcurrent: the engine evaluates hosts in parallel on one Spec.
func TestEvaluateConcurrent(t *testing.T) {
	sp := mustLoad(t, filepath.Join("testdata", "valid", "full"), LoadOptions{Resources: resource.Schemas()})
	facts := cty.ObjectVal(map[string]cty.Value{"cap_last_cap": cty.NumberIntVal(40)})
	done := make(chan string, 16)
	for i := 0; i < 16; i++ {
		host := sp.Hosts[i%len(sp.Hosts)].Name
		go func() {
			hc, diags := sp.Evaluate(host, facts)
			if diags.HasErrors() || hc == nil {
				done <- host + ": " + diags.Error()
				return
			}
			done <- ""
		}()
	}
	for i := 0; i < 16; i++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

func TestConnectionPersist(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0}, // unset: the default
		{`"10m"`, 10 * time.Minute},
		{`"0"`, -1}, // off
		{`"0s"`, -1},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		attr := ""
		if tt.value != "" {
			attr = "persist = " + tt.value
		}
		src := "connection {\n  " + attr + "\n}\n\nhost \"a\" {\n  address = \"192.0.2.1\"\n}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas()}).Host("a").Conn.Persist; got != tt.want {
			t.Errorf("persist = %s: %v, want %v", tt.value, got, tt.want)
		}
	}
}
