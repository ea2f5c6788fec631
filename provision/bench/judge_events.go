package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// The checks of the counters themselves: the requested events, hardware and NMI, accuracy
// against the expected counts. The checks of the setup (binary, capabilities, paranoid,
// members) are in judge.go.

// checkEvents fills the per-event report and reports whether a hardware event counted.
func (j *judge) checkEvents() (hw bool) {
	o := j.o
	ev := o.Events
	var unknown, failed, swBad, downgraded, multiplexed []string
	for i, name := range j.x.Events {
		rep := EventReport{Name: name, Status: "missing"}
		out := ev.Output
		exit := ev.ExitStatus
		if ev.ExitStatus != 0 && i < len(o.PerEvent) {
			out, exit = o.PerEvent[i].Output, o.PerEvent[i].ExitStatus
		}
		if e, ok := findRequested(out, name); ok {
			rep.Status = string(e.Status)
			rep.Value = e.Value
			rep.Unit = e.Unit
			rep.PercentRunning = e.PercentRunning
			rep.UserOnly = e.UserOnly
			if e.Name != name {
				rep.Printed = e.Name
			}
			if Downgraded(name, e.Name) {
				downgraded = append(downgraded, e.Name)
			}
			if e.Status == Counted && e.PercentRunning < 100 {
				multiplexed = append(multiplexed, fmt.Sprintf("%s %.1f%%", name, e.PercentRunning))
			}
		} else if exit == 126 || exit == 127 {
			rep.Status = "not-run" // perf itself could not be executed
			rep.Error = out.Error()
		} else if exit != 0 {
			rep.Error = out.Error()
			if exit == 129 || strings.Contains(rep.Error, "syntax error") || strings.Contains(rep.Error, "parser error") {
				rep.Status = "unknown" // perf does not know the name
				unknown = append(unknown, name)
			} else {
				rep.Status = "error"
				failed = append(failed, name)
			}
		}
		if IsSoftwareEvent(name) {
			if rep.Status != string(Counted) {
				swBad = append(swBad, name+" "+rep.Status)
			}
		} else if rep.Status == string(Counted) {
			hw = true
		}
		j.r.Events = append(j.r.Events, rep)
	}
	if !hw {
		// The requested events may all be software ones: the preflight tells whether the PMU counts.
		for _, e := range o.Preflight.Output.Events {
			if e.Status == Counted {
				hw = true
			}
		}
	}
	switch {
	case ev.Done && (ev.ExitStatus == 126 || ev.ExitStatus == 127):
		j.check("events", CheckFail, fmt.Sprintf("perf could not be executed as %s: %s", o.User, orDash(ev.Output.Error())))
	case len(unknown) > 0:
		j.check("events", CheckFail, fmt.Sprintf("perf rejected event %s: %s", strings.Join(unknown, ", "), orDash(j.r.Events[slices.IndexFunc(j.r.Events, func(e EventReport) bool { return e.Status == "unknown" })].Error)))
	case len(failed) > 0:
		msg := fmt.Sprintf("perf stat failed for %s: %s", strings.Join(failed, ", "), orDash(ev.Output.Error()))
		if o.Paranoid > 2 {
			msg += " (" + paranoidReason(o.Paranoid) + ")"
		}
		j.check("events", CheckFail, msg)
	case len(downgraded) > 0:
		if o.Paranoid > 2 {
			j.check("events", CheckFail, fmt.Sprintf("perf downgraded %s to user-only: %s", strings.Join(downgraded, ", "), paranoidReason(o.Paranoid)))
		} else {
			j.check("events", CheckFail, fmt.Sprintf("perf downgraded %s to user-only counting: its privileges did not take effect", strings.Join(downgraded, ", ")))
		}
	case len(swBad) > 0:
		msg := ev.Output.Error()
		j.check("events", CheckFail, fmt.Sprintf("software events do not count (%s): %s", strings.Join(swBad, ", "), orDash(msg)))
	default:
		var parts []string
		for _, e := range j.r.Events {
			parts = append(parts, e.Name+" "+e.Status)
		}
		j.check("events", CheckOK, strings.Join(parts, ", "))
	}
	if len(multiplexed) > 0 {
		j.r.Notes = append(j.r.Notes, "multiplexed (percent of time counted): "+strings.Join(multiplexed, ", "))
	}
	return hw
}

