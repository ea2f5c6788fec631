package spec

import (
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for no error, else part of the message
	}{
		{"login name", CheckLoginName("user", "alice"), ""},
		{"machine account", CheckLoginName("user", "host$"), ""},
		{"upper case", CheckLoginName("user", "Alice"), `"Alice" is not a valid user name`},
		{"too long", CheckLoginName("group", strings.Repeat("a", 33)), "up to 32"},
		{"option-like", CheckLoginName("user", "-u"), "not a valid"},
		{"absolute path", CheckHostPath("path", "/usr/bin/perf"), ""},
		{"relative path", CheckHostPath("path", "usr/bin"), "must be an absolute path on the host"},
		{"dot-dot", CheckHostPath("dest", "/opt/../etc"), "'.' or '..'"},
		{"trailing slash", CheckHostPath("dir", "/opt/"), "must not end with '/'"},
		{"newline", CheckHostPath("path", "/a\nb"), "control character"},
		{"mode", CheckMode("0750"), ""},
		{"five digits", CheckMode("07777"), "octal"},
		{"sha256 upper", CheckSHA256(strings.Repeat("AB", 32)), ""},
		{"sha256 short", CheckSHA256("abc"), "64 hexadecimal"},
		{"sysctl dotted", CheckSysctlName("kernel.perf_event_paranoid"), ""},
		{"sysctl slashes", CheckSysctlName("net/ipv4/conf/eth0:1/forwarding"), ""},
		{"sysctl double dot", CheckSysctlName("kernel..x"), "not a sysctl parameter name"},
		{"apt pin", CheckPackageName("linux-perf=6.1"), ""},
		{"apk tag", CheckPackageName("perf@edge"), ""},
		{"package option", CheckPackageName("-y"), "not a valid package name"},
		{"manager", CheckPackageManager("apt"), ""},
		{"unknown manager", CheckPackageManager("apt-get"), `manager must be one of "apt", "dnf", "yum", "zypper", "apk", "pacman", not "apt-get".`},
		{"timeout", CheckTimeout("30s"), ""},
		{"zero timeout", CheckTimeout("0s"), "positive duration"},
		{"flags", CheckCapFlags("eip"), ""},
		{"flags with +", CheckCapFlags("+ep"), "made of e, i and p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case tc.want == "" && tc.err != nil:
				t.Errorf("err = %v, want none", tc.err)
			case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
				t.Errorf("err = %v, want %q", tc.err, tc.want)
			}
		})
	}
}
