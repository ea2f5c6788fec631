package modules

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbedded: every module is embedded with the files its HCL reads (file, templatefile).
func TestEmbedded(t *testing.T) {
	for _, p := range []string{
		"builtin/libcap/main.hcl",
		"builtin/perf/main.hcl", "builtin/perf/helper.sh",
		"builtin/perf_users/main.hcl", "builtin/perf_users/check.sh.tpl", "builtin/perf_users/perf-shell.sh.tpl",
	} {
		if _, err := FS.ReadFile(p); err != nil {
			t.Errorf("%s is not embedded: %v", p, err)
		}
	}
}

// helper writes the perf module's helper script to a temporary file.
func helper(t *testing.T) string {
	t.Helper()
	b, err := FS.ReadFile("builtin/perf/helper.sh")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "helper.sh")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelperCheckPrefix: the mount that holds the prefix (or, when the prefix does not exist
// yet, its nearest existing parent) decides; of mounts stacked on one point the last one wins.
// The mounts come from a fixture mountinfo whose mount points are directories of the test.
func TestHelperCheckPrefix(t *testing.T) {
	h := helper(t)
	// Not under /tmp: a prefix under a world-writable directory is refused for that alone.
	tmp, err := os.MkdirTemp("/var/lib", "perfprov-prefix-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"nosuid", "stack", "ram", "with space", "fine", "alice"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	esc := strings.ReplaceAll(tmp, " ", `\040`)
	mountinfo := filepath.Join(tmp, "mountinfo")
	fixture := strings.Join([]string{
		"26 1 259:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw",
		"30 26 259:3 / " + esc + "/nosuid rw,nosuid,nodev,relatime shared:9 - ext4 /dev/vda3 rw",
		"31 26 259:3 /s " + esc + "/stack rw,relatime shared:9 - ext4 /dev/vda3 rw",
		"32 31 259:3 /s " + esc + "/stack rw,nosuid,relatime shared:9 - ext4 /dev/vda3 rw",
		"33 26 0:40 / " + esc + "/ram rw,relatime - ramfs ramfs rw",
		"34 26 0:41 / " + esc + "/with\\040space rw,noexec,relatime - tmpfs tmpfs rw",
		"",
	}, "\n")
	if err := os.WriteFile(mountinfo, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		ok     bool
		want   []string
	}{
		{tmp + "/nosuid/perf", false, []string{"refusing prefix " + tmp + "/nosuid/perf: " + tmp + "/nosuid/perf is on a nosuid mount (" + tmp + "/nosuid, ext4, options rw,nosuid,nodev,relatime)", "exec ignores file capabilities", `for example prefix = "/opt/perf"`}},
		{tmp + "/stack/perf", false, []string{"nosuid mount (" + tmp + "/stack, ext4"}},
		{tmp + "/ram/perf", false, []string{"on a ramfs filesystem (" + tmp + "/ram), which cannot hold the security.capability extended attribute"}},
		{tmp + "/with space/perf", false, []string{"noexec mount (" + tmp + "/with space, tmpfs"}},
		{tmp + "/fine/perf", true, nil},
		{tmp + "/alice/perf", false, []string{"refusing prefix " + tmp + "/alice/perf: " + tmp + "/alice is owned by nobody, not root: that user could swap the binary"}},
	}
	if err := os.Chown(filepath.Join(tmp, "alice"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", h, "check-prefix", "/tmp/perfprov-no-such-prefix").CombinedOutput(); err == nil || !strings.Contains(string(out), "/tmp is writable by group or others (mode 1777)") {
		t.Errorf("a prefix under /tmp: %v %s", err, out)
	}
	for _, tt := range tests {
		cmd := exec.Command("sh", h, "check-prefix", tt.prefix)
		cmd.Env = append(os.Environ(), "PERFPROV_MOUNTINFO="+mountinfo)
		out, err := cmd.CombinedOutput()
		if (err == nil) != tt.ok {
			t.Errorf("%s: ok=%v, want %v: %s", tt.prefix, err == nil, tt.ok, out)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.prefix, w, out)
			}
		}
		q := exec.Command("sh", h, "check-prefix", tt.prefix, "-q")
		q.Env = cmd.Env
		if out, _ := q.CombinedOutput(); len(out) != 0 {
			t.Errorf("%s -q printed %q", tt.prefix, out)
		}
	}
	if err := exec.Command("sh", h, "nonsense").Run(); err == nil {
		t.Error("an unknown subcommand succeeded")
	}
}
