package facts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/transport"
)

var update = flag.Bool("update", false, "rewrite the golden .json files under testdata/")

// localConn is a transport.Conn that runs scripts with a local shell: the facts script's real
// behaviour on this machine, without SSH.
type localConn struct {
	name  string
	shell []string // argv before the script, e.g. {"/bin/sh", "-c"}
	env   []string // nil: the test's environment
	runs  atomic.Int32
	// result, when set, is returned instead of running anything.
	result *transport.Result
	err    error
}

func (c *localConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	c.runs.Add(1)
	if c.err != nil || c.result != nil {
		return c.result, c.err
	}
	shell := c.shell
	if shell == nil {
		shell = []string{"/bin/sh", "-c"}
	}
	x := exec.CommandContext(ctx, shell[0], append(shell[1:], cmd.Script)...)
	x.Env = c.env
	var stdout, stderr bytes.Buffer
	x.Stdout, x.Stderr = &stdout, &stderr
	err := x.Run()
	res := &transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitStatus = ee.ExitCode()
	} else if err != nil {
		return nil, err
	}
	return res, nil
}

func (c *localConn) Upload(context.Context, string, io.Reader, fs.FileMode) error {
	return errors.New("not supported")
}
func (c *localConn) Download(context.Context, string, io.Writer) error {
	return errors.New("not supported")
}
func (c *localConn) Host() string { return c.name }
func (c *localConn) Close() error { return nil }

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseFixtures parses recorded and synthesized outputs of the script: each against a golden
// JSON file (go test -update rewrites them) and against the facts that matter for its case.
func TestParseFixtures(t *testing.T) {
	tests := []struct {
		name  string
		check func(t *testing.T, f *Facts)
	}{
		{"debian12-vm-nopmu", func(t *testing.T, f *Facts) {
			want(t, "os_id", f.OSID, "debian")
			want(t, "os_version", f.OSVersion, "12")
			want(t, "kernel_release", f.KernelRelease, "6.18.44-fc-v782")
			want(t, "cap_last_cap", f.CapLastCap, 40)
			want(t, "kernel_perfmon_supported", f.KernelPerfmonSupported, true)
			want(t, "has_pmu", f.HasPMU, false)
			want(t, "pmu", f.PMU, []string{})
			want(t, "pmu_type", f.PMUType, "")
			want(t, "is_root", f.IsRoot, true)
			want(t, "perf.version", f.Perf.Version, "6.1.187")
			want(t, "perf.is_elf", f.Perf.IsELF, true)
			want(t, "libcap.version", f.Libcap.Version, "2.66")
			want(t, "cpu_count", f.CPUCount, 2)
			want(t, "package_manager", f.PackageManager, "apt")
			// No kernel config, a custom kernel, paranoid 2: only os_id speaks, and it leans to true.
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, true)
			want(t, "ssh host keys", f.SSHHostKeys, []string{
				"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmT root@lab1",
				"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk0kWGV6lAUN37eFLVJY0t5kycSnii1eek/Chqh0t9s root@lab1"})
		}},
		{"ubuntu2204-wrapper-x86pmu", func(t *testing.T, f *Facts) {
			want(t, "os_id", f.OSID, "ubuntu")
			want(t, "os_id_like", f.OSIDLike, []string{"debian"})
			want(t, "perf_event_paranoid", f.PerfEventParanoid, 4)
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, true)
			want(t, "pmu", f.PMU, []string{"cpu"})
			want(t, "pmu_type", f.PMUType, "x86")
			want(t, "perf.is_script", f.Perf.IsScript, true)
			want(t, "perf.is_elf", f.Perf.IsELF, false)
			want(t, "perf.version", f.Perf.Version, "")
			want(t, "perf.version_error", f.Perf.VersionError, "perf --version exited 2: WARNING: perf not found for kernel 5.15.0-91")
			want(t, "perf.linux_tools_path", f.Perf.LinuxToolsPath, "")
			want(t, "perf.candidates", len(f.Perf.Candidates), 2)
			want(t, "user", f.User, "ubuntu")
			want(t, "groups", f.Groups, []string{"ubuntu", "adm", "cdrom", "sudo", "dip", "plugdev", "lxd"})
			want(t, "is_root", f.IsRoot, false)
			want(t, "has_sudo", f.HasSudo, true)
			want(t, "sudo_no_password", f.SudoNoPassword, true)
			want(t, "nmi_watchdog", f.NMIWatchdog, 1)
			want(t, "kptr_restrict", f.KptrRestrict, 1)
			want(t, "libcap.version", f.Libcap.Version, "2.44")
			want(t, "cpu_model", f.CPUModel, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz")
		}},
		{"debian12-arm64-pmuv3", func(t *testing.T, f *Facts) {
			want(t, "arch", f.Arch, "aarch64")
			want(t, "pmu", f.PMU, []string{"armv8_pmuv3_0"})
			want(t, "pmu_type", f.PMUType, "arm")
			want(t, "has_pmu", f.HasPMU, true)
			want(t, "cpu_model", f.CPUModel, "Neoverse-N1")
			want(t, "cpu_count", f.CPUCount, 4)
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, true)
			want(t, "reason", f.DistroParanoidPatchReason, "kernel config has CONFIG_SECURITY_PERF_EVENTS_RESTRICT=y")
			want(t, "perf.version", f.Perf.Version, "6.1.76")
		}},
		{"debian10-old-kernel-cap37", func(t *testing.T, f *Facts) {
			want(t, "cap_last_cap", f.CapLastCap, 37)
			want(t, "kernel_perfmon_supported", f.KernelPerfmonSupported, false)
			want(t, "arch", f.Arch, "x86_64") // from uname: no kernel.arch on 4.19
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, true)
			want(t, "reason", strings.HasPrefix(f.DistroParanoidPatchReason, "kernel version names Debian"), true)
			want(t, "perf.is_script", f.Perf.IsScript, true)
			want(t, "perf.version", f.Perf.Version, "4.19.304")
			want(t, "perf.linux_tools_path", f.Perf.LinuxToolsPath, "/usr/bin/perf_4.19")
			want(t, "libcap.version", f.Libcap.Version, "2.25")
			want(t, "libcap.setcap_path", f.Libcap.SetcapPath, "/sbin/setcap")
			want(t, "perfmon_in_bounding_set", f.PerfmonInBoundingSet, false)
		}},
		{"fedora39-hybrid-intel", func(t *testing.T, f *Facts) {
			want(t, "pmu", f.PMU, []string{"cpu_atom", "cpu_core"})
			want(t, "pmu_type", f.PMUType, "hybrid")
			want(t, "package_manager", f.PackageManager, "dnf")
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, false)
			want(t, "sudo_no_password", f.SudoNoPassword, false)
			want(t, "has_sudo", f.HasSudo, true)
			want(t, "groups", f.Groups, []string{"dev", "wheel"})
			want(t, "cpu_count", f.CPUCount, 16)
			want(t, "/tmp nosuid", f.Mounts["/tmp"].NoSuid, true)
			want(t, "/tmp fstype", f.Mounts["/tmp"].FSType, "tmpfs")
			want(t, "/opt mount", f.Mounts["/opt"].MountPoint, "/")
			want(t, "/opt nosuid", f.Mounts["/opt"].NoSuid, false)
			want(t, "libcap.version", f.Libcap.Version, "2.48")
		}},
		{"rocky9-opt-nosuid", func(t *testing.T, f *Facts) {
			want(t, "os_id", f.OSID, "rocky")
			want(t, "os_id_like", f.OSIDLike, []string{"rhel", "centos", "fedora"})
			want(t, "distro_paranoid_patch", f.DistroParanoidPatch, false)
			want(t, "/opt", f.Mounts["/opt"], Mount{Path: "/opt", MountPoint: "/opt", FSType: "xfs",
				Options: []string{"rw", "nosuid", "nodev", "relatime"}, NoSuid: true})
			want(t, "/usr/local path", f.Mounts["/usr/local"].Path, "/opt/local")
			want(t, "/usr/local nosuid", f.Mounts["/usr/local"].NoSuid, true)
			want(t, "/usr nosuid", f.Mounts["/usr"].NoSuid, false)
			want(t, "/tmp noexec", f.Mounts["/tmp"].NoExec, true) // the later mount over /tmp
			want(t, "perf.path", f.Perf.Path, "")
			want(t, "perf.version_error", f.Perf.VersionError, "")
			want(t, "has_sudo", f.HasSudo, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(readFixture(t, tt.name+".out"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, f)
			if len(f.Mounts) != len(InstallPrefixes) {
				t.Errorf("mounts for %d prefixes, want %d: %v", len(f.Mounts), len(InstallPrefixes), f.Mounts)
			}
			got, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantJSON, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, wantJSON) {
				t.Errorf("facts differ from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func want[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestParseErrors: broken output gives an error that says what is wrong, never a panic.
func TestParseErrors(t *testing.T) {
	tests := []struct{ fixture, wantErr string }{
		{"bad-empty.out", "printed nothing"},
		{"bad-garbage.out", `no "perfprov-facts 1" header (first line: "-bash: line 1: syntax error`},
		{"bad-truncated.out", "truncated"},
		{"bad-format-version.out", `facts format "2" is not understood`},
		{"bad-cap-not-number.out", `/proc/sys/kernel/cap_last_cap reads "forty", not a number`},
		{"bad-no-kernel.out", "no kernel release (awk exited 2)"},
		{"bad-not-kv.out", `line 2 is not KEY=VALUE: "this line has no equals sign"`},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			f, err := Parse(readFixture(t, tt.fixture))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestParseTruncatedEverywhere cuts every good fixture at every byte offset: each prefix either
// parses (it still ends with the end line) or fails with an error; none panics.
func TestParseTruncatedEverywhere(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.out")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// Every line end, and a few bytes into every line: enough to cut every key and value.
		for i := 0; i < len(b); i++ {
			if i > 0 && b[i-1] != '\n' && (i < 2 || b[i-2] != '\n') && (i < 6 || b[i-6] != '\n') {
				continue
			}
			if _, err := Parse(b[:i]); err == nil && !bytes.Contains(b[:i], []byte(endMarker)) {
				t.Fatalf("%s cut at %d parsed without an end line", file, i)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.out")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := Parse(b)
		if err == nil {
			_ = facts.Value() // must not panic either
		}
	})
}

// TestGatherLocal runs the real script on this machine through a Conn that runs sh locally, and
// checks it against what the machine says directly.
func TestGatherLocal(t *testing.T) {
	conn := &localConn{name: "localhost"}
	f, err := Gather(context.Background(), conn)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	if n := conn.runs.Load(); n != 1 {
		t.Errorf("Gather ran %d commands, want 1 round trip", n)
	}
	want(t, "kernel_release", f.KernelRelease, procString(t, "/proc/sys/kernel/osrelease"))
	if s, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(string(s)))
		want(t, "cap_last_cap", f.CapLastCap, n)
		want(t, "kernel_perfmon_supported", f.KernelPerfmonSupported, n >= 38)
	}
	if s, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid"); err == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(string(s)))
		want(t, "perf_event_paranoid", f.PerfEventParanoid, n)
		want(t, "perf_events", f.PerfEvents, true)
	}
	_, err = os.Stat("/sys/bus/event_source/devices/cpu")
	if hasCPU := err == nil; hasCPU && !f.HasPMU {
		t.Errorf("has_pmu = false, but /sys/bus/event_source/devices/cpu exists")
	}
	want(t, "uid", f.UID, os.Getuid())
	want(t, "is_root", f.IsRoot, os.Getuid() == 0)
	if f.CPUCount < 1 {
		t.Errorf("cpu_count = %d", f.CPUCount)
	}
	if f.Arch == "" || f.OSID == "" || f.User == "" {
		t.Errorf("arch %q, os_id %q, user %q: want all set", f.Arch, f.OSID, f.User)
	}
	for _, p := range InstallPrefixes {
		if _, ok := f.Mounts[p]; !ok {
			t.Errorf("no mount for %s", p)
		}
	}
	if p, err := exec.LookPath("perf"); err == nil {
		want(t, "perf.path", f.Perf.Path, p)
		if f.Perf.Version == "" && f.Perf.VersionError == "" {
			t.Errorf("perf found at %s but neither a version nor an error", p)
		}
	}
	if v := f.Value(); !v.Type().Equals(Type()) {
		t.Errorf("Value() type differs from Type()")
	}
}

func procString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestScriptShells runs the script with every POSIX shell on this machine: each must produce the
// same facts. (Debian's /bin/sh is dash; busybox ash is what minimal hosts have; posh is strict.)
func TestScriptShells(t *testing.T) {
	base, err := Gather(context.Background(), &localConn{name: "sh"})
	if err != nil {
		t.Fatal(err)
	}
	shells := [][]string{{"dash", "-c"}, {"bash", "--posix", "-c"}, {"busybox", "sh", "-c"}, {"posh", "-c"}}
	ran := 0
	for _, sh := range shells {
		path, err := exec.LookPath(sh[0])
		if err != nil {
			continue
		}
		ran++
		t.Run(sh[0], func(t *testing.T) {
			if out, err := exec.Command(path, append(append([]string{}, sh[1:len(sh)-1]...), "-n", "-c", Script())...).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", sh[0], err, out)
			}
			conn := &localConn{name: sh[0], shell: append([]string{path}, sh[1:]...)}
			res, err := conn.Run(context.Background(), transport.Command{Script: Script()})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Stderr) > 0 {
				t.Errorf("%s wrote to stderr:\n%s", sh[0], res.Stderr)
			}
			f, err := Parse(res.Stdout)
			if err != nil {
				t.Fatalf("%s: %v", sh[0], err)
			}
			sameFacts(t, base, f)
		})
	}
	if ran == 0 {
		t.Log("no other shell than /bin/sh here")
	}
}

// TestScriptWithoutAwk hides awk: the shell's own fallback must give the same facts. Both runs
// get a PATH of symlinks to the same commands, one of them without awk.
func TestScriptWithoutAwk(t *testing.T) {
	if p, err := exec.LookPath("awk"); err != nil || !strings.HasPrefix(p, "/usr/bin/") && !strings.HasPrefix(p, "/bin/") {
		t.Skipf("awk at %q: cannot hide it from the sbin directories the script always searches", p)
	}
	tools := []string{"perf", "ls", "stat", "setcap", "getcap", "capsh", "sudo", "cat", "od", "sed", "tr", "readlink", "uname", "apt-get", "dnf", "lscpu"}
	run := func(withAwk bool) []byte {
		dir := filepath.Join(t.TempDir(), "bin")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		names := tools
		if withAwk {
			names = append(slices.Clone(tools), "awk")
		}
		for _, name := range names {
			if p, err := exec.LookPath(name); err == nil {
				if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The same directory name in both runs: the paths of the tools are facts too.
		stable := filepath.Join(os.TempDir(), "perfprov-facts-test-bin-"+strconv.Itoa(os.Getpid()))
		_ = os.Remove(stable)
		if err := os.Symlink(dir, stable); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(stable)
		conn := &localConn{name: "no-awk", env: []string{"PATH=" + stable, "LOGNAME=" + os.Getenv("LOGNAME")}}
		res, err := conn.Run(context.Background(), transport.Command{Script: Script()})
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(res.Stdout, []byte("awk.status=")); got != withAwk {
			t.Fatalf("awk used: %v, want %v", got, withAwk)
		}
		if len(res.Stderr) > 0 {
			t.Errorf("stderr:\n%s", res.Stderr)
		}
		return res.Stdout
	}
	a, err := Parse(run(true))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(run(false))
	if err != nil {
		t.Fatal(err)
	}
	sameFacts(t, a, b)
}

// sameFacts compares two gatherings of this machine, less what differs from run to run.
func sameFacts(t *testing.T, a, b *Facts) {
	t.Helper()
	a2, b2 := *a, *b
	// The login environment and the process' own limits may differ between the shells' runs.
	if a2.User == b2.User || a2.User == "" || b2.User == "" {
		a2.User, b2.User = "", ""
	}
	ja, _ := json.MarshalIndent(a2, "", " ")
	jb, _ := json.MarshalIndent(b2, "", " ")
	if !bytes.Equal(ja, jb) {
		t.Errorf("facts differ:\n%s\nvs\n%s", ja, jb)
	}
}

func TestGatherErrors(t *testing.T) {
	tests := []struct {
		name    string
		conn    *localConn
		wantErr string
	}{
		{"transport error naming the host",
			&localConn{name: "web1", err: errors.New("web1: connection lost")},
			"web1: gathering facts: connection lost"},
		{"transport error without the host",
			&localConn{name: "web1", err: context.DeadlineExceeded},
			"web1: gathering facts: context deadline exceeded"},
		{"shell cannot run the script",
			&localConn{name: "db2", result: &transport.Result{ExitStatus: 127, Stderr: []byte("\nsh: 1: awk: Permission denied\n")}},
			"db2: reading facts: the facts script printed nothing (the facts script exited 127: sh: 1: awk: Permission denied)"},
		{"truncated output",
			&localConn{name: "db3", result: &transport.Result{Stdout: []byte("perfprov-facts 1\nfile=/proc/sys/kernel/osrelease\t6.1\n")}},
			"db3: reading facts: the facts output is truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Gather(context.Background(), tt.conn)
			if err == nil {
				t.Fatalf("Gather succeeded: %+v", f)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to start with %q", err, tt.wantErr)
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.Host != tt.conn.name {
				t.Errorf("error is not a *facts.Error for %s: %#v", tt.conn.name, err)
			}
		})
	}
}

func TestGatherCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Gather(ctx, &localConn{name: "h"})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Gather on a cancelled context: %v, want context.Canceled", err)
	}
}

func TestValue(t *testing.T) {
	f, err := Parse(readFixture(t, "rocky9-opt-nosuid.out"))
	if err != nil {
		t.Fatal(err)
	}
	v := f.Value()
	if !v.Type().Equals(Type()) {
		t.Fatalf("Value type %s differs from Type()", v.Type().FriendlyName())
	}
	get := func(path ...any) cty.Value {
		cur := v
		for _, p := range path {
			switch p := p.(type) {
			case string:
				if cur.Type().IsMapType() {
					cur = cur.Index(cty.StringVal(p))
				} else {
					cur = cur.GetAttr(p)
				}
			case int:
				cur = cur.Index(cty.NumberIntVal(int64(p)))
			}
		}
		return cur
	}
	checks := []struct {
		path []any
		want cty.Value
	}{
		{[]any{"cap_last_cap"}, cty.NumberIntVal(40)},
		{[]any{"perf_event_paranoid"}, cty.NumberIntVal(2)},
		{[]any{"kernel_release"}, cty.StringVal("5.14.0-362.8.1.el9_3.x86_64")},
		{[]any{"os_id"}, cty.StringVal("rocky")},
		{[]any{"pmu", 0}, cty.StringVal("cpu")},
		{[]any{"has_pmu"}, cty.True},
		{[]any{"mounts", "/opt", "nosuid"}, cty.True},
		{[]any{"mounts", "/usr", "nosuid"}, cty.False},
		{[]any{"mounts", "/opt", "options", 1}, cty.StringVal("nosuid")},
		{[]any{"perf", "path"}, cty.StringVal("")},
		{[]any{"libcap", "version"}, cty.StringVal("2.48")},
	}
	for _, c := range checks {
		if got := get(c.path...); !got.RawEquals(c.want) {
			t.Errorf("host.facts%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	// The object's keys are the JSON keys, so that a spec reads what -json prints.
	var m map[string]any
	b, _ := json.Marshal(f)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var jsonKeys, ctyKeys []string
	for k := range m {
		jsonKeys = append(jsonKeys, k)
	}
	for k := range Type().AttributeTypes() {
		ctyKeys = append(ctyKeys, k)
	}
	slices.Sort(jsonKeys)
	slices.Sort(ctyKeys)
	want(t, "host.facts keys", ctyKeys, jsonKeys)
	for _, k := range []string{"cap_last_cap", "perf_event_paranoid", "pmu", "kernel_release", "os_id"} {
		if !slices.Contains(ctyKeys, k) {
			t.Errorf("required key %q missing", k)
		}
	}

	u := UnknownValue()
	if u.IsKnown() || !u.Type().Equals(Type()) {
		t.Errorf("UnknownValue: known %v, type %s", u.IsKnown(), u.Type().FriendlyName())
	}
	if got := (*Facts)(nil).Value(); got.IsKnown() {
		t.Errorf("nil facts' Value is known")
	}
	// Empty facts still have the full type (empty lists and maps are typed).
	if !(&Facts{}).Value().Type().Equals(Type()) {
		t.Errorf("empty facts have another type")
	}
}

func TestDistroParanoidPatch(t *testing.T) {
	tests := []struct {
		name      string
		f         Facts
		out       string // script lines
		want      bool
		reasonHas string
	}{
		{"config says yes", Facts{KernelRelease: "r", OSID: "fedora"},
			"kconfig.path=/boot/config-r\nfile=/boot/config-r\tCONFIG_SECURITY_PERF_EVENTS_RESTRICT=y", true, "kernel config has"},
		{"config says no, even on debian with paranoid 3", Facts{KernelRelease: "r", OSID: "debian", PerfEvents: true, PerfEventParanoid: 3, KernelVersion: "#1 SMP Debian 6.1"},
			"kconfig.path=/boot/config-r", false, "does not set"},
		{"ubuntu kernel", Facts{KernelVersion: "#101-Ubuntu SMP", OSID: "arch"}, "", true, "names Ubuntu"},
		{"paranoid above 2", Facts{PerfEvents: true, PerfEventParanoid: 3, OSID: "fedora"}, "", true, "perf_event_paranoid is 3"},
		{"os like debian", Facts{OSID: "linuxmint", OSIDLike: []string{"ubuntu", "debian"}}, "", true, "ubuntu"},
		{"plain upstream", Facts{OSID: "arch", PerfEvents: true, PerfEventParanoid: 2}, "", false, "no sign"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := split([]byte(header + "\n" + tt.out + "\n" + endMarker + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got, reason := distroParanoidPatch(&tt.f, o)
			if got != tt.want || !strings.Contains(reason, tt.reasonHas) {
				t.Errorf("= %v %q, want %v and a reason with %q", got, reason, tt.want, tt.reasonHas)
			}
		})
	}
}

func TestClassifyPMUs(t *testing.T) {
	tests := []struct {
		sources  []string
		arch     string
		wantPMU  []string
		wantType string
	}{
		{[]string{"breakpoint", "software", "tracepoint"}, "x86_64", []string{}, ""},
		{[]string{"cpu", "msr", "power", "uncore_imc_0"}, "x86_64", []string{"cpu"}, "x86"},
		{[]string{"cpu_atom", "cpu_core", "msr"}, "x86_64", []string{"cpu_atom", "cpu_core"}, "hybrid"},
		{[]string{"armv8_cortex_a53", "armv8_cortex_a72", "arm_dsu_0"}, "aarch64", []string{"armv8_cortex_a53", "armv8_cortex_a72"}, "arm"},
		{[]string{"apple_firestorm_pmu", "apple_icestorm_pmu"}, "aarch64", []string{"apple_firestorm_pmu", "apple_icestorm_pmu"}, "arm"},
		{[]string{"cpu", "hv_24x7"}, "ppc64le", []string{"cpu"}, "power"},
		{[]string{"cpum_cf", "cpum_sf"}, "s390x", []string{"cpum_cf"}, "s390"},
		{[]string{"cpu"}, "riscv64", []string{"cpu"}, "riscv"},
	}
	for _, tt := range tests {
		pmu, typ := classifyPMUs(tt.sources, tt.arch)
		if !reflect.DeepEqual(pmu, tt.wantPMU) || typ != tt.wantType {
			t.Errorf("classifyPMUs(%v, %s) = %v %q, want %v %q", tt.sources, tt.arch, pmu, typ, tt.wantPMU, tt.wantType)
		}
	}
}

func TestCountCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{"0", 1, false}, {"0-1", 2, false}, {"0-3,8,10-11", 7, false}, {"", 0, false},
		{"a-b", 0, true}, {"3-1", 0, true}, {"0-", 0, true},
	}
	for _, tt := range tests {
		got, err := countCPUList(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("countCPUList(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestSmallParsers(t *testing.T) {
	want(t, "unescape", unescapeMount(`/mnt/a\040b`), "/mnt/a b")
	want(t, "unescape short", unescapeMount(`/x\04`), `/x\04`)
	want(t, "majorMinor", majorMinor("6.1.0-18-amd64"), "6.1")
	want(t, "majorMinor 4.19", majorMinor("4.19.0-26-amd64"), "4.19")
	want(t, "majorMinor junk", majorMinor("junk"), "")
	if _, err := parseMountinfo("1 2 3"); err == nil {
		t.Error("short mountinfo line accepted")
	}
}

func TestScriptQuotesPrefixes(t *testing.T) {
	s := Script()
	if strings.Contains(s, "@PREFIXES@") {
		t.Fatal("placeholder left in the script")
	}
	if !strings.Contains(s, "for _x in /opt /usr/local /usr / /tmp; do") {
		t.Error("install prefixes not in the script")
	}
}

// recordingConn keeps the output of the last command it ran.
type recordingConn struct {
	localConn
	last []byte
}

func (c *recordingConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	res, err := c.localConn.Run(ctx, cmd)
	if res != nil {
		c.last = res.Stdout
	}
	return res, err
}

// TestKnownPerf: a perf version learnt before is reused only while the host's perf is the same
// file, and the values passed to the script cannot break out of their quotes.
func TestKnownPerf(t *testing.T) {
	if _, err := exec.LookPath("perf"); err != nil {
		t.Skip("no perf on this machine")
	}
	conn := &recordingConn{localConn: localConn{name: "h"}}
	first, err := GatherWith(context.Background(), conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	known, ok := first.KnownPerf()
	if !first.Perf.IsELF {
		if ok {
			t.Fatal("KnownPerf() offered a non-ELF perf's version")
		}
		t.Skip("perf here is not an ELF")
	}
	if !ok || known.Fingerprint == "" {
		t.Fatalf("KnownPerf() = %+v, %v", known, ok)
	}

	again, err := GatherWith(context.Background(), conn, Options{KnownPerf: known})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(conn.last, []byte("perf.version_known=yes")) {
		t.Error("the known version was not used")
	}
	want(t, "version", again.Perf.Version, first.Perf.Version)

	stale := known
	stale.Fingerprint += "x"
	stale.Version = "0.0.0-stale"
	got, err := GatherWith(context.Background(), conn, Options{KnownPerf: stale})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(conn.last, []byte("perf.version_known=yes")) || got.Perf.Version != first.Perf.Version {
		t.Errorf("a stale fingerprint was trusted: version %q", got.Perf.Version)
	}

	marker := filepath.Join(t.TempDir(), "pwned")
	evil := KnownPerf{Fingerprint: "x'; touch " + marker + "; '", Version: "1$(touch " + marker + ")`touch " + marker + "`"}
	if _, err := GatherWith(context.Background(), conn, Options{KnownPerf: evil}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a known-perf value ran as shell code")
	}
}

func TestPerfCache(t *testing.T) {
	dir := t.TempDir()
	path := PerfCachePath(func(k string) string { return map[string]string{"XDG_CACHE_HOME": dir}[k] })
	want(t, "path", path, filepath.Join(dir, "perfprov", "perf-versions.json"))
	want(t, "no home", PerfCachePath(func(string) string { return "" }), "")

	elf := &Facts{Perf: Perf{IsELF: true, Version: "6.1.76", Fingerprint: "1 -rwxr-xr-x 1 0 0 9 Sep  7 19:33 /usr/bin/perf"}}
	script := &Facts{Perf: Perf{IsScript: true, Version: "5.15", Fingerprint: "2 -rwxr-xr-x 1 0 0 9 Sep  7 19:33 /usr/bin/perf"}}

	c := OpenPerfCache(path)
	c.Put("web1 10.0.0.1:22", elf)
	c.Put("web2 10.0.0.2:22", script)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	c2 := OpenPerfCache(path)
	want(t, "web1", c2.Get("web1 10.0.0.1:22"), KnownPerf{Fingerprint: elf.Perf.Fingerprint, Version: "6.1.76"})
	want(t, "web2 (a script is never cached)", c2.Get("web2 10.0.0.2:22"), KnownPerf{})
	c2.Put("web1 10.0.0.1:22", script) // perf became a wrapper: forget it
	if err := c2.Save(); err != nil {
		t.Fatal(err)
	}
	want(t, "web1 forgotten", OpenPerfCache(path).Get("web1 10.0.0.1:22"), KnownPerf{})

	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, "corrupt cache", OpenPerfCache(path).Get("web1 10.0.0.1:22"), KnownPerf{})
	if err := OpenPerfCache("").Save(); err != nil {
		t.Errorf("a cache without a file: %v", err)
	}
}

// TestOSReleaseFamilies: real os-release files (provision/distro/testdata/os-release), as the
// script dumps them, give the family and the package manager; derivatives by ID_LIKE alone.
func TestOSReleaseFamilies(t *testing.T) {
	tests := []struct {
		file    string
		path    string   // where the script found it
		pkg     []string // the commands the script found, in its order
		family  string
		manager string
	}{
		{"debian12", "/etc/os-release", []string{"apt-get"}, "debian", "apt"},
		{"raspbian11", "/etc/os-release", []string{"apt-get"}, "debian", "apt"},
		{"linuxmint22.1", "/etc/os-release", []string{"apt-get"}, "ubuntu", "apt"},
		{"pop22.04", "/etc/os-release", []string{"apt-get"}, "ubuntu", "apt"},
		{"rocky9.3", "/etc/os-release", []string{"dnf", "yum"}, "fedora", "dnf"},
		{"almalinux10.0", "/usr/lib/os-release", []string{"dnf"}, "fedora", "dnf"},
		{"oraclelinux9.3", "/etc/os-release", []string{"dnf", "yum"}, "fedora", "dnf"},
		{"centos7", "/etc/os-release", []string{"yum"}, "fedora", "yum"},
		{"opensuse-leap15.5", "/usr/lib/os-release", []string{"zypper"}, "suse", "zypper"},
		{"alpine3.23", "/etc/os-release", []string{"apk"}, "alpine", "apk"},
		{"arch", "/etc/os-release", []string{"dnf", "pacman"}, "arch", "pacman"},
		{"manjaro", "/etc/os-release", []string{"pacman"}, "arch", "pacman"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "distro", "testdata", "os-release", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			out.WriteString(header + "\nfile=/proc/sys/kernel/osrelease\t6.1.0\n")
			for _, p := range tt.pkg {
				out.WriteString("pkg=" + p + "\n")
			}
			for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				out.WriteString("file=" + tt.path + "\t" + l + "\n")
			}
			out.WriteString(endMarker + "\n")
			f, err := Parse([]byte(out.String()))
			if err != nil {
				t.Fatal(err)
			}
			want(t, "os_family", f.OSFamily, tt.family)
			want(t, "package_manager", f.PackageManager, tt.manager)
			if v := f.Value().GetAttr("os_family").AsString(); v != tt.family {
				t.Errorf("host.facts.os_family = %q", v)
			}
		})
	}
}
