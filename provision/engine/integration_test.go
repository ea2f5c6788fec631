package engine

// Integration tests on the lab of real hosts (internal/testbed): the perfprov binary applies a
// spec that uses every resource type to 3 hosts; state is checked from outside with lab.Exec.
// The sysctl used is kernel.domainname: it belongs to each host's UTS namespace, so the tests
// never change a kernel-wide value of this machine.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
	"github.com/perfprov/perfprov/internal/testbin"
)

func TestMain(m *testing.M) { testbed.Main(m) }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// perfprovBin builds the CLI once per test binary.
func perfprovBin(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() { binPath, binErr = testbin.Perfprov("engine") })
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

const helloC = "#include <stdio.h>\nint main(void) {\n\tputs(\"hello\");\n\treturn 1;\n}\n"

const fixPatch = `--- a/hello.c
+++ b/hello.c
@@ -1,5 +1,5 @@
 #include <stdio.h>
 int main(void) {
 	puts("hello");
-	return 1;
+	return 0;
 }
`

const brokenPatch = `--- a/hello.c
+++ b/hello.c
@@ -1,5 +1,5 @@
 #include <stdio.h>
 int main(void) {
 	puts("goodbye");
-	return 7;
+	return 8;
 }
`

// everyType uses each resource type once; extra is appended (HCL).
func everyType(extra string) string {
	return `
resource "group" "perf_users" {}

resource "user" "alice" {
  groups = [resource.group.perf_users.name]
}

resource "user" "carol" {
  groups = [resource.group.perf_users.name]
  shell  = "/bin/sh"
}

resource "package" "tools" {
  names = ["patch", "gcc"]
}

resource "directory" "pp" {
  path = "/opt/pp"
  mode = "0755"
}

resource "file" "motd" {
  path    = "${resource.directory.pp.path}/motd"
  content = "hello from ${host.name}\n"
  mode    = "0640"
  group   = resource.group.perf_users.name
}

resource "source" "hello" {
  path = "hello.tar.gz"
  dest = "${resource.directory.pp.path}/src"
}

resource "patch" "fix" {
  dir     = resource.source.hello.dest
  patches = ["fix.patch"]
}

resource "build" "hello" {
  dir       = resource.patch.fix.dir
  commands  = ["cc -o hello hello.c"]
  artifacts = ["hello"]
  depends_on = [resource.package.tools]
}

resource "permissions" "hello" {
  path  = "${resource.build.hello.dir}/hello"
  group = resource.group.perf_users.name
  mode  = "0750"
}

resource "capabilities" "hello" {
  path = resource.permissions.hello.path
  caps = ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"]
}

resource "sysctl" "domain" {
  name  = "kernel.domainname"
  value = "perfprov.test"
}

resource "command" "stamp" {
  run     = "date > /opt/pp/ran"
  creates = "/opt/pp/ran"
  depends_on = [resource.directory.pp]
}
` + extra
}

// specDir writes the lab inventory, the spec and its local files into a new directory.
func specDir(t *testing.T, lab *testbed.Lab, sp string, patches map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	inv, err := os.ReadFile(lab.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "inventory.hcl"), inv, 0o600)
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(sp), 0o600)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "hello-1.0/hello.c", Mode: 0o644, Size: int64(len(helloC)), Typeflag: tar.TypeReg})
	tw.Write([]byte(helloC))
	tw.Close()
	zw.Close()
	os.WriteFile(filepath.Join(dir, "hello.tar.gz"), buf.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "fix.patch"), []byte(fixPatch), 0o644)
	for name, p := range patches {
		os.WriteFile(filepath.Join(dir, name), []byte(p), 0o644)
	}
	return dir
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// perfprov runs the CLI in dir.
func perfprov(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, perfprovBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("perfprov %v: %v", args, err)
	}
	return res
}

func labExec(t *testing.T, lab *testbed.Lab, host, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := lab.Exec(ctx, host, script)
	if err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	return strings.TrimSpace(string(out))
}

// plannedChanges runs plan -json and returns host -> addresses of resources that would change.
func plannedChanges(t *testing.T, dir string) (map[string][]string, int) {
	t.Helper()
	res := perfprov(t, dir, "plan", "-json", "-detailed-exitcode", ".")
	out := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("plan -json line %q: %v", line, err)
		}
		if e.Type == EventPlannedChange && e.Action != "noop" {
			out[e.Host] = append(out[e.Host], e.Address+" "+e.Action)
		}
	}
	return out, res.code
}

// cleanHosts removes what the spec made, so that each test starts from the base.
func cleanHosts(t *testing.T, lab *testbed.Lab) {
	for _, h := range lab.Hosts {
		labExec(t, lab, h.Name, `rm -rf /opt/pp /etc/sysctl.d/99-zz-perfprov.conf /var/cache/perfprov
userdel -r carol 2>/dev/null; gpasswd -d alice perf_users 2>/dev/null; groupdel perf_users 2>/dev/null
sysctl -qw kernel.domainname='(none)'; true`)
	}
}

