package view

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/engine"
)

// JUnit XML (the Ant/Jenkins form CI dashboards read: GitLab, Jenkins, GitHub's test reporters):
// one <testsuite> per host. apply's suite holds a testcase for the host (did it converge?), one
// per resource and one per benchmark block; bench's one per benchmark block. A failure's message
// is the one-line cause; its text, the whole message.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Props     *junitProps `xml:"properties"`
	Cases     []junitCase `xml:"testcase"`

	took time.Duration // the suite's time: the host's
}

type junitProps struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	Skipped   *junitSkipped `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// fail is a failure whose message is the first line of the cause, the host's name not repeated.
func fail(kind, host, cause string) *junitFailure {
	cause = strings.TrimPrefix(cause, host+": ")
	return &junitFailure{Message: firstLine(cause), Type: kind, Text: cause}
}

func (s *junitSuite) add(c junitCase, d time.Duration) {
	c.Time = seconds(d)
	s.Cases = append(s.Cases, c)
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Skipped != nil:
		s.Skipped++
	}
}

// WriteApplyJUnit writes apply's outcome: for each host a suite with the host's testcase, one per
// resource (ok and changed pass; failed fails with its cause; skipped and not started are
// skipped, with why) and one per benchmark report of the host (fail fails, skipped is skipped).
// inSync says the run was a plan that found nothing to change (apply without -auto-approve then
// applies nothing): its hosts and resources planned without error are converged. start is when
// the run began; elapsed its duration.
func WriteApplyJUnit(w io.Writer, run *engine.Run, reps []*bench.HostReport, inSync bool, start time.Time, elapsed time.Duration) error {
	byHost := map[string][]*bench.HostReport{}
	for _, r := range reps {
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	var suites []junitSuite
	for _, h := range run.Hosts {
		t := h.Timings
		took := t.Connect + t.Facts + t.Read + t.Apply
		s := junitSuite{Name: h.Name, Timestamp: start.UTC().Format("2006-01-02T15:04:05"), took: took,
			Props: &junitProps{[]junitProperty{{Name: "status", Value: string(h.Status)}}}}
		s.add(junitCase{Name: "converged", Classname: h.Name, Failure: hostFailure(h, run, inSync)}, took)
		for _, rr := range h.Resources {
			c := junitCase{Name: rr.Addr, Classname: h.Name}
			switch {
			case inSync && rr.Status == engine.StatusPlanned && rr.Err == nil:
				c.SystemOut = string(engine.StatusOK)
			case rr.Status == engine.StatusOK || rr.Status == engine.StatusChanged:
				c.SystemOut = string(rr.Status)
			case rr.Status == engine.StatusFailed:
				c.Failure = fail("failed", h.Name, errString(rr.Err))
			case rr.Status == engine.StatusSkipped:
				c.Skipped = &junitSkipped{Message: rr.Cause}
			default: // not started, or planned and never reached
				c.Skipped = &junitSkipped{Message: strings.TrimSpace("not applied " + parens(rr.Cause))}
			}
			s.add(c, rr.Duration)
		}
		for _, r := range byHost[h.Name] {
			s.add(benchCase("benchmark."+benchName(r), r), 0)
		}
		suites = append(suites, s)
	}
	return writeJUnit(w, "perfprov apply", suites, elapsed)
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

// hostFailure is the host testcase's failure: why the host did not converge (nil when it did).
// Not started is a failure too: apply was asked to converge it.
func hostFailure(h *engine.HostRun, run *engine.Run, inSync bool) *junitFailure {
	switch {
	case h.Status == engine.StatusOK, h.Status == engine.StatusChanged:
		return nil
	case inSync && (h.Status == engine.StatusPlanned || h.Status == "") && h.Err == nil && h.Count(engine.StatusFailed) == 0:
		return nil
	case h.Status == engine.StatusUnreachable:
		return fail("unreachable", h.Name, "unreachable: "+strings.TrimPrefix(errString(h.Err), h.Name+": "))
	}
	if h.Err != nil {
		return fail(string(h.Status), h.Name, errString(h.Err))
	}
	var failed []string
	for _, rr := range h.Resources {
		if rr.Status == engine.StatusFailed {
			failed = append(failed, rr.Addr+": "+firstLine(errString(rr.Err)))
		}
	}
	switch {
	case len(failed) > 0:
		f := fail("failed", h.Name, fmt.Sprintf("%s failed: %s", Plural(len(failed), "resource", "resources"), strings.Join(failed, "; ")))
		f.Text = strings.Join(failed, "\n")
		return f
	case run.Stopped != "":
		return fail(string(h.Status), h.Name, "not converged: rollout stopped: "+run.Stopped)
	case run.Interrupted:
		return fail(string(h.Status), h.Name, "not converged: interrupted")
	}
	return fail(string(h.Status), h.Name, "not converged ("+string(h.Status)+")")
}

// WriteBenchJUnit writes bench's reports: a suite per host, a testcase per benchmark block (pass
// and pass-software-only pass, with the verdict and reason as output; fail fails with the
// reason; skipped is skipped). elapsed is the run's duration (reports do not time each host).
func WriteBenchJUnit(w io.Writer, reps []*bench.HostReport, elapsed time.Duration) error {
	var suites []junitSuite
	index := map[string]int{}
	for _, r := range reps {
		i, ok := index[r.Host]
		if !ok {
			i = len(suites)
			index[r.Host] = i
			suites = append(suites, junitSuite{Name: r.Host, Timestamp: r.Time.UTC().Format("2006-01-02T15:04:05")})
		}
		suites[i].add(benchCase(benchName(r), r), 0)
	}
	return writeJUnit(w, "perfprov bench", suites, elapsed)
}

func benchName(r *bench.HostReport) string {
	if r.Benchmark == "" {
		return "benchmark"
	}
	return r.Benchmark
}

func benchCase(name string, r *bench.HostReport) junitCase {
	c := junitCase{Name: name, Classname: r.Host}
	switch r.Verdict {
	case bench.Fail:
		c.Failure = fail("fail", r.Host, r.Reason)
	case bench.Skipped:
		c.Skipped = &junitSkipped{Message: r.Reason}
	default:
		c.SystemOut = string(r.Verdict) + ": " + r.Reason
	}
	return c
}

func writeJUnit(w io.Writer, name string, suites []junitSuite, elapsed time.Duration) error {
	all := junitSuites{Name: name, Time: seconds(elapsed), Suites: suites}
	for i := range suites {
		s := &suites[i]
		s.Time = seconds(s.took)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