// findRequested finds the output line of a requested event: the same name, the name perf gave
// it after a user-only fallback, or on hybrid CPUs the first counted of its per-PMU copies
// (cycles -> cpu_core/cycles/).
func findRequested(out Output, name string) (Event, bool) {
	if e, ok := out.Find(name); ok {
		return e, true
	}
	var found Event
	ok := false
	for _, e := range out.Events {
		if hwBase(e.Name) == hwBase(name) {
			if !ok || (found.Status != Counted && e.Status == Counted) {
				found, ok = e, true
			}
		}
	}
	return found, ok
}

// hwBase is the event name without modifiers and PMU: "cpu_core/instructions/u" -> "instructions".
func hwBase(name string) string {
	b := BaseName(name)
	if strings.HasSuffix(b, "/") {
		inner := strings.TrimSuffix(b, "/")
		if i := strings.IndexByte(inner, '/'); i >= 0 && !strings.ContainsAny(inner[i+1:], "=,") {
			return inner[i+1:]
		}
	}
	return b
}

func (j *judge) checkNMI(hw bool) {
	if j.o.NMIWatchdog == 1 {
		msg := "kernel.nmi_watchdog = 1: the NMI watchdog holds one hardware counter"
		if hw {
			j.check("nmi-watchdog", CheckWarn, msg+" (fewer counters for perf; more multiplexing)")
		} else {
			j.r.Notes = append(j.r.Notes, msg)
		}
	}
}

// capSyslog is CAP_SYSLOG's bit: who holds it may read kernel addresses where kptr_restrict is 1.
const capSyslog = 34

// checkKernelSymbols warns when kernel.kptr_restrict hides kernel addresses (/proc/kallsyms,
// /proc/modules) from the member's perf: perf report and perf top then cannot name kernel
// functions. The kernel (kallsyms_show_value) shows them at 0 to everyone when
// perf_event_paranoid <= 1 and otherwise to CAP_SYSLOG holders, at 1 to CAP_SYSLOG holders only,
// at 2 to no one. The perf checked is the member's running one (its CapEff) when it started.
func (j *judge) checkKernelSymbols(started bool) {
	o := j.o
	k := o.KptrRestrict
	if k < 0 {
		return
	}
	syslog := started && o.Start.CapEff&(1<<capSyslog) != 0
	var msg string
	switch {
	case k >= 2:
		msg = fmt.Sprintf("kernel.kptr_restrict = %d hides kernel symbols from everyone, the members' perf included: "+
			"kernel.kptr_restrict = 1 shows them to CAP_SYSLOG holders", k)
		if syslog {
			msg += " (the members' perf has cap_syslog)"
		} else {
			msg += ", and the members' perf needs cap_syslog"
		}
	case !started:
		return
	case !syslog && (k == 1 || o.Paranoid > 1):
		msg = fmt.Sprintf("kernel.kptr_restrict = %d shows kernel symbols only to CAP_SYSLOG holders", k)
		if k == 0 {
			msg += " while kernel.perf_event_paranoid > 1"
		}
		msg += ", and the members' perf runs without cap_syslog: add cap_syslog to its capabilities"
	default:
		return
	}
	j.check("kernel-symbols", CheckWarn, msg)
	j.r.Notes = append(j.r.Notes, msg)
}

func (j *judge) checkHardware(hw bool) {
	o := j.o
	if !hw {
		detail := "no hardware PMU exposed: hardware events are <not supported>"
		if len(o.PMUs) > 0 {
			detail = fmt.Sprintf("PMU %s listed but hardware events are <not supported>", strings.Join(o.PMUs, ","))
		}
		if j.x.RequireHardwareCounters {
			j.check("hardware", CheckFail, "require_hardware_counters is set but "+detail)
		} else {
			j.check("hardware", CheckSkip, detail)
		}
		j.r.Accuracy = &Accuracy{Status: CheckSkip, Reason: "no hardware counters"}
		return
	}
	j.check("hardware", CheckOK, "hardware events count")
	j.r.Accuracy = j.accuracy()
	switch j.r.Accuracy.Status {
	case CheckOK:
		a := j.r.Accuracy
		j.check("accuracy", CheckOK, fmt.Sprintf("instructions %.0f of %.0f expected (%.3g%%), cycles x%.2f for twice the work, IPC %.2f, %.2f GHz",
			a.InstructionsMeasured, a.InstructionsExpected, a.ErrorPercent, a.CyclesRatio, a.IPC, a.GHz))
	case CheckFail:
		j.check("accuracy", CheckFail, j.r.Accuracy.Reason)
	default:
		j.check("accuracy", CheckSkip, j.r.Accuracy.Reason)
	}
}

