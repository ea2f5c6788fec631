package bench

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/captrust"
)

// Verdict is the outcome for one host.
type Verdict string

const (
	// Pass: an unprivileged member counts hardware events and the counts are right.
	Pass Verdict = "pass"
	// PassSoftwareOnly: the setup works but the host exposes no PMU (a VM without a virtual PMU):
	// hardware events are <not supported>, software events count.
	PassSoftwareOnly Verdict = "pass-software-only"
	// Fail: something a person must fix; Reason says what.
	Fail Verdict = "fail"
	// Skipped: the benchmark did not run on the host (apply did not converge it); not a
	// verdict on the setup, and never saved in the history.
	Skipped Verdict = "skipped"
)

// Check statuses.
const (
	CheckOK   = "ok"
	CheckFail = "fail"
	CheckWarn = "warn"
	CheckSkip = "skip"
)

// Check is one named check with its outcome, in the order the procedure ran them.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// EventReport is one requested event on one host.
type EventReport struct {
	Name string `json:"name"`
	// Printed is the name perf printed when it differs (cycles:u for a downgraded cycles).
	Printed        string  `json:"printed,omitempty"`
	Status         string  `json:"status"` // counted, not-supported, not-counted, unknown (perf rejected the name), error, not-run, missing
	Value          float64 `json:"value"`
	Unit           string  `json:"unit,omitempty"`
	PercentRunning float64 `json:"percent_running"`
	UserOnly       bool    `json:"user_only,omitempty"`
	Error          string  `json:"error,omitempty"`
}

// Accuracy is the result of counting the deterministic workload.
type Accuracy struct {
	Status string `json:"status"` // ok, fail, skipped
	Reason string `json:"reason,omitempty"`
	// Iterations is N; the workload ran 0, N and 2N iterations.
	Iterations       uint64 `json:"iterations,omitempty"`
	LoopInstructions int    `json:"loop_instructions,omitempty"`
	// InstructionsExpected is N * LoopInstructions; InstructionsMeasured is
	// instructions(2N) - instructions(N), which cancels the fixed cost of starting the process.
	InstructionsExpected float64 `json:"instructions_expected,omitempty"`
	InstructionsMeasured float64 `json:"instructions_measured,omitempty"`
	ErrorPercent         float64 `json:"error_percent"`
	// Overhead is instructions(0): the process's fixed cost, reported for reference.
	Overhead float64 `json:"overhead_instructions,omitempty"`
	// CyclesRatio is (cycles(2N) - cycles(0)) / (cycles(N) - cycles(0)): 2 when cycles scale with work.
	CyclesRatio float64 `json:"cycles_ratio,omitempty"`
	// IPC of the loop alone (the differences of the 2N and N runs).
	IPC float64 `json:"ipc,omitempty"`
	// GHz is cycles per task-clock second of the 2N run.
	GHz float64 `json:"ghz,omitempty"`
}

// HostReport is the benchmark's result for one host (and one benchmark block).
type HostReport struct {
	Host      string    `json:"host"`
	Benchmark string    `json:"benchmark,omitempty"`
	Time      time.Time `json:"time"`
	Verdict   Verdict   `json:"verdict"`
	Reason    string    `json:"reason"`
	// Tolerance is the relative error the accuracy check allowed (0.01 for 1%).
	Tolerance float64  `json:"tolerance,omitempty"`
	User      string   `json:"user,omitempty"`
	Kernel    string   `json:"kernel,omitempty"`
	Arch      string   `json:"arch,omitempty"`
	PMU       []string `json:"pmu"`
	Perf      string   `json:"perf,omitempty"`
	// PerfVersion and PerfSHA256 say which perf ran: a package upgrade changes them.
	PerfVersion string `json:"perf_version,omitempty"`
	PerfSHA256  string `json:"perf_sha256,omitempty"`
	// CapEff is the effective set of the member's running perf (16 hex digits, as /proc shows).
	CapEff         string   `json:"cap_eff"`
	CapEffExpected string   `json:"cap_eff_expected"`
	CapNames       []string `json:"caps"`
	Paranoid       *int     `json:"perf_event_paranoid,omitempty"`
	// DistroParanoidPatch is the facts' belief that the kernel carries the Debian/Ubuntu
	// paranoid patch (absent when the benchmark ran without facts).
	DistroParanoidPatch *bool         `json:"distro_paranoid_patch,omitempty"`
	NMIWatchdog         *bool         `json:"nmi_watchdog,omitempty"`
	KptrRestrict        *int          `json:"kptr_restrict,omitempty"`
	SystemWideOK        bool          `json:"system_wide_ok"`
	NonMember           string        `json:"non_member,omitempty"` // refused, allowed, unchecked
	Events              []EventReport `json:"events"`
	Accuracy            *Accuracy     `json:"accuracy"`
	Checks              []Check       `json:"checks"`
	Notes               []string      `json:"notes,omitempty"`
}

