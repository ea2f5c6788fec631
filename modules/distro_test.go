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
	return hostFactsFrom(t, string(b), pkgs, setcap)
}

// hostFactsFrom is hostFacts with the os-release content itself.
func hostFactsFrom(t *testing.T, osRelease string, pkgs []string, setcap string) map[string]cty.Value {
	t.Helper()
	var out strings.Builder
	out.WriteString("perfprov-facts 1\nfile=/proc/sys/kernel/osrelease\t6.8.0-45-generic\nfile=/proc/sys/kernel/cap_last_cap\t40\n")
	out.WriteString("file=/proc/sys/kernel/perf_event_paranoid\t2\n")
	for _, p := range pkgs {
		out.WriteString("pkg=" + p + "\n")
	}
	if setcap != "" {
		out.WriteString("libcap.setcap=" + setcap + "\n")
	}
	for _, l := range strings.Split(strings.TrimSuffix(osRelease, "\n"), "\n") {
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

// TestSetcapPackage: perf_users installs the distribution's setcap package when setcap is the
// system's and the host has none, named by family (derivatives by ID_LIKE), before it sets the
// capabilities; never when setcap is there, a built one is given, or no file capabilities are set.
func TestSetcapPackage(t *testing.T) {
	const (
		pkgAddr  = "module.perf_users.package.setcap[0]"
		noteAddr = "module.perf_users.command.setcap_missing[0]"
	)
	tests := []struct {
		name, osRelease, setcap, inputs string
		want                            []string // package names; nil: no package
		note                            bool     // the failing note instead
	}{
		{"debian", "debian12", "", "", []string{"libcap2-bin"}, false},
		{"raspbian", "raspbian11", "", "", []string{"libcap2-bin"}, false},
		{"mint", "linuxmint22.1", "", "", []string{"libcap2-bin"}, false},
		{"pop", "pop22.04", "", "", []string{"libcap2-bin"}, false},
		{"rocky", "rocky9.3", "", "", []string{"libcap"}, false},
		{"oracle", "oraclelinux9.3", "", "", []string{"libcap"}, false},
		{"opensuse", "opensuse-leap15.5", "", "", []string{"libcap-progs"}, false},
		{"alpine", "alpine3.23", "", "", []string{"libcap"}, false},
		{"manjaro", "manjaro", "", "", []string{"libcap"}, false},
		{"setcap present", "debian12", "/usr/sbin/setcap", "", nil, false},
		{"built libcap given", "debian12", "", `setcap = "/opt/libcap/sbin/setcap"`, nil, false},
		{"no file capabilities", "debian12", "", "file_caps = false", nil, false},
		{"packages given", "alpine3.23", "", `setcap_packages = ["libcap-setcap", "libcap-getcap"]`, []string{"libcap-setcap", "libcap-getcap"}, false},
		{"unknown family", "unknown", "", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f map[string]cty.Value
			if tt.osRelease == "unknown" {
				f = hostFactsFrom(t, "ID=nixos\nPRETTY_NAME=\"NixOS 24.05\"\n", nil, "")
			} else {
				f = hostFacts(t, tt.osRelease, []string{"apt-get"}, tt.setcap)
			}
			rs := evaluate(t, `
module "perf_users" {
  source  = "builtin/perf_users"
  members = ["alice"]
  `+tt.inputs+`
}
`, f)
			p := rs[pkgAddr]
			switch {
			case tt.want == nil && p != nil:
				t.Errorf("setcap package %q planned", stringList(p.Attrs["names"]))
			case tt.want != nil && p == nil:
				t.Errorf("no setcap package, want %q", tt.want)
			case p != nil && !slices.Equal(stringList(p.Attrs["names"]), tt.want):
				t.Errorf("setcap package %q, want %q", stringList(p.Attrs["names"]), tt.want)
			}
			note := rs[noteAddr]
			if (note != nil) != tt.note {
				t.Errorf("note %v, want %v", note != nil, tt.note)
			}
			if note != nil && !strings.Contains(note.Attrs["run"].AsString(), "which package carries it on nixos") {
				t.Errorf("note: %s", note.Attrs["run"].AsString())
			}
			if c := rs[capsAddr]; c != nil && (p != nil || note != nil) {
				dep := pkgAddr
				if note != nil {
					dep = noteAddr
				}
				if !slices.Contains(c.DependsOn, dep) {
					t.Errorf("capabilities.perf does not come after %s: %q", dep, c.DependsOn)
				}
			}
		})
	}
}
