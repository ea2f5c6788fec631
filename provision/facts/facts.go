// Package facts gathers what perfprov needs to know about a host in one round trip: one generated
// script runs on the host and its output is parsed into typed facts.
package facts

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/persist"
)

// Facts is what one host told about itself. JSON keys are snake_case; they are also the keys of
// host.facts in specs.
//
// Numbers that could not be read are -1 (CapLastCap, KptrRestrict, NMIWatchdog, UID, CPUCount is
// 0). PerfEventParanoid is only meaningful when PerfEvents is true: a kernel without perf events
// has no paranoid file at all.
type Facts struct {
	OSID         string   `json:"os_id"`          // os-release ID: debian, ubuntu, fedora...
	OSIDLike     []string `json:"os_id_like"`     // os-release ID_LIKE
	OSVersion    string   `json:"os_version"`     // os-release VERSION_ID
	OSPrettyName string   `json:"os_pretty_name"` // os-release PRETTY_NAME
	// OSFamily is the distribution family the host belongs to by its ID, then its ID_LIKE in
	// order (distro.Lookup): debian, ubuntu, fedora, suse, alpine, arch, or "" when none is
	// known. The built-in modules name packages per family.
	OSFamily string `json:"os_family"`

	KernelRelease string `json:"kernel_release"` // uname -r
	KernelVersion string `json:"kernel_version"` // uname -v: names Debian or Ubuntu on their kernels
	Arch          string `json:"arch"`           // uname -m

	CapLastCap             int  `json:"cap_last_cap"`             // /proc/sys/kernel/cap_last_cap
	KernelPerfmonSupported bool `json:"kernel_perfmon_supported"` // CapLastCap >= 38 (Linux 5.8)
	PerfEvents             bool `json:"perf_events"`              // the kernel has perf events
	PerfEventParanoid      int  `json:"perf_event_paranoid"`
	// DistroParanoidPatch: the kernel is believed to carry the Debian/Ubuntu patch with which a
	// paranoid level above 2 requires CAP_SYS_ADMIN whatever CAP_PERFMON says. See the reason.
	DistroParanoidPatch       bool   `json:"distro_paranoid_patch"`
	DistroParanoidPatchReason string `json:"distro_paranoid_patch_reason"`
	KptrRestrict              int    `json:"kptr_restrict"`
	NMIWatchdog               int    `json:"nmi_watchdog"` // 1: the watchdog holds a counter

	// EventSources are all of /sys/bus/event_source/devices; PMU the hardware CPU PMUs among them.
	EventSources []string `json:"event_sources"`
	PMU          []string `json:"pmu"`
	PMUType      string   `json:"pmu_type"` // "" (none), x86, hybrid, arm, power, s390, riscv, other
	HasPMU       bool     `json:"has_pmu"`
	CPUModel     string   `json:"cpu_model"`
	CPUCount     int      `json:"cpu_count"` // online CPUs

	// PackageManager is the family's manager where the host has it (dnf before yum), else the
	// first found of apt, dnf, yum, zypper, apk, pacman; "" when there is none.
	PackageManager string `json:"package_manager"`

	User           string   `json:"user"`
	UID            int      `json:"uid"`
	Groups         []string `json:"groups"` // primary first; numeric when the group has no name
	IsRoot         bool     `json:"is_root"`
	HasSudo        bool     `json:"has_sudo"`
	SudoNoPassword bool     `json:"sudo_no_password"` // sudo -n true works (checked only when not root)
	// NoNewPrivs and PerfmonInBoundingSet describe the login session: either one defeats file
	// capabilities for the processes it starts (containers often drop cap_perfmon).
	NoNewPrivs           bool `json:"no_new_privs"`
	PerfmonInBoundingSet bool `json:"perfmon_in_bounding_set"`

	// Mounts holds, for each install prefix (InstallPrefixes), the mount that holds it.
	Mounts map[string]Mount `json:"mounts"`

	Perf   Perf   `json:"perf"`
	Libcap Libcap `json:"libcap"`

	// SSHHostKeys are the host's sshd public host keys (/etc/ssh/ssh_host_*_key.pub, authorized_keys
	// format): what a new login would be shown. Not a fact specs read; see persist.CheckKeptHostKeys.
	SSHHostKeys []string `json:"-"`
}

