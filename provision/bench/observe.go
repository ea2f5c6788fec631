package bench

import (
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/provision/captrust"
)

// Observations is everything the on-host procedure saw, as plain data. Judge turns it into a
// verdict without touching the host, so every verdict can be tested from a vector.
type Observations struct {
	// Ran is false when the member script did not start as the member (sudo refused, unknown
	// user); RunError then holds what the host said.
	Ran      bool
	RunError string
	// RefusedRoot is set when the script found itself running as root and stopped.
	RefusedRoot bool

	User       string
	UID        int
	Groups     []string
	Kernel     string
	Arch       string
	CapLastCap int // -1 when unknown
	Paranoid   int // kernel.perf_event_paranoid; -99 when unknown
	// NMIWatchdog is kernel.nmi_watchdog: 1 holds one hardware counter; -1 when unknown.
	NMIWatchdog int
	// KptrRestrict is kernel.kptr_restrict, which decides who sees kernel addresses in
	// /proc/kallsyms (perf's kernel symbols); -1 when unknown.
	KptrRestrict int
	// PMUs are the core PMUs under /sys/bus/event_source/devices (cpu, cpu_core, armv8_...).
	PMUs       []string
	SelfCapBnd CapMask
	SelfNNP    bool // NoNewPrivs of the member's shell: file capabilities cannot apply

	Perf     string // path of perf as run
	PerfReal string // symlinks resolved
	// PerfVersion is what perf --version printed (without "perf version "), PerfSHA256 the
	// digest of the file: "" when the member could not run or read it.
	PerfVersion, PerfSHA256 string
	PerfFound               bool
	// PerfStatError is stat's error when the member cannot see the file.
	PerfStatError string
	PerfMode      string // octal, e.g. "750"
	PerfOwner     string
	// Trust: the owners and modes of perf's path and library path (captrust).
	Trust        captrust.Report
	PerfGroup    string
	PerfIsScript bool
	MountPoint   string
	MountOptions []string
	// FileCaps is the effective set getcap reports; FileCapsKnown is false without getcap.
	FileCaps      CapMask
	FileCapsKnown bool
	FileCapsText  string

	Start      ProcessProbe
	SystemWide StatRun
	Preflight  StatRun
	// Compile is the workload build: Skipped says why it did not run.
	Compile Compile
	Events  StatRun
	// PerEvent holds the single-event runs made when Events failed, in request order.
	PerEvent []StatRun
	// Accuracy runs by iteration count (0, N, 2N); empty when the workload did not run.
	Accuracy map[uint64]StatRun

	NonMember NonMemberProbe
}

// ProcessProbe is what /proc/PID/status showed of a running perf started by the member.
type ProcessProbe struct {
	Seen       bool // a status was read
	Name       string
	Exec       bool // Name is perf's: the exec happened
	CapEff     CapMask
	CapPrm     CapMask
	CapBnd     CapMask
	NoNewPrivs bool
	ExitStatus int
	Stderr     string
}

// StatRun is one perf stat invocation.
type StatRun struct {
	Done       bool
	ExitStatus int
	Output     Output
}

// Compile is the workload build.
type Compile struct {
	Done       bool
	ExitStatus int
	Skipped    string
	Log        string
}

// NonMemberProbe is the exec of perf by a user outside the perf group.
type NonMemberProbe struct {
	Ran        bool
	Error      string // why it could not run
	User       string
	Groups     []string
	ExitStatus int
	Output     string
}

// section is one marked part of the script's output.
type section struct {
	name string
	body []string
	rc   int
	done bool
}

// splitSections cuts the script's output at the marker lines.
func splitSections(out string) (begun bool, secs []*section, complete bool) {
	var cur *section
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == markBegin:
			begun = true
		case strings.HasPrefix(line, markSection):
			cur = &section{name: strings.TrimPrefix(line, markSection), rc: -1}
			secs = append(secs, cur)
		case line == markEnd+"all":
			complete = true
			cur = nil
		case strings.HasPrefix(line, markEnd):
			rest := strings.TrimPrefix(line, markEnd)
			if i := strings.LastIndex(rest, " rc="); i >= 0 && cur != nil && rest[:i] == cur.name {
				cur.rc, _ = strconv.Atoi(rest[i+4:])
				cur.done = true
			}
			cur = nil
		default:
			if cur != nil {
				cur.body = append(cur.body, line)
			} else if begun && len(secs) > 0 {
				// Lines after a section's end (the root refusal) belong to the last section.
				secs[len(secs)-1].body = append(secs[len(secs)-1].body, line)
			}
		}
	}
	return begun, secs, complete
}

// parseMemberOutput reads the member script's stdout into observations.
func parseMemberOutput(stdout, stderr string, exit int) Observations {
	o := Observations{CapLastCap: -1, Paranoid: -99, NMIWatchdog: -1, KptrRestrict: -1, Accuracy: map[uint64]StatRun{}}
	begun, secs, _ := splitSections(stdout)
	if !begun {
		o.RunError = firstLine(stderr)
		if o.RunError == "" {
			o.RunError = "the benchmark script printed nothing (exit status " + strconv.Itoa(exit) + ")"
		}
		return o
	}
	o.Ran = true
	for _, s := range secs {
		body := strings.Join(s.body, "\n")
		switch {
		case s.name == "facts":
			o.parseFacts(s.body)
		case s.name == "start":
			o.Start = parseStart(s)
		case s.name == "systemwide":
			o.SystemWide = runOf(s, body)
		case s.name == "preflight":
			o.Preflight = runOf(s, body)
		case s.name == "compile":
			o.Compile = Compile{Done: s.done, ExitStatus: s.rc, Log: strings.TrimSpace(body)}
			if strings.HasPrefix(o.Compile.Log, "skipped: ") {
				o.Compile.Skipped = strings.TrimPrefix(o.Compile.Log, "skipped: ")
			}
		case s.name == "events":
			o.Events = runOf(s, body)
		case strings.HasPrefix(s.name, "event "):
			o.PerEvent = append(o.PerEvent, runOf(s, body))
		case strings.HasPrefix(s.name, "acc "):
			if n, err := strconv.ParseUint(strings.TrimPrefix(s.name, "acc "), 10, 64); err == nil {
				o.Accuracy[n] = runOf(s, body)
			}
		}
	}
	if o.Start.Seen {
		o.Start.Exec = o.Start.Name == commName(o.Perf)
	}
	return o
}

