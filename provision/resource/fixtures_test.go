package resource

import (
	"errors"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/captrust"
	"github.com/perfprov/perfprov/spec"
)

// TestParseDiffFixtures parses recorded read outputs (testdata/reads) and checks the diff.
func TestParseDiffFixtures(t *testing.T) {
	paranoid := mkres("sysctl", "paranoid", map[string]cty.Value{"name": s("kernel.perf_event_paranoid"), "value": s("2")})
	perfCaps := mkres("capabilities", "perf", map[string]cty.Value{"path": s("/opt/perf/bin/perf"), "caps": list("cap_perfmon", "cap_sys_ptrace", "cap_syslog")})
	tests := []struct {
		fixture   string
		res       *spec.Resource
		action    Action
		attrs     string // changed attributes, comma-separated
		old       string // Old of the first change, when checked
		err       string // substring of the expected error
		notReady  bool
		untrusted bool // the error refuses the host (captrust.ErrUntrusted)
	}{
		{fixture: "group-exists.out", res: mkres("group", "perf_users", nil), action: Noop},
		{fixture: "group-missing.out", res: mkres("group", "perf_users", map[string]cty.Value{"gid": cty.NumberIntVal(990)}), action: Create, attrs: "name,gid"},
		// An existing group with another gid: the gid is never changed, so no change is reported.
		{fixture: "group-exists.out", res: mkres("group", "perf_users", map[string]cty.Value{"gid": cty.NumberIntVal(990)}), action: Noop},
		{fixture: "user-member.out", res: mkres("user", "alice", map[string]cty.Value{"groups": list("perf_users")}), action: Noop},
		{fixture: "user-not-member.out", res: mkres("user", "alice", map[string]cty.Value{"groups": list("perf_users")}), action: Update, attrs: "groups", old: "alice,docker,users"},
		{fixture: "user-missing.out", res: mkres("user", "alice", map[string]cty.Value{"groups": list("perf_users")}), action: Create, attrs: "name,groups"},
		{fixture: "package-apt-all.out", res: mkres("package", "perf", map[string]cty.Value{"names": list("linux-perf", "libcap2-bin")}), action: Noop},
		{fixture: "package-apt-removed.out", res: mkres("package", "perf", map[string]cty.Value{"names": list("linux-perf")}), action: Create, attrs: "installed"},
		{fixture: "package-dnf-partial.out", res: mkres("package", "perf", map[string]cty.Value{"names": list("perf", "libcap")}), action: Update, attrs: "installed", old: "perf"},
		{fixture: "package-none.out", res: mkres("package", "perf", map[string]cty.Value{"names": list("perf")}), err: "no supported package manager"},
		{fixture: "sysctl-in-sync.out", res: paranoid, action: Noop},
		{fixture: "sysctl-runtime-drift.out", res: paranoid, action: Update, attrs: "value", old: "3"},
		{fixture: "sysctl-no-file.out", res: paranoid, action: Update, attrs: "persist_file"},
		{fixture: "sysctl-overridden.out", res: paranoid, err: "99-zzz-local.conf sets kernel.perf_event_paranoid = 3"},
		{fixture: "sysctl-earlier-file.out", res: paranoid, action: Noop},
		{fixture: "sysctl-no-param.out", res: paranoid, err: "does not exist on this host"},
		{fixture: "caps-old-format.out", res: perfCaps, action: Noop},
		{fixture: "caps-new-format.out", res: perfCaps, action: Noop},
		{fixture: "caps-none.out", res: perfCaps, action: Create, attrs: "caps", old: ""},
		{fixture: "caps-other.out", res: perfCaps, action: Update, attrs: "caps", old: "cap_sys_ptrace,cap_sys_admin,cap_syslog=ep"},
		{fixture: "caps-nosuid.out", res: perfCaps, err: "nosuid mount (/opt"},
		{fixture: "caps-ramfs.out", res: perfCaps, err: "no extended attributes"},
		{fixture: "caps-no-getcap.out", res: perfCaps, action: Noop},
		{fixture: "caps-no-getcap-differs.out", res: perfCaps, action: Update, attrs: "caps"},
		{fixture: "caps-untrusted-dir.out", res: perfCaps, err: "/opt/perf/bin (a directory above /opt/perf/bin/perf) is owned by alice (mode 0755), not root", untrusted: true},
		{fixture: "caps-group-writable.out", res: perfCaps, err: "the binary /opt/perf/bin/perf is writable by its group (mode 0770)", untrusted: true},
		{fixture: "caps-origin-rpath.out", res: perfCaps, err: "$ORIGIN/../lib is a loader token", untrusted: true},
		{fixture: "caps-rpath-dir.out", res: perfCaps, err: "/opt/libcap/lib (a library directory /opt/perf/bin/perf names in its RPATH/RUNPATH, or one above it) is writable by group and others", untrusted: true},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.res.Addr, func(t *testing.T) {
			r := mustNew(t, tt.res, nil)
			st, err := r.Parse(Section{Stdout: fixture(t, "reads/"+tt.fixture)})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			d, err := r.Diff(st)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if errors.Is(err, ErrNotReady) != tt.notReady {
					t.Errorf("ErrNotReady = %v", errors.Is(err, ErrNotReady))
				}
				if errors.Is(err, captrust.ErrUntrusted) != tt.untrusted {
					t.Errorf("ErrUntrusted = %v", errors.Is(err, captrust.ErrUntrusted))
				}
				return
			}
			if err != nil {
				t.Fatalf("diff: %v", err)
			}
			if d.Action != tt.action || changeAttrs(d) != tt.attrs {
				t.Fatalf("diff = %v %s, want %v %s (%+v)", d.Action, changeAttrs(d), tt.action, tt.attrs, d.Changes)
			}
			if tt.old != "" && d.Changes[0].Old != tt.old {
				t.Errorf("old = %q, want %q", d.Changes[0].Old, tt.old)
			}
			// Every change listed must be a real difference.
			for _, c := range d.Changes {
				if c.Old == c.New {
					t.Errorf("change %s lists equal values %q", c.Attr, c.Old)
				}
			}
		})
	}
}

