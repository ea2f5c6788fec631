package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// DefaultHistoryDir is where runs are kept, relative to the working directory.
const DefaultHistoryDir = ".perfprov/bench"

// Record is one saved benchmark run.
type Record struct {
	Time    time.Time     `json:"time"`
	Spec    string        `json:"spec,omitempty"`
	Reports []*HostReport `json:"reports"`
}

const historyTimeFormat = "20060102T150405.000000000Z"

// Save writes the run to dir as TIMESTAMP.json (UTC, so that names sort by time) and returns the
// file's path. The file is written to a temporary name and renamed, so a reader never sees half.
func Save(dir string, rec *Record) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bench history: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", err
	}
	name := filepath.Join(dir, rec.Time.UTC().Format(historyTimeFormat)+".json")
	tmp, err := os.CreateTemp(dir, ".bench-*.tmp")
	if err != nil {
		return "", fmt.Errorf("bench history: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("bench history: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("bench history: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", fmt.Errorf("bench history: %w", err)
	}
	return name, nil
}

// History lists the saved runs in dir, oldest first.
func History(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bench history: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Load reads one saved run.
func Load(path string) (*Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench history: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("bench history: %s: %w", path, err)
	}
	return &rec, nil
}

// Previous returns the newest saved run older than t, or nil when there is none.
func Previous(dir string, t time.Time) (*Record, string, error) {
	files, err := History(dir)
	if err != nil {
		return nil, "", err
	}
	cut := t.UTC().Format(historyTimeFormat) + ".json"
	for i := len(files) - 1; i >= 0; i-- {
		if filepath.Base(files[i]) < cut {
			rec, err := Load(files[i])
			return rec, files[i], err
		}
	}
	return nil, "", nil
}

// Change is one difference between two runs for one host.
type Change struct {
	Host string `json:"host"`
	What string `json:"what"`
}

// Compare lists what changed per host between an older and a newer run: hosts that appeared or
// disappeared, verdict changes (with the new reason), CapEff changes, system-wide counting, the
// non-member check, and events whose status changed (one that became unsupported is the typical
// sign of a lost capability or a moved VM).
func Compare(old, cur []*HostReport) []Change {
	key := func(r *HostReport) string {
		if r.Benchmark != "" {
			return r.Host + "/" + r.Benchmark
		}
		return r.Host
	}
	before := map[string]*HostReport{}
	for _, r := range old {
		before[key(r)] = r
	}
	var out []Change
	seen := map[string]bool{}
	for _, r := range cur {
		k := key(r)
		seen[k] = true
		o, ok := before[k]
		if !ok {
			out = append(out, Change{k, fmt.Sprintf("new host: %s", r.Verdict)})
			continue
		}
		if o.Verdict != r.Verdict {
			out = append(out, Change{k, fmt.Sprintf("verdict %s -> %s: %s", o.Verdict, r.Verdict, r.Reason)})
		} else if r.Verdict == Fail && o.Reason != r.Reason {
			out = append(out, Change{k, fmt.Sprintf("still fail, new reason: %s", r.Reason)})
		}
		if o.CapEff != r.CapEff {
			out = append(out, Change{k, fmt.Sprintf("CapEff %s -> %s (%s)", orDash(o.CapEff), orDash(r.CapEff), capsOf(r.CapEff))})
		}
		if o.SystemWideOK != r.SystemWideOK {
			out = append(out, Change{k, fmt.Sprintf("system-wide counting %s -> %s", yesNo(o.SystemWideOK), yesNo(r.SystemWideOK))})
		}
		if o.NonMember != r.NonMember && o.NonMember != "" && r.NonMember != "" {
			out = append(out, Change{k, fmt.Sprintf("non-member %s -> %s", o.NonMember, r.NonMember)})
		}
		if o.Kernel != r.Kernel && o.Kernel != "" && r.Kernel != "" {
			out = append(out, Change{k, fmt.Sprintf("kernel %s -> %s", o.Kernel, r.Kernel)})
		}
		if o.PerfVersion != r.PerfVersion && o.PerfVersion != "" && r.PerfVersion != "" {
			out = append(out, Change{k, fmt.Sprintf("perf version %s -> %s", o.PerfVersion, r.PerfVersion)})
		}
		if o.PerfSHA256 != r.PerfSHA256 && o.PerfSHA256 != "" && r.PerfSHA256 != "" {
			out = append(out, Change{k, fmt.Sprintf("perf binary %s changed: sha256 %s -> %s", r.Perf, short(o.PerfSHA256), short(r.PerfSHA256))})
		}
		prev := map[string]EventReport{}
		for _, e := range o.Events {
			prev[e.Name] = e
		}
		for _, e := range r.Events {
			p, ok := prev[e.Name]
			switch {
			case !ok:
				out = append(out, Change{k, fmt.Sprintf("event %s: new, %s", e.Name, e.Status)})
			case p.Status != e.Status:
				what := fmt.Sprintf("event %s: %s -> %s", e.Name, p.Status, e.Status)
				if e.Status == string(NotSupported) {
					what += " (became unsupported)"
				}
				out = append(out, Change{k, what})
			case p.UserOnly != e.UserOnly && e.UserOnly:
				out = append(out, Change{k, fmt.Sprintf("event %s: now downgraded to user-only (%s)", e.Name, e.Printed)})
			}
		}
		if oa, ra := o.Accuracy, r.Accuracy; oa != nil && ra != nil && oa.Status != ra.Status {
			out = append(out, Change{k, fmt.Sprintf("accuracy %s -> %s", oa.Status, ra.Status)})
		}
	}
	for _, r := range old {
		if k := key(r); !seen[k] {
			out = append(out, Change{k, "no longer benchmarked"})
		}
	}
	return out
}

// short is the first 12 hex digits of a digest, as git shows commits.
func short(digest string) string {
	if len(digest) > 12 {
		return digest[:12]
	}
	return digest
}

func capsOf(hex string) string {
	if hex == "" {
		return "unknown"
	}
	m, err := ParseCapMask(hex)
	if err != nil {
		return "unknown"
	}
	return m.Describe()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Recent loads the newest n saved runs older than t, oldest first: the history the HTML report
// draws. A run that cannot be read is left out, and named in the error; the others are returned.
func Recent(dir string, t time.Time, n int) ([]*Record, error) {
	files, err := History(dir)
	if err != nil || n <= 0 {
		return nil, err
	}
	cut := t.UTC().Format(historyTimeFormat) + ".json"
	end := sort.SearchStrings(baseNames(files), cut)
	start := max(0, end-n)
	var out []*Record
	var errs []error
	for _, f := range files[start:end] {
		rec, err := Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