// commName is the name the kernel gives a process that executed path: its base name, cut to
// 15 bytes.
func commName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	if len(path) > 15 {
		path = path[:15]
	}
	return path
}

func runOf(s *section, body string) StatRun {
	return StatRun{Done: s.done, ExitStatus: s.rc, Output: ParseCSV([]byte(body), ",")}
}

func (o *Observations) parseFacts(lines []string) {
	o.Trust = captrust.Parse([]byte(strings.Join(lines, "\n")))
	for _, line := range lines {
		if line == "refused: running as root" {
			o.RefusedRoot = true
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "user":
			o.User = v
		case "uid":
			o.UID, _ = strconv.Atoi(v)
		case "groups":
			o.Groups = strings.Fields(v)
		case "kernel":
			o.Kernel = v
		case "arch":
			o.Arch = v
		case "cap_last_cap":
			o.CapLastCap = atoiOr(v, -1)
		case "paranoid":
			o.Paranoid = atoiOr(v, -99)
		case "nmi_watchdog":
			o.NMIWatchdog = atoiOr(v, -1)
		case "kptr_restrict":
			o.KptrRestrict = atoiOr(v, -1)
		case "pmu":
			o.PMUs = append(o.PMUs, v)
		case "self_CapBnd":
			o.SelfCapBnd, _ = ParseCapMask(v)
		case "self_NoNewPrivs":
			o.SelfNNP = strings.TrimSpace(v) == "1"
		case "perf":
			o.Perf = v
		case "perf_real":
			o.PerfReal = v
		case "perf_version":
			o.PerfVersion = strings.TrimSpace(strings.TrimPrefix(v, "perf version "))
		case "perf_sha256":
			o.PerfSHA256 = strings.TrimSpace(v)
		case "perf_stat":
			f := strings.Fields(v)
			if len(f) >= 3 {
				o.PerfFound = true
				o.PerfMode, o.PerfOwner, o.PerfGroup = f[0], f[1], f[2]
			}
		case "perf_stat_error":
			o.PerfStatError = v
		case "perf_head":
			o.PerfIsScript = strings.HasPrefix(v, "#!")
		case "mount":
			// "MOUNTPOINT OPTIONS": the options are the last field, the mount point may hold spaces.
			if i := strings.LastIndexByte(v, ' '); i > 0 {
				o.MountPoint = v[:i]
				o.MountOptions = strings.Split(v[i+1:], ",")
			}
		case "filecaps":
			// Empty: getcap found no capabilities. Text it cannot read is an error message.
			o.FileCapsText = v
			var any bool
			o.FileCaps, any = parseCapText(v, o.PerfReal)
			o.FileCapsKnown = any || strings.TrimSpace(v) == ""
		}
	}
}

func parseStart(s *section) ProcessProbe {
	p := ProcessProbe{ExitStatus: s.rc}
	var rest []string
	for _, line := range s.body {
		k, v, ok := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch {
		case ok && k == "Name":
			p.Seen = true
			p.Name = v
		case ok && k == "CapEff":
			p.CapEff, _ = ParseCapMask(v)
		case ok && k == "CapPrm":
			p.CapPrm, _ = ParseCapMask(v)
		case ok && k == "CapBnd":
			p.CapBnd, _ = ParseCapMask(v)
		case ok && k == "NoNewPrivs":
			p.NoNewPrivs = v == "1"
		case ok && (k == "State" || k == "CapInh" || k == "CapAmb"):
		case strings.HasPrefix(line, "rc="):
			p.ExitStatus, _ = strconv.Atoi(strings.TrimPrefix(line, "rc="))
		default:
			rest = append(rest, line)
		}
	}
	p.Stderr = strings.TrimSpace(strings.Join(rest, "\n"))
	return p
}

// parseNonMemberOutput reads the non-member probe.
func parseNonMemberOutput(stdout, stderr string, exit int) NonMemberProbe {
	p := NonMemberProbe{ExitStatus: -1}
	lines := strings.Split(stdout, "\n")
	begun := false
	var rest []string
	for _, line := range lines {
		if line == markBegin {
			begun = true
			continue
		}
		if !begun {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "user":
			p.User = v
		case "uid":
		case "groups":
			p.Groups = strings.Fields(v)
		case "rc":
			p.ExitStatus = atoiOr(v, -1)
		default:
			if strings.TrimSpace(line) != "" {
				rest = append(rest, line)
			}
		}
	}
	if !begun {
		p.Error = firstLine(stderr)
		if p.Error == "" {
			p.Error = "the probe printed nothing (exit status " + strconv.Itoa(exit) + ")"
		}
		return p
	}
	p.Ran = true
	p.Output = strings.Join(rest, "\n")
	return p
}

func atoiOr(s string, def int) int {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return v
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