// Expectations is what the benchmark block asks for, with defaults applied.
type Expectations struct {
	Events                  []string
	RequireHardwareCounters bool
	Tolerance               float64 // relative: 0.01 is 1%
	Iterations              uint64
	// ExpectedCaps, when non-zero, is the exact CapEff perf must run with. Zero: the set the
	// kernel's perf-security guide gives for this kernel (PerfmonCaps, or SysAdminCaps without
	// CAP_PERFMON), plus OptionalCaps if present.
	ExpectedCaps CapMask
	NonMember    string
	// Perf is the perf the block asked for: a bare name was looked up in the member's PATH.
	Perf string
	// DistroParanoidPatch: the kernel is believed to carry the Debian/Ubuntu patch (facts); nil
	// when unknown. With the patch, kernel.perf_event_paranoid > 2 fails the host even where
	// counting happened to work: the policy is that the setup must hold on the fleet's kernels.
	DistroParanoidPatch *bool
	ParanoidPatchReason string
}

// Plausibility bounds of the accuracy checks.
const (
	cyclesRatioTolerance = 0.10 // twice the work, twice the cycles, +-10%
	minIPC, maxIPC       = 0.05, 10.0
	minGHz, maxGHz       = 0.1, 10.0
)

// softwareEvents are the kernel's software events: they need no PMU.
var softwareEvents = map[string]bool{
	"task-clock": true, "cpu-clock": true, "page-faults": true, "faults": true,
	"minor-faults": true, "major-faults": true, "context-switches": true, "cs": true,
	"cpu-migrations": true, "migrations": true, "alignment-faults": true,
	"emulation-faults": true, "dummy": true, "bpf-output": true, "cgroup-switches": true,
}

// IsSoftwareEvent reports whether the event is a software event (counts without a PMU).
func IsSoftwareEvent(name string) bool {
	return softwareEvents[BaseName(strings.TrimPrefix(name, "software/"))]
}

// judge holds the state of one Judge call.
type judge struct {
	o      *Observations
	x      Expectations
	r      *HostReport
	failed bool
}

func (j *judge) check(name, status, detail string) {
	j.r.Checks = append(j.r.Checks, Check{Name: name, Status: status, Detail: detail})
	if status == CheckFail && !j.failed {
		j.failed = true
		j.r.Verdict = Fail
		j.r.Reason = detail
	}
}

