// Package planfile is the saved plan of `perfprov plan -out FILE`, which `perfprov apply FILE`
// applies and `perfprov show FILE` prints. The file records how the spec was loaded (its path,
// inventories, var files and the -var values of variables that are not sensitive), a digest of
// every file that went into it, the values of the non-sensitive root variables, and per host the
// digests of what the plan read there and of the changes it planned. It holds no sensitive value:
// sensitive variables are given again at apply time and evaluated then, as Terraform does with
// ephemeral values; sensitive changes are recorded without their values. It is written 0600.
package planfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/internal/privfile"

	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/resource"
)

// FormatVersion is the version of the file's format; Read refuses another major version.
const FormatVersion = "1.0"

// Kind is the value of the file's "kind" member: how Sniff tells a plan file from a spec file.
const Kind = "perfprov-plan"

// File is a saved plan.
type File struct {
	FormatVersion string    `json:"format_version"`
	Kind          string    `json:"kind"`
	Perfprov      string    `json:"perfprov_version"`
	Created       time.Time `json:"created"`
	Spec          Inputs    `json:"spec"`
	// Files are the digests of every file the spec was loaded from (spec, modules, inventories,
	// var files), by absolute path.
	Files map[string]string `json:"files"`
	// Variables are the values of the root variables that are not sensitive, as JSON; Sensitive
	// names the others (given again at apply time).
	Variables map[string]json.RawMessage `json:"variables"`
	Sensitive []string                   `json:"sensitive_variables,omitempty"`
	Hosts     []Host                     `json:"hosts"`
}

// Inputs are how the spec was loaded, so that apply loads it the same way.
type Inputs struct {
	Path      string   `json:"path"`
	Inventory []string `json:"inventory,omitempty"`
	VarFiles  []string `json:"var_files,omitempty"`
	// Vars are the -var NAME=VALUE arguments of variables that are not sensitive.
	Vars  []string `json:"vars,omitempty"`
	Limit string   `json:"limit,omitempty"`
	Shard string   `json:"shard,omitempty"`
}

// Host is one host of the plan.
type Host struct {
	Name string `json:"name"`
	// Status is the host's at the end of the plan: planned (it can be applied), or failed,
	// unreachable: then apply leaves it alone.
	Status     string     `json:"status"`
	Error      string     `json:"error,omitempty"`
	ReadDigest string     `json:"read_digest,omitempty"`
	PlanDigest string     `json:"plan_digest,omitempty"`
	Resources  []Resource `json:"resources,omitempty"`
}

// Resource is one planned resource.
type Resource struct {
	Address    string            `json:"address"`
	Type       string            `json:"type"`
	Action     string            `json:"action"`
	Status     string            `json:"status"`
	Changes    []resource.Change `json:"changes,omitempty"`
	Error      string            `json:"error,omitempty"`
	ReadDigest string            `json:"read_digest,omitempty"`
}

// Applicable reports whether apply may apply the host: it was planned without an error.
func (h *Host) Applicable() bool { return h.Status == string(engine.StatusPlanned) }

// FromRun records the hosts of a finished plan.
func FromRun(run *engine.Run) []Host {
	var out []Host
	for _, h := range run.Hosts {
		fh := Host{Name: h.Name, Status: string(h.Status), ReadDigest: h.ReadDigest, PlanDigest: PlanDigest(h)}
		if fh.Status == "" {
			fh.Status = string(engine.StatusPlanned)
		}
		if h.Err != nil {
			fh.Error = h.Err.Error()
		}
		for _, rr := range h.Resources {
			fr := Resource{Address: rr.Addr, Type: rr.Type, Status: string(rr.Status), ReadDigest: rr.ReadDigest, Action: "noop"}
			if rr.Diff != nil {
				fr.Action = rr.Diff.Action.String()
				fr.Changes = redacted(rr.Diff.Changes)
			}
			if rr.Err != nil {
				fr.Error = rr.Err.Error()
				if fh.Status == string(engine.StatusPlanned) {
					fh.Status = string(engine.StatusFailed) // a resource that cannot be planned: nothing is applied
				}
			}
			fh.Resources = append(fh.Resources, fr)
		}
		out = append(out, fh)
	}
	return out
}

