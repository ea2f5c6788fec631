package bench

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Defaults of a benchmark block.
var DefaultEvents = []string{"cycles", "instructions", "branches", "branch-misses", "task-clock", "context-switches"}

const (
	DefaultTolerance  = 0.01
	DefaultRepeat     = 3
	DefaultIterations = 10_000_000 // 1e8 instructions in the N run: tens of milliseconds
	DefaultNonMember  = "nobody"
	// scriptTimeout bounds the on-host procedure; it normally takes one to three seconds.
	scriptTimeout = 3 * time.Minute
)

// Options are the inputs of Run that are not in the benchmark block.
type Options struct {
	// ExpectedCaps, when non-zero, is the exact CapEff the member's perf must have (the engine
	// passes the set the perf_users module applied). Zero: chosen from the kernel.
	ExpectedCaps CapMask
	// NonMember is a user outside the perf group whose exec of perf must be refused
	// (default "nobody").
	NonMember string
	// Iterations is N, the accuracy loop's length (default DefaultIterations).
	Iterations uint64
	// Now stamps the report (default time.Now).
	Now func() time.Time
	// DistroParanoidPatch is the host's facts.distro_paranoid_patch: whether its kernel is
	// believed to carry the Debian/Ubuntu patch with which kernel.perf_event_paranoid > 2 lets
	// only CAP_SYS_ADMIN profile. Nil when unknown: then only the outcome on the host decides.
	DistroParanoidPatch *bool
	// DistroParanoidPatchReason is the facts' evidence for DistroParanoidPatch (shown in a note).
	DistroParanoidPatchReason string
}

var (
	eventRE = regexp.MustCompile(`^[A-Za-z0-9_./:=,@\-\[\]{}]+$`)
)

// Expect returns the expectations of a benchmark block with its defaults applied, after checking
// the values that reach the host.
func Expect(b *spec.Benchmark, opts Options) (Expectations, error) {
	x := Expectations{
		Events:                  b.Events,
		RequireHardwareCounters: b.RequireHardwareCounters,
		Tolerance:               b.Tolerance,
		Iterations:              opts.Iterations,
		ExpectedCaps:            opts.ExpectedCaps,
		NonMember:               opts.NonMember,
		Perf:                    b.Perf,
		DistroParanoidPatch:     opts.DistroParanoidPatch,
		ParanoidPatchReason:     opts.DistroParanoidPatchReason,
	}
	if len(x.Events) == 0 {
		x.Events = DefaultEvents
	}
	if x.Tolerance <= 0 {
		x.Tolerance = DefaultTolerance
	}
	if x.Iterations == 0 {
		x.Iterations = DefaultIterations
	}
	if x.NonMember == "" {
		x.NonMember = DefaultNonMember
	}
	switch {
	case b.RunAs == "":
		return x, errors.New("run_as is not set: the benchmark runs as an unprivileged member of the perf group")
	case b.RunAs == "root" || b.RunAs == "0":
		return x, errors.New("run_as is root: the benchmark must run as an unprivileged member of the perf group")
	case !spec.ValidLoginName(b.RunAs):
		return x, fmt.Errorf("run_as %q is not a valid user name", b.RunAs)
	case !spec.ValidLoginName(x.NonMember):
		return x, fmt.Errorf("non-member %q is not a valid user name", x.NonMember)
	case x.NonMember == b.RunAs:
		return x, fmt.Errorf("the non-member user %q is the member itself", x.NonMember)
	case strings.ContainsAny(b.Perf, "\x00\n"):
		return x, fmt.Errorf("perf path %q holds a newline or NUL", b.Perf)
	case x.Tolerance >= 1:
		return x, fmt.Errorf("tolerance %v is 100%% or more: give a fraction (0.01 for 1%%)", x.Tolerance)
	case b.Repeat < 0 || b.Repeat > 100:
		return x, fmt.Errorf("repeat %d out of range (1 to 100)", b.Repeat)
	}
	for _, e := range x.Events {
		if !eventRE.MatchString(e) {
			return x, fmt.Errorf("event %q: unexpected characters in an event name", e)
		}
	}
	return x, nil
}