// Mount is the mount that holds an install prefix.
type Mount struct {
	Path       string   `json:"path"` // the prefix with symlinks resolved
	MountPoint string   `json:"mount_point"`
	FSType     string   `json:"fstype"`
	Options    []string `json:"options"` // per-mount options
	NoSuid     bool     `json:"nosuid"`  // file capabilities are ignored on exec
	NoExec     bool     `json:"noexec"`
	ReadOnly   bool     `json:"readonly"`
}

// Perf is the perf found on the login user's PATH.
type Perf struct {
	Path     string `json:"path"`      // command -v perf ("" when there is none)
	RealPath string `json:"real_path"` // symlinks resolved
	IsELF    bool   `json:"is_elf"`
	IsScript bool   `json:"is_script"` // a wrapper: it cannot carry file capabilities
	Version  string `json:"version"`   // from perf --version; "" when it printed no version
	// VersionError is what perf --version said instead of a version (a wrapper that found no perf
	// for the running kernel, for example).
	VersionError string `json:"version_error"`
	// LinuxToolsPath is the real perf for the running kernel that a wrapper would run
	// (/usr/lib/linux-tools/RELEASE/perf, or /usr/bin/perf_X.Y on Debian <= 11), when installed.
	LinuxToolsPath string `json:"linux_tools_path"`
	// Candidates are the versioned perf binaries installed (linux-tools, perf_X.Y).
	Candidates []string `json:"candidates"`
	// Fingerprint identifies the file at RealPath (its stat: kind, owner, mode, device, inode, size,
	// modification and change times), to tell when it changed: a package upgrade, a copy, and any
	// write also drop file capabilities.
	Fingerprint string `json:"fingerprint"`
}

// Libcap is the libcap found on the host.
type Libcap struct {
	SetcapPath string `json:"setcap_path"`
	GetcapPath string `json:"getcap_path"`
	CapshPath  string `json:"capsh_path"`
	// Version is the version of the library setcap most likely loads, from its file name
	// (libcap.so.2.66 -> 2.66): the one under setcap's own prefix, else the system's.
	Version string `json:"version"`
	LibPath string `json:"lib_path"`
}

// InstallPrefixes are the directories whose mounts the facts describe: where perfprov may install
// binaries that carry file capabilities (a nosuid mount silently ignores them).
var InstallPrefixes = []string{"/opt", "/usr/local", "/usr", "/", "/tmp"}

//go:embed script.sh
var scriptTemplate string

// Options tune a gathering.
type Options struct {
	// KnownPerf is what an earlier gathering read from the host's perf. When the perf on the host
	// is still that file (same fingerprint), the script does not start it again for its version.
	KnownPerf KnownPerf
	// Prelude is the prelude of the read that GatherThen runs after the facts: the script does
	// it in its own stat and awk (see package prelude), so that the read starts neither.
	Prelude prelude.Plan
}

// KnownPerf is a perf binary's fingerprint (Perf.Fingerprint) and the version it printed.
type KnownPerf struct {
	Fingerprint string `json:"fingerprint"`
	Version     string `json:"version"`
}

// KnownPerf returns what later gatherings may reuse from these facts: only an ELF perf's version
// (a wrapper's answer depends on the running kernel and on what else is installed).
func (f *Facts) KnownPerf() (KnownPerf, bool) {
	p := f.Perf
	if !p.IsELF || p.Version == "" || p.Fingerprint == "" {
		return KnownPerf{}, false
	}
	return KnownPerf{Fingerprint: p.Fingerprint, Version: p.Version}, true
}

// Script returns the facts script: POSIX sh, run as the login user, printing the format Parse reads.
func Script() string { return ScriptWith(Options{}) }