// counts sums the counted values of an event across hybrid PMUs and reports the lowest percent
// running among them.
func counts(out Output, event string) (sum float64, pcnt float64, ok bool) {
	pcnt = 100
	for _, e := range out.Events {
		if hwBase(e.Name) == event && e.Status == Counted {
			sum += e.Value
			pcnt = math.Min(pcnt, e.PercentRunning)
			ok = true
		}
	}
	return sum, pcnt, ok
}

func (j *judge) accuracy() *Accuracy {
	o := j.o
	n := j.x.Iterations
	a := &Accuracy{Status: CheckSkip, Iterations: n, LoopInstructions: LoopInstructions}
	switch {
	case o.Compile.Skipped != "":
		a.Reason = o.Compile.Skipped
		return a
	case o.Compile.Done && o.Compile.ExitStatus != 0:
		if o.Arch != "x86_64" && o.Arch != "aarch64" {
			a.Reason = "no workload for architecture " + o.Arch
		} else {
			a.Reason = "the workload did not build: " + orDash(firstLine(o.Compile.Log))
		}
		return a
	case len(o.Accuracy) == 0:
		a.Reason = "the workload did not run"
		return a
	}
	type sample struct{ ins, cyc, ms float64 }
	var s [3]sample
	for i, k := range []uint64{0, n, 2 * n} {
		run, ok := o.Accuracy[k]
		if !ok || run.ExitStatus != 0 {
			a.Status = CheckFail
			a.Reason = fmt.Sprintf("perf stat of the workload (%d iterations) failed: %s", k, orDash(run.Output.Error()))
			return a
		}
		ins, p1, ok1 := counts(run.Output, "instructions")
		cyc, p2, ok2 := counts(run.Output, "cycles")
		ms, _, _ := counts(run.Output, "task-clock")
		if !ok1 || !ok2 {
			a.Status = CheckFail
			a.Reason = fmt.Sprintf("instructions:u or cycles:u did not count on the workload (%d iterations)", k)
			return a
		}
		if p1 < 100 || p2 < 100 {
			j.r.Notes = append(j.r.Notes, fmt.Sprintf("accuracy counters multiplexed (%.1f%% of the time): counts are scaled estimates", math.Min(p1, p2)))
		}
		s[i] = sample{ins, cyc, ms}
	}
	a.Overhead = s[0].ins
	a.InstructionsExpected = float64(n) * LoopInstructions
	a.InstructionsMeasured = s[2].ins - s[1].ins
	if a.InstructionsExpected > 0 {
		a.ErrorPercent = 100 * math.Abs(a.InstructionsMeasured-a.InstructionsExpected) / a.InstructionsExpected
	}
	if d := s[1].cyc - s[0].cyc; d > 0 {
		a.CyclesRatio = (s[2].cyc - s[0].cyc) / d
	}
	if d := s[2].cyc - s[1].cyc; d > 0 {
		a.IPC = a.InstructionsMeasured / d
	}
	if s[2].ms > 0 {
		a.GHz = s[2].cyc / (s[2].ms * 1e6)
	}
	tol := j.x.Tolerance * 100
	a.Status = CheckFail
	switch {
	case a.ErrorPercent > tol:
		a.Reason = fmt.Sprintf("instructions counted %.0f for %d loop iterations, expected %.0f: off by %.2f%% (tolerance %.2f%%)",
			a.InstructionsMeasured, n, a.InstructionsExpected, a.ErrorPercent, tol)
	case math.Abs(a.CyclesRatio-2) > 2*cyclesRatioTolerance:
		a.Reason = fmt.Sprintf("cycles do not scale with work: twice the loop took %.2fx the cycles (expected 2x +-10%%)", a.CyclesRatio)
	case a.IPC < minIPC || a.IPC > maxIPC:
		a.Reason = fmt.Sprintf("implausible IPC %.2f on the workload (expected %.2f to %.0f)", a.IPC, minIPC, maxIPC)
	case s[2].ms > 0 && (a.GHz < minGHz || a.GHz > maxGHz):
		a.Reason = fmt.Sprintf("implausible clock rate %.2f GHz (cycles per task-clock time; expected %.1f to %.0f)", a.GHz, minGHz, maxGHz)
	default:
		a.Status = CheckOK
	}
	return a
}