// Run runs the benchmark on the host behind conn: one script as the member (b.RunAs, never
// root) and, at the same time, one probe as a non-member. Transport failures are errors; every
// finding on the host, including a benchmark that cannot start as the member, is in the report.
func Run(ctx context.Context, conn transport.Conn, b *spec.Benchmark, opts Options) (*HostReport, error) {
	x, err := Expect(b, opts)
	if err != nil {
		return nil, &Error{Host: conn.Host(), Benchmark: b.Name, Err: err}
	}
	perf := b.Perf
	if perf == "" {
		perf = "perf"
	}
	repeat := b.Repeat
	if repeat <= 0 {
		repeat = DefaultRepeat
	}
	script := memberScript(scriptParams{Perf: perf, Events: x.Events, Repeat: repeat, Iterations: x.Iterations})

	var (
		wg             sync.WaitGroup
		probe          *transport.Result
		probeErr       error
		memberResult   *transport.Result
		memberRunError error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		probe, probeErr = conn.Run(ctx, transport.Command{Script: nonMemberScript(perf), RunAs: x.NonMember, Timeout: time.Minute, Quick: true})
	}()
	// Both scripts only read and measure, and end within seconds: they are quick commands, which
	// a kept connection's remote helper takes together, in one round trip.
	memberResult, memberRunError = conn.Run(ctx, transport.Command{Script: script, RunAs: b.RunAs, Timeout: scriptTimeout, Quick: true})
	wg.Wait()
	if memberRunError != nil {
		return nil, &Error{Host: conn.Host(), Benchmark: b.Name, Err: memberRunError}
	}

	obs := parseMemberOutput(string(memberResult.Stdout), string(memberResult.Stderr), memberResult.ExitStatus)
	if probeErr != nil {
		obs.NonMember = NonMemberProbe{Error: probeErr.Error(), User: x.NonMember}
	} else {
		obs.NonMember = parseNonMemberOutput(string(probe.Stdout), string(probe.Stderr), probe.ExitStatus)
		if obs.NonMember.User == "" {
			obs.NonMember.User = x.NonMember
		}
	}
	rep := Judge(&obs, x)
	rep.Host = conn.Host()
	rep.Benchmark = b.Name
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	rep.Time = now().UTC()
	return rep, nil
}

// Error is a benchmark that could not run on a host (bad settings, a broken connection). Its
// message names the host once, then the benchmark and the cause.
type Error struct {
	Host      string
	Benchmark string
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: benchmark %q: %s", e.Host, e.Benchmark, strings.TrimPrefix(e.Err.Error(), e.Host+": "))
}

func (e *Error) Unwrap() error { return e.Err }

// FailedReport is the report of a host the benchmark could not reach (connection, facts, spec
// evaluation): verdict fail with the error as the reason.
func FailedReport(host, benchmark string, err error, now time.Time) *HostReport {
	return &HostReport{
		Host: host, Benchmark: benchmark, Time: now.UTC(), Verdict: Fail, Reason: err.Error(),
		PMU: []string{}, CapNames: []string{}, Events: []EventReport{},
		Checks: []Check{{Name: "run", Status: CheckFail, Detail: err.Error()}},
	}
}

// SkippedReport is the report of a host the benchmark was not run on (apply left it failed or
// unreachable): verdict skipped, with why.
func SkippedReport(host, benchmark, why string, now time.Time) *HostReport {
	return &HostReport{
		Host: host, Benchmark: benchmark, Time: now.UTC(), Verdict: Skipped, Reason: why,
		PMU: []string{}, CapNames: []string{}, Events: []EventReport{},
		Checks: []Check{{Name: "run", Status: CheckSkip, Detail: why}},
	}
}
