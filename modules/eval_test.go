package modules_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// evaluate loads a spec made of main.hcl and evaluates it for host "h" with the given facts; it
// returns the resources by address.
func evaluate(t *testing.T, main string, facts map[string]cty.Value) map[string]*spec.Resource {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("host \"h\" {\n  address = \"192.0.2.1\"\n}\n"+main), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.patch", "b.patch"} { // patches the specs may name
		if err := os.WriteFile(filepath.Join(dir, p), []byte("--- a/x\n+++ b/x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sp, diags := hcl.Load(dir, hcl.LoadOptions{Resources: resource.Schemas()})
	if diags.HasErrors() {
		var b bytes.Buffer
		hcl.WriteDiagnostics(&b, diags, sp.Files(), false)
		t.Fatalf("load: %s", b.String())
	}
	hc, diags := sp.Evaluate("h", cty.ObjectVal(facts))
	if diags.HasErrors() {
		var b bytes.Buffer
		hcl.WriteDiagnostics(&b, diags, sp.Files(), false)
		t.Fatalf("evaluate: %s", b.String())
	}
	out := map[string]*spec.Resource{}
	for _, r := range hc.Resources {
		out[r.Addr] = r
	}
	return out
}

func facts(capLastCap int, paranoidPatch bool) map[string]cty.Value {
	return map[string]cty.Value{
		"os_id":                 cty.StringVal("debian"),
		"os_family":             cty.StringVal("debian"),
		"kernel_release":        cty.StringVal("6.1.0-18-amd64"),
		"package_manager":       cty.StringVal("apt"),
		"cap_last_cap":          cty.NumberIntVal(int64(capLastCap)),
		"distro_paranoid_patch": cty.BoolVal(paranoidPatch),
		"perf":                  cty.ObjectVal(map[string]cty.Value{"version": cty.StringVal("6.1.76")}),
		"libcap":                cty.ObjectVal(map[string]cty.Value{"setcap_path": cty.StringVal("/usr/sbin/setcap")}),
	}
}

const (
	pfx      = "module.perf_users."
	warning  = pfx + "command.warning_kernel_lacks_cap_perfmon_using_cap_sys_admin[0]"
	blocked  = pfx + "command.paranoid_blocks_cap_perfmon[0]"
	capsAddr = pfx + "capabilities.perf[0]"
	check    = pfx + "file.check[0]"
)

// TestPerfUsersFromFacts: the capability set, the notes and the check's expected mask follow
// the kernel's facts.
func TestPerfUsersFromFacts(t *testing.T) {
	sp := `
module "perf_users" {
  source     = "builtin/perf_users"
  members    = ["alice"]
  extra_caps = ["cap_ipc_lock"]
}
`
	rs := evaluate(t, sp, facts(40, true))
	if rs[warning] != nil || rs[blocked] != nil {
		t.Errorf("notes on a CAP_PERFMON kernel with paranoid 2: %v %v", rs[warning], rs[blocked])
	}
	content := rs[check].Attrs["content"].AsString()
	for _, want := range []string{"member='alice'", "nonmember='nobody'", "bits='38 19 34 14'", "(cap_perfmon,cap_sys_ptrace,cap_syslog,cap_ipc_lock)"} {
		if !strings.Contains(content, want) {
			t.Errorf("check script lacks %q", want)
		}
	}
	if v := rs[pfx+"command.verify[0]"]; v == nil || !strings.Contains(v.Attrs["unless"].AsString(), "/var/lib/perfprov/perf_users/check-perf_users.sh -q") {
		t.Errorf("verify = %v", v)
	}

	rs = evaluate(t, sp, facts(37, true))
	if rs[warning] == nil {
		t.Error("no warning on a kernel without CAP_PERFMON")
	}
	if got := rs[check].Attrs["content"].AsString(); !strings.Contains(got, "bits='21 19 34 14'") {
		t.Error("the check does not expect cap_sys_admin on a kernel without CAP_PERFMON")
	}

	paranoid3 := strings.Replace(sp, `members    = ["alice"]`, `members    = ["alice"]
  paranoid   = 3`, 1)
	rs = evaluate(t, paranoid3, facts(40, true))
	if rs[blocked] == nil || !strings.Contains(rs[blocked].Attrs["run"].AsString(), "paranoid 3 voids CAP_PERFMON") {
		t.Errorf("paranoid 3 on a patched kernel: %v", rs[blocked])
	}
	if rs = evaluate(t, paranoid3, facts(40, false)); rs[blocked] != nil {
		t.Error("paranoid 3 on an upstream kernel is refused")
	}
}

// TestPerfShell: with file_caps = false there are no file capabilities and the check runs no
// member; the perf shell's sudoers rule allows the one script without arguments.
func TestPerfShell(t *testing.T) {
	rs := evaluate(t, `
module "perf_users" {
  source     = "builtin/perf_users"
  members    = ["alice"]
  file_caps  = false
  perf_shell = true
  capsh      = "/opt/libcap/sbin/capsh"
}
`, facts(40, true))
	if rs[capsAddr] != nil {
		t.Error("file_caps = false still sets capabilities")
	}
	if !strings.Contains(rs[check].Attrs["content"].AsString(), "member=''") {
		t.Error("file_caps = false: the check still runs perf as a member")
	}
	shell := rs[pfx+"file.perf_shell[0]"].Attrs["content"].AsString()
	for _, want := range []string{"exec '/opt/libcap/sbin/capsh' --caps='cap_perfmon,cap_sys_ptrace,cap_syslog+eip cap_setpcap,cap_setuid,cap_setgid+ep' --keep=1 --user=\"$u\" --addamb='cap_perfmon,cap_sys_ptrace,cap_syslog' -- -l", "grep -qx 'perf_users'", "${SUDO_USER:-}"} {
		if !strings.Contains(shell, want) {
			t.Errorf("perf shell lacks %q:\n%s", want, shell)
		}
	}
	sudoers := rs[pfx+"file.perf_shell_sudoers[0]"]
	if got := sudoers.Attrs["content"].AsString(); !strings.Contains(got, "\n%perf_users ALL=(root) NOPASSWD: /usr/local/sbin/perf-shell \"\"\n") || sudoers.Attrs["mode"].AsString() != "0440" {
		t.Errorf("sudoers drop-in: %q", got)
	}
}

// TestBuildCommands: a fresh copy, each patch in order, a staged install, then the swap; the
// stamp covers the patch files through their file resources.
func TestBuildCommands(t *testing.T) {
	rs := evaluate(t, `
module "libcap" {
  source      = "builtin/libcap"
  source_path = "libcap2_2.66.orig.tar.xz"
  patches     = ["a.patch", "b.patch"]
}
`, facts(40, true))
	b := rs["module.libcap.build.libcap"]
	var cmds []string
	for _, c := range b.Attrs["commands"].AsValueSlice() {
		cmds = append(cmds, c.AsString())
	}
	want := []string{"cp -a /var/cache/perfprov/build/libcap/src /var/cache/perfprov/build/libcap/work",
		"patches/00.patch", "patches/01.patch", "DESTDIR=/var/cache/perfprov/build/libcap/stage install",
		"capsh --decode=0", "cp -a --remove-destination /var/cache/perfprov/build/libcap/stage/opt/libcap/. /opt/libcap/"}
	if len(cmds) != len(want)+1 {
		t.Fatalf("commands: %q", cmds)
	}
	for i, w := range want {
		if !strings.Contains(cmds[i], w) {
			t.Errorf("command %d = %q, want it to hold %q", i, cmds[i], w)
		}
	}
	deps := strings.Join(b.DependsOn, " ")
	for _, d := range []string{"module.libcap.file.patch[0]", "module.libcap.file.patch[1]", "module.libcap.source.libcap"} {
		if !strings.Contains(deps, d) {
			t.Errorf("build.libcap does not depend on %s: %s", d, deps)
		}
	}
	if p := rs["module.libcap.file.patch[1]"]; p == nil || p.Attrs["source"].AsString() != "b.patch" || p.Attrs["path"].AsString() != "/var/cache/perfprov/build/libcap/patches/01.patch" {
		t.Errorf("file.patch[1] = %v", p)
	}
}

// TestPerfBuildInputs: build.perf's stamp digests the fingerprints of everything it depends on,
// directly or not; that must be the tarball, the patches and the build's own settings, never the
// module's helper script (a new perfprov version would rebuild perf for nothing).
func TestPerfBuildInputs(t *testing.T) {
	rs := evaluate(t, `
module "perf" {
  source             = "builtin/perf"
  from               = "source"
  kernel_source_path = "perf-6.1.192.tar.xz"
  patches            = ["a.patch"]
}
`, facts(40, true))
	seen := map[string]bool{}
	var walk func(addr string)
	walk = func(addr string) {
		r := rs[addr]
		if r == nil || seen[addr] {
			return
		}
		seen[addr] = true
		for _, d := range r.DependsOn {
			walk(d)
		}
	}
	walk("module.perf.build.perf[0]")
	for _, want := range []string{"module.perf.source.kernel[0]", "module.perf.file.patch[0]", "module.perf.command.check_prefix[0]"} {
		if !seen[want] {
			t.Errorf("build.perf does not come after %s", want)
		}
	}
	if seen["module.perf.file.helper"] {
		t.Error("build.perf depends on the helper script: a new helper would rebuild perf")
	}
}

// TestMlockKB: mlock_kb sets kernel.perf_event_mlock_kb in the paranoid drop-in; unset, the
// kernel's value is left alone; a fraction or a negative value is refused.
func TestMlockKB(t *testing.T) {
	rs := evaluate(t, `
module "perf_users" {
  source   = "builtin/perf_users"
  members  = ["alice"]
  mlock_kb = 2064
}
`, facts(40, true))
	r := rs[pfx+"sysctl.mlock_kb[0]"]
	if r == nil {
		t.Fatal("no sysctl.mlock_kb[0]")
	}
	if r.Attrs["name"].AsString() != "kernel.perf_event_mlock_kb" || r.Attrs["value"].AsString() != "2064" ||
		r.Attrs["persist_file"].AsString() != rs[pfx+"sysctl.paranoid"].Attrs["persist_file"].AsString() {
		t.Errorf("sysctl.mlock_kb[0] = %v", r.Attrs)
	}
	rs = evaluate(t, "module \"perf_users\" {\n  source = \"builtin/perf_users\"\n}\n", facts(40, true))
	if rs[pfx+"sysctl.mlock_kb[0]"] != nil {
		t.Error("mlock_kb unset still sets the sysctl")
	}
	for _, bad := range []string{"-1", "1.5"} {
		dir := t.TempDir()
		src := "host \"h\" {\n  address = \"192.0.2.1\"\n}\nmodule \"perf_users\" {\n  source   = \"builtin/perf_users\"\n  mlock_kb = " + bad + "\n}\n"
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		sp, diags := hcl.Load(dir, hcl.LoadOptions{Resources: resource.Schemas()})
		if !diags.HasErrors() {
			_, diags = sp.Evaluate("h", cty.ObjectVal(facts(40, true)))
		}
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "mlock_kb must be a whole number") {
			t.Errorf("mlock_kb = %s: %v", bad, diags)
		}
	}
}
