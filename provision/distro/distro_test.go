package distro

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture is one real os-release file (testdata/os-release) and what perfprov must make of it.
type fixture struct {
	file    string
	id      string
	like    []string
	family  string
	present []string // the package managers' commands on the host (facts' names)
	manager string
}

// fixtures: every derivative here is placed by ID_LIKE alone (none of rocky, almalinux, ol,
// amzn, linuxmint, pop, manjaro or opensuse-leap is in Families).
var fixtures = []fixture{
	{"debian12", "debian", nil, "debian", []string{"apt"}, "apt"},
	{"raspbian11", "raspbian", []string{"debian"}, "debian", []string{"apt"}, "apt"},
	{"ubuntu24.04", "ubuntu", []string{"debian"}, "ubuntu", []string{"apt"}, "apt"},
	{"linuxmint22.1", "linuxmint", []string{"ubuntu", "debian"}, "ubuntu", []string{"apt"}, "apt"},
	{"linuxmint20.1", "linuxmint", []string{"ubuntu"}, "ubuntu", []string{"apt"}, "apt"},
	{"pop22.04", "pop", []string{"ubuntu", "debian"}, "ubuntu", []string{"apt"}, "apt"},
	{"fedora42", "fedora", nil, "fedora", []string{"dnf"}, "dnf"},
	// RHEL 9 has yum as a link to dnf: dnf is preferred.
	{"rhel9.6", "rhel", []string{"fedora"}, "fedora", []string{"dnf", "yum"}, "dnf"},
	{"rocky9.3", "rocky", []string{"rhel", "centos", "fedora"}, "fedora", []string{"dnf", "yum"}, "dnf"},
	{"almalinux10.0", "almalinux", []string{"rhel", "centos", "fedora"}, "fedora", []string{"dnf"}, "dnf"},
	{"oraclelinux9.3", "ol", []string{"fedora"}, "fedora", []string{"dnf", "yum"}, "dnf"},
	{"amazonlinux2023", "amzn", []string{"fedora"}, "fedora", []string{"dnf"}, "dnf"},
	{"centos7", "centos", []string{"rhel", "fedora"}, "fedora", []string{"yum"}, "yum"},
	{"opensuse-leap15.5", "opensuse-leap", []string{"suse", "opensuse"}, "suse", []string{"zypper"}, "zypper"},
	{"alpine3.23", "alpine", nil, "alpine", []string{"apk"}, "apk"},
	{"arch", "arch", nil, "arch", []string{"pacman"}, "pacman"},
	// Arch packages dnf and apt (to build other distributions' images): the family decides, where
	// the first command found would have been dnf.
	{"arch", "arch", nil, "arch", []string{"dnf", "pacman"}, "pacman"},
	{"manjaro", "manjaro", []string{"arch"}, "arch", []string{"pacman"}, "pacman"},
	// A family whose manager is missing falls back to what the host has.
	{"alpine3.23", "alpine", nil, "alpine", []string{"apt"}, "apt"},
	{"debian12", "debian", nil, "debian", nil, ""},
}

func readFixture(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "os-release", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n")
}

// TestFixtures: ID, ID_LIKE, the family and the manager of each real os-release file.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file+"/"+strings.Join(fx.present, ","), func(t *testing.T) {
			r := ParseOSRelease(readFixture(t, fx.file))
			like := fx.like
			if like == nil {
				like = []string{}
			}
			if r.ID != fx.id || !slices.Equal(r.IDLike, like) {
				t.Errorf("ID %q ID_LIKE %q, want %q %q", r.ID, r.IDLike, fx.id, like)
			}
			f, ok := Lookup(r.ID, r.IDLike)
			if !ok || f.Name != fx.family {
				t.Errorf("family %q (%v), want %q", f.Name, ok, fx.family)
			}
			if got := Manager(f, fx.present); got != fx.manager {
				t.Errorf("manager %q, want %q", got, fx.manager)
			}
			if r.PrettyName == "" {
				t.Error("no PRETTY_NAME")
			}
		})
	}
}