// Judge turns observations into a report: a pure function of its inputs. The first failing
// check gives the reason; the checks after it still run, so the report explains everything.
func Judge(o *Observations, x Expectations) *HostReport {
	j := &judge{o: o, x: x, r: &HostReport{PMU: []string{}, Events: []EventReport{}, CapNames: []string{}}}
	r := j.r
	r.User, r.Kernel, r.Arch, r.Perf = o.User, o.Kernel, o.Arch, o.Perf
	r.PerfVersion, r.PerfSHA256 = o.PerfVersion, o.PerfSHA256
	r.Tolerance = x.Tolerance
	if len(o.PMUs) > 0 {
		r.PMU = append(r.PMU, o.PMUs...)
	}
	if o.Paranoid != -99 {
		p := o.Paranoid
		r.Paranoid = &p
	}
	if o.NMIWatchdog >= 0 {
		w := o.NMIWatchdog == 1
		r.NMIWatchdog = &w
	}
	if o.KptrRestrict >= 0 {
		k := o.KptrRestrict
		r.KptrRestrict = &k
	}
	r.DistroParanoidPatch = x.DistroParanoidPatch
	expected := j.expectedCaps()
	r.CapEffExpected = expected.String()

	if !o.Ran {
		j.check("run", CheckFail, "could not run the benchmark as the member: "+o.RunError)
		j.finish(false)
		return r
	}
	if o.RefusedRoot {
		j.check("run", CheckFail, "the benchmark ran as root: run_as must name an unprivileged member of the perf group")
		j.finish(false)
		return r
	}
	j.check("run", CheckOK, "ran as "+o.User)

	if !j.checkBinary() {
		j.checkNonMember()
		j.finish(false)
		return r
	}
	execOK := j.checkExec()
	capsOK := false
	if execOK {
		r.CapEff = o.Start.CapEff.String()
		r.CapNames = o.Start.CapEff.Names()
		if r.CapNames == nil {
			r.CapNames = []string{}
		}
		capsOK = j.checkCaps(expected)
	}
	j.checkParanoid(capsOK)
	j.checkKernelSymbols(execOK)
	j.checkSystemWide()
	j.checkNonMember()
	hw := j.checkEvents()
	j.checkNMI(hw)
	j.checkHardware(hw)
	j.finish(hw)
	return r
}

// expectedCaps is the CapEff the perf process should have.
func (j *judge) expectedCaps() CapMask {
	if j.x.ExpectedCaps != 0 {
		return j.x.ExpectedCaps
	}
	if j.o.CapLastCap >= 0 && j.o.CapLastCap < 38 {
		return SysAdminCaps
	}
	return PerfmonCaps
}

func (j *judge) checkBinary() bool {
	o := j.o
	path := o.Perf
	if path == "" {
		path = "perf"
	}
	switch {
	case !o.PerfFound && strings.Contains(o.PerfStatError, "ermission denied"):
		j.check("perf-binary", CheckFail, fmt.Sprintf("member %s cannot reach %s: permission denied on a directory of its path", o.User, path))
		return false
	case !o.PerfFound:
		j.check("perf-binary", CheckFail, fmt.Sprintf("perf binary %s not found on the host", path))
		return false
	case o.PerfIsScript:
		j.check("perf-binary", CheckFail, fmt.Sprintf("%s is a script (#!): file capabilities cannot apply to a script; point perf at the real ELF binary", path))
		return false
	}
	// A perf with capabilities that a user other than root could swap is root for that user,
	// whatever the counters say: the check apply makes, on hosts set up by hand too.
	if o.FileCaps != 0 {
		if err := o.Trust.Check(o.PerfReal); err != nil && errors.Is(err, captrust.ErrUntrusted) {
			j.check("perf-binary", CheckFail, err.Error())
			return false
		}
	}
	j.check("perf-binary", CheckOK, fmt.Sprintf("%s mode %s %s:%s", path, o.PerfMode, o.PerfOwner, o.PerfGroup))
	return true
}

// modeBit reports whether the octal mode has bit (1 x, 2 w, 4 r) for who (0 user, 1 group, 2 other).
func modeBit(mode string, who, bit int) bool {
	v, err := strconv.ParseUint(mode, 8, 32)
	if err != nil {
		return false
	}
	shift := uint(6 - 3*who)
	return (v>>shift)&uint64(bit) != 0
}

func (j *judge) isMember() bool {
	return j.o.PerfGroup != "" && slices.Contains(j.o.Groups, j.o.PerfGroup)
}