func TestSysctlEditKeepsOtherKeys(t *testing.T) {
	r := mustNew(t, mkres("sysctl", "p", map[string]cty.Value{"name": s("kernel/perf_event_paranoid"), "value": s(" 1 ")}), nil).(*sysctl)
	in := []string{"# mine", "kernel.kptr_restrict = 0", "kernel.perf_event_paranoid=3", "-kernel.perf_event_paranoid = 4"}
	got := string(r.editedContent(in))
	want := "# mine\nkernel.kptr_restrict = 0\nkernel.perf_event_paranoid = 1\n"
	if got != want {
		t.Errorf("edited\n%s\nwant\n%s", got, want)
	}
	if got := string(r.editedContent(nil)); !strings.HasSuffix(got, "kernel.perf_event_paranoid = 1\n") {
		t.Errorf("new file %q", got)
	}
	if r.procPath() != "/proc/sys/kernel/perf_event_paranoid" {
		t.Errorf("procPath %s", r.procPath())
	}
}

func TestInstallScripts(t *testing.T) {
	tests := []struct {
		manager string
		update  bool
		want    []string
	}{
		{"apt", true, []string{"DEBIAN_FRONTEND=noninteractive", "apt-get update", "apt-get install -y", "linux-perf libfoo+x"}},
		{"dnf", false, []string{"dnf install -y -q linux-perf"}},
		{"zypper", false, []string{"zypper --non-interactive install"}},
		{"apk", true, []string{"apk update", "apk add -q"}},
		{"pacman", true, []string{"pacman -Sy --noconfirm\n", "pacman -S --noconfirm --needed linux-perf libfoo+x"}},
	}
	for _, tt := range tests {
		got, err := installScript(tt.manager, tt.update, []string{"linux-perf", "libfoo+x"})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s script lacks %q:\n%s", tt.manager, w, got)
			}
		}
	}
	if _, err := installScript("emerge", false, []string{"x"}); err == nil {
		t.Error("emerge is not supported")
	}
}

func TestNameValidation(t *testing.T) {
	for _, bad := range []string{"", "-rf", "a b", "a;b", "$(id)", "toolongtoolongtoolongtoolongtoolongx", "a\nb"} {
		if _, err := New(mkres("group", "g", map[string]cty.Value{"name": s(bad)}), nil); err == nil {
			t.Errorf("group name %q accepted", bad)
		}
		if _, err := New(mkres("user", "u", map[string]cty.Value{"name": s(bad)}), nil); err == nil {
			t.Errorf("user name %q accepted", bad)
		}
	}
	for _, good := range []string{"perf_users", "alice", "_apt", "systemd-network", "machine$"} {
		if _, err := New(mkres("group", "g", map[string]cty.Value{"name": s(good)}), nil); err != nil {
			t.Errorf("group name %q refused: %v", good, err)
		}
	}
	if _, err := New(mkres("capabilities", "c", map[string]cty.Value{"path": s("/p"), "caps": list("cap_bogus")}), nil); err == nil {
		t.Error("unknown capability accepted")
	}
	if _, err := New(mkres("capabilities", "c", map[string]cty.Value{"path": s("/p"), "caps": list("cap_perfmon"), "setcap": s("../setcap")}), nil); err == nil {
		t.Error("relative setcap accepted")
	}
}
