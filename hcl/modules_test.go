package hcl

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

func hostFacts(osID string, capLastCap int) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"os_id":           cty.StringVal(osID),
		"os_family":       cty.StringVal(osID), // the tests' IDs (debian, ubuntu) are families
		"kernel_release":  cty.StringVal("6.1.0-18-amd64"),
		"package_manager": cty.StringVal("apt"),
		"cap_last_cap":    cty.NumberIntVal(int64(capLastCap)),
		"perf":            cty.ObjectVal(map[string]cty.Value{"version": cty.StringVal("6.1.76")}),
	})
}

func stringsOf(v cty.Value) []string {
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

// TestPerfUsersModule checks the order that keeps capabilities (chgrp after setcap erases them)
// and the capability set chosen from the facts.
func TestPerfUsersModule(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.hcl": `
host "h" {
  connection {
    type = "local"
  }
}
module "libcap" {
  source      = "builtin/libcap"
  source_path = "libcap-2.70.tar.xz"
}
module "perf_users" {
  source     = "builtin/perf_users"
  members    = ["alice", "bob"]
  setcap     = module.libcap.setcap
  extra_caps = ["cap_ipc_lock"]
}
`})
	sp := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas()})
	hc := mustEval(t, sp, "h", hostFacts("debian", 40))
	var got []string
	byAddr := map[string]*spec.Resource{}
	for _, r := range hc.Resources {
		if strings.HasPrefix(r.Addr, "module.perf_users.") {
			got = append(got, strings.TrimPrefix(r.Addr, "module.perf_users."))
			byAddr[strings.TrimPrefix(r.Addr, "module.perf_users.")] = r
		}
	}
	// The order that matters: group, then members and the binary's group and mode, then (last)
	// the capabilities. Other resources may join the module.
	pos := map[string]int{}
	for i, a := range got {
		pos[a] = i + 1
	}
	before := [][2]string{
		{"group.perf_users", `user.members["alice"]`}, {"group.perf_users", "permissions.perf"},
		{"permissions.perf", "capabilities.perf[0]"}, {"sysctl.paranoid", "capabilities.perf[0]"},
		{`user.members["bob"]`, "capabilities.perf[0]"},
	}
	for _, b := range before {
		if pos[b[0]] == 0 || pos[b[1]] == 0 || pos[b[0]] > pos[b[1]] {
			t.Errorf("%s must come before %s: %q", b[0], b[1], got)
		}
	}
	// Capabilities are the last change to the binary: after them come only the module's
	// read-only check (its script and the command that runs it).
	after := false
	for _, r := range hc.Resources {
		switch {
		case r.Addr == "module.perf_users.capabilities.perf[0]":
			after = true
		case after && !contains([]string{"module.perf_users.directory.state[0]", "module.perf_users.file.check[0]", "module.perf_users.command.verify[0]"}, r.Addr):
			t.Errorf("capabilities are not applied last: %s comes after them", r.Addr)
		}
	}
	if !after {
		t.Errorf("no capabilities.perf: %q", got)
	}
	if v := byAddr["command.verify[0]"]; v == nil || !strings.Contains(strings.Join(v.DependsOn, " "), "module.perf_users.capabilities.perf[0]") {
		t.Errorf("the check does not run after the capabilities: %v", v)
	}
	caps := byAddr["capabilities.perf[0]"]
	if !reflect.DeepEqual(stringsOf(caps.Attrs["caps"]), []string{"cap_perfmon", "cap_sys_ptrace", "cap_syslog", "cap_ipc_lock"}) ||
		caps.Attrs["setcap"].AsString() != "/opt/libcap/sbin/setcap" || caps.Attrs["flags"].AsString() != "ep" {
		t.Errorf("capabilities = %#v", caps.Attrs)
	}
	deps := strings.Join(caps.DependsOn, " ")
	for _, d := range []string{"module.perf_users.permissions.perf", "module.perf_users.sysctl.paranoid", "module.libcap.build.libcap"} {
		if !strings.Contains(deps, d) {
			t.Errorf("capabilities.perf does not depend on %s: %q", d, caps.DependsOn)
		}
	}
	perm := byAddr["permissions.perf"]
	if perm.Attrs["owner"].AsString() != "root" || perm.Attrs["group"].AsString() != "perf_users" || perm.Attrs["mode"].AsString() != "0750" {
		t.Errorf("permissions = %#v", perm.Attrs)
	}
	sysctl := byAddr["sysctl.paranoid"]
	if sysctl.Attrs["value"].AsString() != "2" || sysctl.Attrs["persist_file"].AsString() != "/etc/sysctl.d/99-zz-perf-security.conf" {
		t.Errorf("sysctl = %#v", sysctl.Attrs)
	}

	hc = mustEval(t, sp, "h", hostFacts("debian", 37))
	for _, r := range hc.Resources {
		if r.Addr == "module.perf_users.capabilities.perf[0]" && stringsOf(r.Attrs["caps"])[0] != "cap_sys_admin" {
			t.Errorf("kernel without CAP_PERFMON: caps %q", stringsOf(r.Attrs["caps"]))
		}
	}
}

func TestPerfModule(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.hcl": `
host "h" {
  connection {
    type = "local"
  }
}
module "pkg" {
  source = "builtin/perf"
  prefix = "/opt/perf-pkg"
}
module "src" {
  source             = "builtin/perf"
  from               = "source"
  kernel_source_path = "linux-source-6.1.tar.xz"
  prefix             = "/opt/perf-src"
}
resource "command" "versions" {
  run = "echo ${module.pkg.version} ${module.src.version} ${module.src.binary}"
}
`})
	sp := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas()})
	hc := mustEval(t, sp, "h", hostFacts("ubuntu", 40))
	var pkg, src []string
	var run string
	for _, r := range hc.Resources {
		switch {
		case strings.HasPrefix(r.Addr, "module.pkg."):
			pkg = append(pkg, strings.TrimPrefix(r.Addr, "module.pkg."))
			if r.Type == "package" && !reflect.DeepEqual(stringsOf(r.Attrs["names"]), []string{"linux-tools-common", "linux-tools-6.1.0-18-amd64"}) {
				t.Errorf("ubuntu packages = %q", stringsOf(r.Attrs["names"]))
			}
		case strings.HasPrefix(r.Addr, "module.src."):
			src = append(src, strings.TrimPrefix(r.Addr, "module.src."))
			if r.Type == "build" && !strings.Contains(stringsOf(r.Attrs["commands"])[1], "make -C tools/perf O=/var/cache/perfprov/build/perf/out prefix=/opt/perf-src NO_LIBPYTHON=1") {
				t.Errorf("build commands = %q", stringsOf(r.Attrs["commands"]))
			}
		case r.Addr == "command.versions":
			run = r.Attrs["run"].AsString()
		}
	}
	inOrder := func(what string, got []string, want ...string) {
		t.Helper()
		i := 0
		for _, a := range got {
			if i < len(want) && a == want[i] {
				i++
			}
		}
		if i < len(want) {
			t.Errorf("%s: %q does not hold %q in this order", what, got, want)
		}
	}
	inOrder("from = package", pkg, "package.perf[0]", "command.copy_real_perf[0]")
	inOrder("from = source", src, "source.kernel[0]", "build.perf[0]")
	for _, a := range append(pkg, src...) {
		if (strings.HasPrefix(a, "source.") || strings.HasPrefix(a, "build.")) && contains(pkg, a) ||
			strings.HasPrefix(a, "command.copy_real_perf") && contains(src, a) {
			t.Errorf("resource %s in the wrong mode", a)
		}
	}
	if run != "echo 6.1.76 6.1 /opt/perf-src/bin/perf" {
		t.Errorf("outputs: %q", run)
	}
}

func TestUnknownCountOffline(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.hcl": `
host "h" {
  connection {
    type = "local"
  }
}
resource "command" "per_cpu" {
  count = host.facts.cpu_count
  run   = "echo ${count.index}"
}
`})
	sp := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas()})
	hc := mustEval(t, sp, "h", cty.DynamicVal)
	if len(hc.Resources) != 1 || hc.Resources[0].Addr != "command.per_cpu[*]" || hc.Resources[0].Attrs["run"].IsKnown() {
		t.Errorf("offline: %q", addrs(hc.Resources))
	}
	hc = mustEval(t, sp, "h", cty.ObjectVal(map[string]cty.Value{"cpu_count": cty.NumberIntVal(3)}))
	if got := addrs(hc.Resources); !reflect.DeepEqual(got, []string{"command.per_cpu[0]", "command.per_cpu[1]", "command.per_cpu[2]"}) {
		t.Errorf("with facts: %q", got)
	}
}