// redacted is changes with the values of sensitive ones left out.
func redacted(cs []resource.Change) []resource.Change {
	out := make([]resource.Change, len(cs))
	for i, c := range cs {
		if c.Sensitive {
			c.Old, c.New = "", ""
		}
		out[i] = c
	}
	return out
}

// PlanDigest is a digest of what a host's plan would do: every resource's address, action and
// changes (sensitive ones without values) in order.
func PlanDigest(h *engine.HostRun) string {
	d := sha256.New()
	for _, rr := range h.Resources {
		fmt.Fprintf(d, "%s %s %s\n", rr.Addr, rr.Status, errText(rr.Err))
		if rr.Diff == nil {
			continue
		}
		b, _ := json.Marshal(struct {
			A string
			C []resource.Change
		}{rr.Diff.Action.String(), redacted(rr.Diff.Changes)})
		d.Write(b)
		d.Write([]byte{'\n'})
	}
	return hex.EncodeToString(d.Sum(nil))
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FileDigests is the digest of every file of files (a spec's parsed files, by name) and of
// extra (var files), by absolute path.
func FileDigests(files map[string]*hcl2.File, extra []string) (map[string]string, error) {
	out := map[string]string{}
	for name, f := range files {
		abs, err := filepath.Abs(name)
		if err != nil {
			return nil, err
		}
		out[abs] = digest(f.Bytes)
	}
	for _, p := range extra {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("var file: %w", err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		out[abs] = digest(b)
	}
	return out, nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ChangedFiles lists the paths whose digests differ between a and b (or that only one has),
// sorted.
func ChangedFiles(a, b map[string]string) []string {
	var out []string
	for p, d := range a {
		if b[p] != d {
			out = append(out, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Write writes f to path, 0600, through a temporary file beside it.
func Write(path string, f *File) error {
	f.FormatVersion, f.Kind = FormatVersion, Kind
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := privfile.Write(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write the plan %s: %w", path, err)
	}
	return nil
}

// ErrNotPlan is a file that is not a saved plan.
var ErrNotPlan = errors.New("not a perfprov plan file")

// Sniff reports whether the file at path is a saved plan (a JSON document of Kind), without
// reading more than its start: apply takes a plan file where it takes a spec's path.
func Sniff(path string) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() || filepath.Ext(path) == ".hcl" {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.Read(head)
	return bytes.HasPrefix(bytes.TrimSpace(head[:n]), []byte("{")) && bytes.Contains(head[:n], []byte(`"`+Kind+`"`))
}

// Read reads a saved plan.
func Read(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", path, ErrNotPlan, err)
	}
	if f.Kind != Kind {
		return nil, fmt.Errorf("%s: %w", path, ErrNotPlan)
	}
	if major(f.FormatVersion) != major(FormatVersion) {
		return nil, fmt.Errorf("%s: plan format %s; this perfprov reads %s (make the plan again with this perfprov)", path, f.FormatVersion, FormatVersion)
	}
	return &f, nil
}

func major(v string) string {
	for i, c := range v {
		if c == '.' {
			return v[:i]
		}
	}
	return v
}

// Run is the saved plan as a planned engine.Run, for the views that print plans.
func (f *File) Run() *engine.Run {
	run := &engine.Run{}
	for _, fh := range f.Hosts {
		h := &engine.HostRun{Name: fh.Name, Status: engine.Status(fh.Status)}
		if fh.Error != "" {
			h.Err = errors.New(fh.Error)
		}
		for _, fr := range fh.Resources {
			rr := &engine.ResourceResult{Addr: fr.Address, Type: fr.Type, Status: engine.Status(fr.Status)}
			if fr.Error != "" {
				rr.Err = errors.New(fr.Error)
			} else {
				rr.Diff = &resource.Diff{Action: parseAction(fr.Action), Changes: fr.Changes}
			}
			h.Resources = append(h.Resources, rr)
		}
		run.Hosts = append(run.Hosts, h)
	}
	return run
}

func parseAction(s string) resource.Action {
	for _, a := range []resource.Action{resource.Create, resource.Update, resource.Delete} {
		if a.String() == s {
			return a
		}
	}
	return resource.Noop
}