// ScriptWith returns the facts script for opts. Every value in it is quoted with shell.Quote.
func ScriptWith(opts Options) string {
	p := opts.Prelude
	return strings.NewReplacer(
		"@PREFIXES@", shell.Join(InstallPrefixes...),
		"@KNOWN_FP@", shell.Quote(opts.KnownPerf.Fingerprint),
		"@KNOWN_VERSION@", shell.Quote(opts.KnownPerf.Version),
		"@STAT_PATHS@", shell.Join(p.Stat...),
		"@STAT_FORMAT@", shell.Quote(prelude.StatFormat),
		"@FILE_LIST@", prelude.FileList(p),
		"@AWK_ENV@", prelude.AwkEnv,
		"@AWK_BEGIN@", prelude.AwkBegin,
		"@AWK_RULES@", prelude.AwkRules,
		"@AWK_END@", prelude.AwkEnd,
		"@PRELUDE_TOKEN@", p.Token(),
	).Replace(compact(scriptTemplate))
}

// compact drops the script's comment lines and indentation: it goes to every host on every
// run, and the host's shell reads it all (script.sh has no here-document and no multi-line
// string whose indentation counts).
func compact(script string) string {
	var b strings.Builder
	for _, l := range strings.Split(script, "\n") {
		l = strings.TrimLeft(l, "\t")
		if l == "" || strings.HasPrefix(strings.TrimLeft(l, " "), "#") {
			continue
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// Gather runs the facts script on the host and parses its output: one command, one round trip.
// Errors name the host.
func Gather(ctx context.Context, conn transport.Conn) (*Facts, error) {
	return GatherWith(ctx, conn, Options{})
}

// GatherWith is Gather with options.
func GatherWith(ctx context.Context, conn transport.Conn, opts Options) (*Facts, error) {
	f, _, err := gather(ctx, conn, transport.Command{Script: ScriptWith(opts), Quick: true})
	return f, err
}

// GatherThen gathers facts and, in the same command, runs then after them: one round trip for
// both (the engine sends a host's likely read scripts this way). The facts script runs in the
// same shell, not in a subshell, which would be one process more on the host: it puts back the
// environment it changes (PATH, LC_ALL, IFS, the working directory), and leaves the prelude of
// opts.Prelude done for then (package prelude). The command runs as the login user, like the
// facts script alone, within timeout (0: none). res is the whole command's result: then's output
// follows the facts' end line, which Parse stops at.
func GatherThen(ctx context.Context, conn transport.Conn, opts Options, then string, timeout time.Duration) (f *Facts, res *transport.Result, err error) {
	script := ScriptWith(opts) + "\n" + then
	return gather(ctx, conn, transport.Command{Script: script, Timeout: timeout, Quick: true})
}

func gather(ctx context.Context, conn transport.Conn, cmd transport.Command) (*Facts, *transport.Result, error) {
	host := conn.Host()
	res, err := conn.Run(ctx, cmd)
	if err != nil {
		return nil, nil, &Error{Host: host, Op: "gathering facts", Err: err}
	}
	f, err := Parse(res.Stdout)
	if err != nil {
		if res.ExitStatus != 0 {
			err = fmt.Errorf("%w (the facts script exited %d%s)", err, res.ExitStatus, firstLine(res.Stderr, ": "))
		}
		return nil, res, &Error{Host: host, Op: "reading facts", Err: err}
	}
	// On a connection kept from an earlier run, the host key was checked when it was opened: the
	// keys the host has now must still be those known_hosts holds, as at a new login.
	if err := persist.CheckKeptHostKeys(conn, f.SSHHostKeys); err != nil {
		return nil, res, &Error{Host: host, Op: "kept connection", Err: err}
	}
	return f, res, nil
}

// Error is a failure to gather one host's facts.
type Error struct {
	Host string
	Op   string
	Err  error
}

// Error reads "HOST: OP: CAUSE", with the host named once even when the transport named it too.
func (e *Error) Error() string {
	return e.Host + ": " + e.Op + ": " + strings.TrimPrefix(e.Err.Error(), e.Host+": ")
}

func (e *Error) Unwrap() error { return e.Err }

// firstLine returns the first non-empty line of b after prefix, or "" when there is none.
func firstLine(b []byte, prefix string) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return prefix + l
		}
	}
	return ""
}