func TestUnknownDistribution(t *testing.T) {
	for _, c := range []struct {
		id   string
		like []string
	}{
		{"nixos", nil},
		{"serenity", []string{"haiku", "plan9"}},
		{"", nil},
	} {
		if f, ok := Lookup(c.id, c.like); ok {
			t.Errorf("%q %q: family %q", c.id, c.like, f.Name)
		}
	}
	// Without a family, the first manager found in Managers' order, as the facts script searches.
	if got := Manager(Family{}, []string{"pacman", "zypper"}); got != "zypper" {
		t.Errorf("unknown family: %q, want zypper", got)
	}
}

// shells are the POSIX shells the detection must work in: dash (Debian's /bin/sh), busybox ash
// (Alpine's), bash in POSIX mode.
var shells = [][]string{{"dash"}, {"busybox", "sh"}, {"bash", "--posix"}}

// runDetect runs DetectScript for osRelease under every shell with a PATH of fake commands named
// after present, and returns what each shell set pm to.
func runDetect(t *testing.T, osRelease string, present []string) map[string]string {
	t.Helper()
	bin := t.TempDir()
	for _, m := range present {
		if err := os.WriteFile(filepath.Join(bin, ManagerCommand(m)), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := "pm=\n" + DetectScript(osRelease, "/nonexistent/os-release") + `printf '%s' "$pm"`
	got := map[string]string{}
	for _, sh := range shells {
		path, err := exec.LookPath(sh[0])
		if err != nil {
			t.Fatalf("%s: %v (the detection is tested under each of %v)", sh[0], err, shells)
		}
		cmd := exec.Command(path, append(sh[1:], "-c", script)...)
		cmd.Env = []string{"PATH=" + bin}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", sh[0], err, out)
		}
		got[sh[0]] = string(out)
	}
	return got
}

// TestDetectScriptAgrees: the shell detection the package resource's read runs chooses what the
// facts choose, for every fixture, in every shell.
func TestDetectScriptAgrees(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file+"/"+strings.Join(fx.present, ","), func(t *testing.T) {
			abs, err := filepath.Abs(filepath.Join("testdata", "os-release", fx.file))
			if err != nil {
				t.Fatal(err)
			}
			for sh, pm := range runDetect(t, abs, fx.present) {
				if pm != fx.manager {
					t.Errorf("%s: pm=%q, want %q", sh, pm, fx.manager)
				}
			}
		})
	}
}

// TestDetectScriptEdges: ID after ID_LIKE, single quotes, no final newline, no os-release at all,
// and a pm set beforehand (a manager attribute) are all handled as the Go side does.
func TestDetectScriptEdges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, osRelease string
		present         []string
		want            string
	}{
		{"like before id", write("a", "ID_LIKE=\"arch\"\nNAME=x\nID=cachyos"), []string{"dnf", "pacman"}, "pacman"},
		{"single quotes", write("b", "ID='alpine'\n"), []string{"apt", "apk"}, "apk"},
		{"no id like, unknown id", write("c", "ID=nixos\n"), []string{"zypper", "apk"}, "zypper"},
		{"missing file", filepath.Join(dir, "none"), []string{"pacman", "yum"}, "yum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			if b, err := os.ReadFile(tt.osRelease); err == nil {
				lines = strings.Split(string(b), "\n")
			}
			r := ParseOSRelease(lines)
			f, _ := Lookup(r.ID, r.IDLike)
			if got := Manager(f, tt.present); got != tt.want {
				t.Fatalf("Go: %q, want %q", got, tt.want)
			}
			for sh, pm := range runDetect(t, tt.osRelease, tt.present) {
				if pm != tt.want {
					t.Errorf("%s: pm=%q, want %q", sh, pm, tt.want)
				}
			}
		})
	}
	// A manager given beforehand is kept.
	bin := t.TempDir()
	cmd := exec.Command("sh", "-c", "pm=zypper\n"+DetectScript(write("d", "ID=debian\n"))+`printf '%s' "$pm"`)
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "zypper" {
		t.Errorf("pm set beforehand: %q %v", out, err)
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{`"Debian \"x\" 12"`: `Debian "x" 12`, `'12'`: "12", `debian`: "debian", `""`: "", `"a\b"`: `a\b`} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%s) = %q, want %q", in, got, want)
		}
	}
}
