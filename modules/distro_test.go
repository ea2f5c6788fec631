package modules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	hostfacts "github.com/perfprov/perfprov/provision/facts"
)

// hostFacts are the facts of a host whose os-release is the real file osRelease (under
// provision/distro/testdata/os-release), with the package managers' commands pkgs, a kernel
// release and setcap where given: parsed from facts script output, as a real host's are.
func hostFacts(t *testing.T, osRelease string, pkgs []string, setcap string) map[string]cty.Value {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "provision", "distro", "testdata", "os-release", osRelease))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("perfprov-facts 1\nfile=/proc/sys/kernel/osrelease\t6.8.0-45-generic\nfile=/proc/sys/kernel/cap_last_cap\t40\n")
	out.WriteString("file=/proc/sys/kernel/perf_event_paranoid\t2\n")
	for _, p := range pkgs {
		out.WriteString("pkg=" + p + "\n")
	}
	if setcap != "" {
		out.WriteString("libcap.setcap=" + setcap + "\n")
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		out.WriteString("file=/etc/os-release\t" + l + "\n")
	}
	out.WriteString("end perfprov-facts\n")
	f, err := hostfacts.Parse([]byte(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	return f.Value().AsValueMap()
}

func stringList(v cty.Value) []string {
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, e.AsString())
	}
	return out
}

// TestPerfPackagesByDistribution: the perf module's packages follow the distribution family, for
// derivatives known only by ID_LIKE too; the build dependencies follow the package manager.
func TestPerfPackagesByDistribution(t *testing.T) {
	ubuntu := []string{"linux-tools-common", "linux-tools-6.8.0-45-generic"}
	tests := []struct {
		osRelease string
		pkgs      []string
		perf      []string
		buildDep  string // one of the source build's dependencies, by manager
	}{
		{"debian12", []string{"apt-get"}, []string{"linux-perf"}, "libdw-dev"},
		{"raspbian11", []string{"apt-get"}, []string{"linux-perf"}, "libdw-dev"},
		{"ubuntu24.04", []string{"apt-get"}, ubuntu, "libdw-dev"},
		{"linuxmint22.1", []string{"apt-get"}, ubuntu, "libdw-dev"},
		{"linuxmint20.1", []string{"apt-get"}, ubuntu, "libdw-dev"},
		{"pop22.04", []string{"apt-get"}, ubuntu, "libdw-dev"},
		{"fedora42", []string{"dnf"}, []string{"perf"}, "elfutils-devel"},
		{"rhel9.6", []string{"dnf", "yum"}, []string{"perf"}, "elfutils-devel"},
		{"rocky9.3", []string{"dnf", "yum"}, []string{"perf"}, "elfutils-devel"},
		{"almalinux10.0", []string{"dnf"}, []string{"perf"}, "elfutils-devel"},
		{"oraclelinux9.3", []string{"dnf", "yum"}, []string{"perf"}, "elfutils-devel"},
		{"centos7", []string{"yum"}, []string{"perf"}, "pkgconfig"},
		{"opensuse-leap15.5", []string{"zypper"}, []string{"perf"}, "libdw-devel"},
		{"alpine3.23", []string{"apk"}, []string{"perf"}, "elfutils-dev"},
		{"arch", []string{"dnf", "pacman"}, []string{"perf"}, "libelf"},
		{"manjaro", []string{"pacman"}, []string{"perf"}, "linux-api-headers"},
	}
	for _, tt := range tests {
		t.Run(tt.osRelease, func(t *testing.T) {
			f := hostFacts(t, tt.osRelease, tt.pkgs, "/usr/sbin/setcap")
			rs := evaluate(t, `
module "pkg" {
  source = "builtin/perf"
}
module "src" {
  source             = "builtin/perf"
  from               = "source"
  kernel_source_path = "perf-6.1.192.tar.xz"
}
`, f)
			if got := stringList(rs["module.pkg.package.perf[0]"].Attrs["names"]); !slices.Equal(got, tt.perf) {
				t.Errorf("perf packages %q, want %q (os_family %s)", got, tt.perf, f["os_family"].AsString())
			}
			if got := stringList(rs["module.src.package.build_deps[0]"].Attrs["names"]); !slices.Contains(got, tt.buildDep) {
				t.Errorf("build dependencies %q (manager %s) lack %s", got, f["package_manager"].AsString(), tt.buildDep)
			}
		})
	}
}

// TestCheckWithoutRunuser: the perf_users check's as_user, run by busybox sh on a host without
// runuser, calls su with "--" before the user, so that perf's own options stay perf's.
func TestCheckWithoutRunuser(t *testing.T) {
	rs := evaluate(t, `
module "perf_users" {
  source  = "builtin/perf_users"
  members = ["alice"]
}
`, facts(40, true))
	content := rs[check].Attrs["content"].AsString()
	start := strings.Index(content, "as_user() {")
	end := start + strings.Index(content[max(start, 0):], "\n}\n")
	if start < 0 || end < start {
		t.Fatalf("no as_user in the check:\n%s", content)
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "su.log")
	fake := "#!/bin/sh\nfor a; do printf '[%s]' \"$a\"; done > '" + log + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "su"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("busybox", "sh", "-c", content[start:end+3]+`as_user alice /opt/perf/bin/perf stat -a -e task-clock -x, -- /bin/sh -c 'echo "$PPID"'`)
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := `[-s][/bin/sh][-c][exec "$0" "$@"][--][alice][/opt/perf/bin/perf][stat][-a][-e][task-clock][-x,][--][/bin/sh][-c][echo "$PPID"]`
	if string(b) != want {
		t.Errorf("su got %s\nwant    %s", b, want)
	}
}