func TestLabApplyEveryType(t *testing.T) {
	lab := testbed.Require(t, 3)
	cleanHosts(t, lab)
	t.Cleanup(func() { cleanHosts(t, lab) })
	dir := specDir(t, lab, everyType(""), nil)
	aliceBefore := labExec(t, lab, lab.Hosts[0].Name, "id -Gn alice")

	res := perfprov(t, dir, "apply", "-auto-approve", ".")
	if res.code != 0 {
		t.Fatalf("first apply exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, h := range lab.Hosts {
		if !strings.Contains(res.stdout, h.Name) {
			t.Errorf("recap does not name %s", h.Name)
		}
		// State checked from outside, not through perfprov.
		got := labExec(t, lab, h.Name, `getcap /opt/pp/src/hello; stat -c '%a %G' /opt/pp/src/hello; /opt/pp/src/hello; echo rc=$?
cat /proc/sys/kernel/domainname; cat /etc/sysctl.d/99-zz-perfprov.conf; id -Gn alice; id -Gn carol; cat /opt/pp/motd; stat -c '%a %G' /opt/pp/motd; test -f /opt/pp/ran && echo ran`)
		for _, want := range []string{"cap_sys_ptrace,cap_syslog,cap_perfmon=ep", "750 perf_users", "hello\nrc=0", "perfprov.test",
			"kernel.domainname = perfprov.test", "hello from " + h.Name, "640 perf_users", "ran"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %q missing from\n%s", h.Name, want, got)
			}
		}
		for _, g := range strings.Fields(aliceBefore) {
			if !strings.Contains(got, g) {
				t.Errorf("%s: alice lost her group %s", h.Name, g)
			}
		}
	}
	// Second apply changes nothing; plan -detailed-exitcode exits 0.
	res = perfprov(t, dir, "apply", "-auto-approve", ".")
	if res.code != 0 || strings.Contains(res.stdout, "created") || strings.Contains(res.stdout, "changed (") {
		t.Fatalf("second apply exit %d, output:\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if !strings.Contains(res.stdout, "3 ok, 0 changed") {
		t.Errorf("second apply recap:\n%s", res.stdout)
	}
	if ch, code := plannedChanges(t, dir); code != 0 || len(ch) != 0 {
		t.Fatalf("plan after apply: exit %d, changes %v", code, ch)
	}

	// Drift by hand on one host appears as exactly that change and is repaired.
	h := lab.Hosts[1].Name
	labExec(t, lab, h, "setcap -r /opt/pp/src/hello; sysctl -qw kernel.domainname=drifted; chmod 0700 /opt/pp")
	ch, code := plannedChanges(t, dir)
	want := []string{"capabilities.hello create", "directory.pp update", "sysctl.domain update"}
	got := append([]string(nil), ch[h]...)
	if code != 2 || len(ch) != 1 || strings.Join(sortStrings(got), "|") != strings.Join(want, "|") {
		t.Fatalf("drift plan: exit %d, changes %v, want %s: %v", code, ch, h, want)
	}
	res = perfprov(t, dir, "apply", "-auto-approve", ".")
	if res.code != 0 {
		t.Fatalf("repair exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if ch, code := plannedChanges(t, dir); code != 0 || len(ch) != 0 {
		t.Fatalf("plan after repair: exit %d, changes %v", code, ch)
	}
	if got := labExec(t, lab, h, "getcap /opt/pp/src/hello; stat -c %a /opt/pp"); !strings.Contains(got, "cap_perfmon") || !strings.HasSuffix(got, "755") {
		t.Errorf("not repaired: %s", got)
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestLabFailureOnOneHost(t *testing.T) {
	lab := testbed.Require(t, 3)
	cleanHosts(t, lab)
	t.Cleanup(func() { cleanHosts(t, lab) })
	bad := lab.Hosts[1].Name
	extra := fmt.Sprintf(`
resource "command" "flaky" {
  run        = host.name == %q ? "echo disk on fire >&2; exit 1" : "true"
  creates    = "/opt/pp/flaky"
  depends_on = [resource.directory.pp]
}
resource "file" "after_flaky" {
  path       = "/opt/pp/after"
  content    = "x"
  depends_on = [resource.command.flaky]
}
`, bad)
	// On the good hosts the command succeeds but creates nothing: make it create the file.
	extra = strings.Replace(extra, `: "true"`, `: "touch /opt/pp/flaky"`, 1)
	dir := specDir(t, lab, everyType(extra), nil)
	res := perfprov(t, dir, "apply", "-auto-approve", ".")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	recap := res.stdout[strings.Index(res.stdout, "Recap:"):]
	for _, want := range []string{bad, "command.flaky", "disk on fire", "skipped file.after_flaky"} {
		if !strings.Contains(recap, want) {
			t.Errorf("recap lacks %q:\n%s", want, recap)
		}
	}
	// The other hosts converged.
	ch, _ := plannedChanges(t, dir)
	for _, h := range lab.Hosts {
		if h.Name != bad && len(ch[h.Name]) != 0 {
			t.Errorf("%s did not converge: %v", h.Name, ch[h.Name])
		}
	}
}

func TestLabPatchThatDoesNotApplyLeavesTree(t *testing.T) {
	lab := testbed.Require(t, 3)
	cleanHosts(t, lab)
	t.Cleanup(func() { cleanHosts(t, lab) })
	dir := specDir(t, lab, everyType(""), map[string]string{"broken.patch": brokenPatch})
	if res := perfprov(t, dir, "apply", "-auto-approve", "-limit", lab.Hosts[0].Name, "."); res.code != 0 {
		t.Fatalf("setup apply exit %d\n%s", res.code, res.stdout)
	}
	h := lab.Hosts[0].Name
	before := labExec(t, lab, h, "cd /opt/pp/src && sha256sum hello.c && ls -a")
	sp := strings.Replace(everyType(""), `patches = ["fix.patch"]`, `patches = ["fix.patch", "broken.patch"]`, 1)
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(sp), 0o600)
	res := perfprov(t, dir, "apply", "-auto-approve", "-limit", h, ".")
	if res.code != 1 || !strings.Contains(res.stdout, "broken.patch does not apply") || !strings.Contains(res.stdout, "FAILED") {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	if after := labExec(t, lab, h, "cd /opt/pp/src && sha256sum hello.c && ls -a"); after != before {
		t.Errorf("tree changed:\nbefore %s\nafter  %s", before, after)
	}
}

func TestLabSIGINT(t *testing.T) {
	lab := testbed.Require(t, 3)
	cleanHosts(t, lab)
	t.Cleanup(func() { cleanHosts(t, lab) })
	sp := `
resource "command" "slow" {
  run     = "sleep 3; touch /tmp/perfprov-slow"
  creates = "/tmp/perfprov-slow"
}
resource "command" "next" {
  run     = "touch /tmp/perfprov-next"
  creates = "/tmp/perfprov-next"
}
`
	for _, h := range lab.Hosts {
		labExec(t, lab, h.Name, "rm -f /tmp/perfprov-slow /tmp/perfprov-next")
	}
	dir := specDir(t, lab, sp, nil)
	cmd := exec.Command(perfprovBin(t), "apply", "-auto-approve", "-parallel", "1", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "command.slow changing") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 || !strings.Contains(out.String(), "Recap:") {
		t.Fatalf("exit %d, want 130 with a recap:\n%s", code, out.String())
	}
	// The step in flight finished; nothing new started.
	first := lab.Hosts[0].Name
	if got := labExec(t, lab, first, "ls /tmp/perfprov-slow /tmp/perfprov-next 2>&1; true"); !strings.Contains(got, "/tmp/perfprov-slow") || strings.Contains(got, "perfprov-next\n") {
		t.Errorf("%s after SIGINT: %s", first, got)
	}
	if !strings.Contains(out.String(), "not started") {
		t.Errorf("recap does not report hosts not started:\n%s", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLabCapabilityTraps: a nosuid mount and a script wrapper are refused with an explanation,
// and nothing is set on them.
func TestLabCapabilityTraps(t *testing.T) {
	lab := testbed.Require(t, 3)
	h := lab.Hosts[2].Name
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lab.MountNosuid(ctx, h, "/opt/nosuid"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		lab.Unmount(ctx, h, "/opt/nosuid")
		lab.Exec(ctx, h, "rm -rf /opt/nosuid /opt/wrap")
	})
	sp := `
resource "file" "elf" {
  path   = "/opt/nosuid/perf"
  source = "perf.elf"
  mode   = "0750"
}
resource "capabilities" "nosuid" {
  path = resource.file.elf.path
  caps = ["cap_perfmon"]
}
resource "directory" "wrap" {
  path = "/opt/wrap"
}
resource "file" "wrapper" {
  path    = "${resource.directory.wrap.path}/perf"
  content = "#!/bin/sh\nexec /usr/bin/perf \"$@\"\n"
  mode    = "0750"
}
resource "capabilities" "script" {
  path = resource.file.wrapper.path
  caps = ["cap_perfmon"]
}
`
	dir := specDir(t, lab, sp, nil)
	elf, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "perf.elf"), elf, 0o755)
	res := perfprov(t, dir, "apply", "-auto-approve", "-limit", h, ".")
	if res.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"capabilities.nosuid", "nosuid mount (/opt/nosuid", "exec ignores file capabilities", "capabilities.script", "is a script"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}
	if got := labExec(t, lab, h, "getcap /opt/nosuid/perf /opt/wrap/perf"); got != "" {
		t.Errorf("capabilities were set: %s", got)
	}
}