func (j *judge) checkExec() bool {
	o := j.o
	if o.PerfOwner != "" && o.PerfOwner == o.User {
		j.r.Notes = append(j.r.Notes, fmt.Sprintf("%s is owned by the member %s itself", o.Perf, o.User))
	}
	if o.Start.Exec {
		j.check("exec", CheckOK, fmt.Sprintf("%s started perf (pid status read)", o.User))
		return true
	}
	msg := firstLine(o.Start.Stderr)
	switch {
	case !j.isMember() && !modeBit(o.PerfMode, 2, 1) && o.PerfOwner != o.User:
		j.check("exec", CheckFail, fmt.Sprintf("user %s is not a member of group %s (perf is %s %s:%s)", o.User, o.PerfGroup, o.PerfMode, o.PerfOwner, o.PerfGroup))
	case slices.Contains(o.MountOptions, "noexec"):
		j.check("exec", CheckFail, fmt.Sprintf("%s is on a noexec mount (%s): nothing on it can be executed", o.Perf, o.MountPoint))
	case j.isMember() && !modeBit(o.PerfMode, 1, 1):
		j.check("exec", CheckFail, fmt.Sprintf("group %s cannot execute %s (mode %s)", o.PerfGroup, o.Perf, o.PerfMode))
	case !o.Start.Seen:
		j.check("exec", CheckFail, fmt.Sprintf("could not observe a running perf as %s: %s", o.User, orDash(msg)))
	default:
		j.check("exec", CheckFail, fmt.Sprintf("member %s cannot execute %s: %s (exit status %d)", o.User, o.Perf, orDash(msg), o.Start.ExitStatus))
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkCaps reports whether perf ran with the expected capabilities.
func (j *judge) checkCaps(expected CapMask) bool {
	o := j.o
	eff := o.Start.CapEff
	missing := expected &^ eff
	extra := eff &^ expected
	if missing != 0 {
		j.check("capabilities", CheckFail, j.capsCause(expected, missing))
		return false
	}
	if extra != 0 {
		if j.x.ExpectedCaps != 0 || extra&^OptionalCaps != 0 {
			j.check("capabilities", CheckFail, fmt.Sprintf("perf runs with more capabilities than expected: CapEff %s has %s beyond %s (%s)",
				eff, (extra).Describe(), expected, expected.Describe()))
			return false
		}
		j.r.Notes = append(j.r.Notes, "perf also carries "+extra.Describe())
	}
	j.check("capabilities", CheckOK, fmt.Sprintf("CapEff %s (%s)", eff, eff.Describe()))
	return true
}

// capsCause explains why the perf process lacks capabilities, most specific cause first.
func (j *judge) capsCause(expected, missing CapMask) string {
	o := j.o
	eff := o.Start.CapEff
	want := fmt.Sprintf("expected %s (%s)", expected, expected.Describe())
	switch {
	case eff == 0 && slices.Contains(o.MountOptions, "nosuid"):
		return fmt.Sprintf("%s is on a nosuid mount (%s): the kernel ignores its file capabilities; install perf on a filesystem mounted without nosuid", o.Perf, o.MountPoint)
	case eff == 0 && (o.Start.NoNewPrivs || o.SelfNNP):
		return fmt.Sprintf("no_new_privs is set for %s's processes: file capabilities cannot take effect", o.User)
	case eff == 0 && o.FileCapsKnown && o.FileCaps == 0 && j.x.Perf != "" && !strings.Contains(j.x.Perf, "/"):
		return fmt.Sprintf("%s (found as %q on the member's PATH) has no file capabilities (%s): set perf to the binary the perf_users setup installed", o.PerfReal, j.x.Perf, want)
	case eff == 0 && o.FileCapsKnown && o.FileCaps == 0:
		return fmt.Sprintf("%s has no file capabilities (%s): they were removed (package upgrade, copy, chgrp after setcap?); run perfprov apply", o.PerfReal, want)
	case o.CapLastCap >= 0 && o.CapLastCap < 38 && (missing&(1<<38) != 0 || o.FileCaps&(1<<38) != 0):
		return fmt.Sprintf("the kernel has no CAP_PERFMON (cap_last_cap %d): use cap_sys_admin,cap_sys_ptrace,cap_syslog", o.CapLastCap)
	case o.Start.CapBnd != 0 && !o.Start.CapBnd.Has(missing):
		return fmt.Sprintf("the capability bounding set lacks %s (a container or a service manager dropped it): file capabilities cannot grant it", (missing &^ o.Start.CapBnd).Describe())
	case eff == 0:
		return fmt.Sprintf("perf runs without capabilities: CapEff %s, %s; file capabilities %s", eff, want, orDash(o.FileCapsText))
	case o.FileCapsKnown && !o.FileCaps.Has(missing):
		return fmt.Sprintf("%s lacks %s in its file capabilities (%s): CapEff %s, %s", o.PerfReal, missing.Describe(), orDash(o.FileCapsText), eff, want)
	}
	return fmt.Sprintf("CapEff %s lacks %s: %s", eff, missing.Describe(), want)
}

func (j *judge) checkSystemWide() {
	o := j.o
	sw := o.SystemWide
	if !sw.Done {
		j.check("system-wide", CheckSkip, "not run")
		return
	}
	counted := false
	for _, e := range sw.Output.Events {
		if e.Status == Counted {
			counted = true
		}
	}
	if sw.ExitStatus == 0 && counted {
		for _, e := range sw.Output.Events {
			if e.UserOnly {
				j.check("system-wide", CheckFail, fmt.Sprintf("perf stat -a downgraded %s to user-only counting: perf's privileges did not take effect", BaseName(e.Name)))
				return
			}
		}
		j.r.SystemWideOK = true
		j.check("system-wide", CheckOK, "perf stat -a counts")
		return
	}
	errText := sw.Output.Error()
	if o.Paranoid > 2 {
		j.check("system-wide", CheckFail, fmt.Sprintf("%s (perf stat -a: %s)", paranoidReason(o.Paranoid), orDash(errText)))
		return
	}
	j.check("system-wide", CheckFail, fmt.Sprintf("perf stat -a failed as %s (exit status %d): %s", o.User, sw.ExitStatus, orDash(errText)))
}

// paranoidReason is the reason of a host whose kernel.perf_event_paranoid is above 2 on a kernel
// with (or behaving as with) the Debian/Ubuntu patch.
func paranoidReason(n int) string {
	return fmt.Sprintf("kernel.perf_event_paranoid is %d (> 2): Debian and Ubuntu kernels then ignore CAP_PERFMON and only CAP_SYS_ADMIN may profile; set it to 2 (the perf_users module does)", n)
}

// countedSystemWide reports whether perf stat -a counted with full privileges (no user-only
// fallback): the kernel let the member's capabilities act.
func (j *judge) countedSystemWide() bool {
	sw := j.o.SystemWide
	if !sw.Done || sw.ExitStatus != 0 {
		return false
	}
	counted := false
	for _, e := range sw.Output.Events {
		if e.UserOnly {
			return false
		}
		if e.Status == Counted {
			counted = true
		}
	}
	return counted
}

// checkParanoid applies the paranoid policy. Above 2, kernels with the Debian/Ubuntu patch
// (Debian's default is 3, Ubuntu's 4) let only CAP_SYS_ADMIN open events, so CAP_PERFMON does
// nothing. Where the facts say the kernel probably carries the patch, paranoid > 2 fails the host
// even when counting worked on this kernel: the setup is then broken for the kernels it is meant
// for. Where they say it does not, it is a warning; where they are unknown, the outcome decides.
func (j *judge) checkParanoid(capsOK bool) {
	o := j.o
	p := o.Paranoid
	if p == -99 {
		j.check("paranoid", CheckSkip, "kernel.perf_event_paranoid could not be read")
		return
	}
	if p <= 2 {
		j.check("paranoid", CheckOK, fmt.Sprintf("kernel.perf_event_paranoid is %d", p))
		return
	}
	counted := j.countedSystemWide()
	patch := j.x.DistroParanoidPatch
	evidence := ""
	if j.x.ParanoidPatchReason != "" {
		evidence = " (facts: " + j.x.ParanoidPatchReason + ")"
	}
	switch {
	case patch != nil && *patch:
		j.check("paranoid", CheckFail, paranoidReason(p))
		j.r.Notes = append(j.r.Notes, "the kernel probably carries the Debian/Ubuntu paranoid patch"+evidence)
		if counted {
			j.r.Notes = append(j.r.Notes, fmt.Sprintf("this kernel counted anyway at kernel.perf_event_paranoid %d (it does not enforce the patch's restriction), but Debian and Ubuntu kernels would refuse the member", p))
		}
	case !counted && capsOK:
		// The capabilities are right and counting still failed: this kernel behaves as patched.
		j.check("paranoid", CheckFail, paranoidReason(p))
	default:
		msg := fmt.Sprintf("kernel.perf_event_paranoid is %d (> 2): kernels with the Debian/Ubuntu patch would let only CAP_SYS_ADMIN profile; set it to 2", p)
		if patch != nil {
			msg += "; this kernel probably lacks the patch" + evidence
		}
		j.check("paranoid", CheckWarn, msg)
		j.r.Notes = append(j.r.Notes, msg)
	}
}

func (j *judge) checkNonMember() {
	o := j.o
	nm := o.NonMember
	who := j.x.NonMember
	if nm.User != "" {
		who = nm.User
	}
	if modeBit(o.PerfMode, 2, 1) {
		j.r.NonMember = "allowed"
		j.check("non-member", CheckFail, fmt.Sprintf("%s is executable by every user (mode %s %s:%s): restrict it to the group (0750)", o.Perf, o.PerfMode, o.PerfOwner, o.PerfGroup))
		return
	}
	switch {
	case !nm.Ran:
		j.r.NonMember = "unchecked"
		j.check("non-member", CheckWarn, fmt.Sprintf("could not run the probe as %s: %s", orDash(who), orDash(nm.Error)))
	case o.PerfGroup != "" && slices.Contains(nm.Groups, o.PerfGroup):
		j.r.NonMember = "unchecked"
		j.check("non-member", CheckWarn, fmt.Sprintf("%s is a member of %s: it cannot show that non-members are refused", who, o.PerfGroup))
	case nm.ExitStatus == 0:
		j.r.NonMember = "allowed"
		j.check("non-member", CheckFail, fmt.Sprintf("non-member %s can run %s (mode %s %s:%s)", who, o.Perf, o.PerfMode, o.PerfOwner, o.PerfGroup))
	default:
		j.r.NonMember = "refused"
		j.check("non-member", CheckOK, fmt.Sprintf("%s refused: %s", who, orDash(firstLine(nm.Output))))
	}
}

// finish sets the verdict when no check failed.
func (j *judge) finish(hw bool) {
	r := j.r
	if j.failed {
		return
	}
	if hw {
		r.Verdict = Pass
		if a := r.Accuracy; a != nil && a.Status == CheckOK {
			r.Reason = fmt.Sprintf("hardware counters verified: instructions within %.3g%% of expected, cycles x%.2f for twice the work, IPC %.2f",
				a.ErrorPercent, a.CyclesRatio, a.IPC)
		} else if a != nil {
			r.Reason = "hardware events count; accuracy not checked: " + a.Reason
		}
		return
	}
	r.Verdict = PassSoftwareOnly
	var ok []string
	for _, c := range r.Checks {
		if c.Status == CheckOK {
			ok = append(ok, c.Name)
		}
	}
	r.Reason = "no hardware PMU exposed (hardware events <not supported>); software events count; passed: " + strings.Join(ok, ", ")
	if len(j.o.PMUs) > 0 {
		r.Reason = fmt.Sprintf("PMU %s listed but hardware events <not supported>; software events count; passed: %s", strings.Join(j.o.PMUs, ","), strings.Join(ok, ", "))
	}
}
