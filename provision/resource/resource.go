// Package resource implements the resource types of the spec catalogue (hcl.ResourceSchemas).
//
// Every type turns an evaluated *spec.Resource into four things:
//   - a read snippet: POSIX sh that changes nothing and prints the current state as key=value lines;
//     the engine batches the snippets of all resources of a host into one script (see Batch);
//   - a parser of that output into a State;
//   - a diff of the desired state against that State (empty: in sync);
//   - an apply that makes the host match, through conn.Run with Privileged set and every value
//     quoted by provision/shell.
//
// Verification is not a method: the engine reads again after apply and diffs again; the diff must
// be empty. Controller-side work (reading local files, downloading archives) happens in New.
package resource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/perfprov/perfprov/internal/redact"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Action is what applying a resource would do.
type Action int

const (
	Noop   Action = iota // in sync
	Create               // the thing does not exist yet
	Update               // the thing exists and some attributes change (or a command runs)
	Delete               // the thing is removed (capabilities with an empty set)
)

func (a Action) String() string {
	switch a {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	default:
		return "noop"
	}
}

// Symbol is the one-character mark plans show for the action.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	default:
		return "="
	}
}

// Change is one attribute that differs. Old and New are for people (and the audit log); a
// sensitive change carries no values.
type Change struct {
	Attr      string `json:"attr"`
	Old       string `json:"old"`
	New       string `json:"new"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Diff is the difference between desired and current state. Action Noop has no changes; any other
// action has at least one, and every change listed is one that Apply makes.
type Diff struct {
	Action  Action
	Changes []Change
}

// InSync reports whether nothing needs to be done.
func (d *Diff) InSync() bool { return d == nil || d.Action == Noop }

// Before and After return the old and new values by attribute, for the audit log.
func (d *Diff) Before() map[string]string { return d.side(func(c Change) string { return c.Old }) }

// After: see Before.
func (d *Diff) After() map[string]string { return d.side(func(c Change) string { return c.New }) }

func (d *Diff) side(f func(Change) string) map[string]string {
	m := map[string]string{}
	if d == nil {
		return m
	}
	for _, c := range d.Changes {
		if c.Sensitive {
			m[c.Attr] = redact.Placeholder
		} else {
			m[c.Attr] = f(c)
		}
	}
	return m
}

// Section is the output of one resource's read snippet.
type Section struct {
	Stdout []byte
	Stderr []byte
	Status int
}

// State is a parsed read. Each type has its own; the engine passes it back to the same type.
type State any

// HostInfo is what resource types need to know about the host beyond their own reads.
type HostInfo struct {
	PackageManager string // "apt", "dnf", "yum", "zypper", "apk", "pacman" or "" (then detected by the read)
}

// Target is the host a resource is applied to.
type Target struct {
	Conn transport.Conn
	Info HostInfo
	// LogDir is a controller directory for this host's logs (build logs); created on demand.
	LogDir string
	// Progress, when set, hears how far an upload has come: bytes read of its content, of total.
	// It is called often: the listener throttles.
	Progress func(sent, total int64)
}

// Resource is one resource instance of one host, with its controller-side preparation done.
type Resource interface {
	// Meta is the evaluated resource it was made from.
	Meta() *spec.Resource
	// ReadScript is a read-only POSIX sh snippet that prints the current state.
	ReadScript() string
	// Parse turns the snippet's output into a State.
	Parse(s Section) (State, error)
	// Diff compares the desired state with st. An error means the resource cannot be applied as
	// things are (a script given to capabilities, a path that does not exist); the message says why.
	Diff(st State) (*Diff, error)
	// Apply makes the host match. st and d are the latest read and its diff.
	Apply(ctx context.Context, t *Target, st State, d *Diff) error
	// Fingerprint is a digest of the desired state (content hashes of controller-side inputs
	// included): builds stamp the fingerprints of what they depend on.
	Fingerprint() string
}

// InShellReader is a resource whose read snippet may run in the batched read's own shell instead
// of a subshell of its own, which saves a fork per resource on every host of every run. Such a
// snippet sets every variable it reads, restores the shell options and IFS it changes, uses
// absolute paths only and never exits; the batch returns to its directory after it.
type InShellReader interface {
	ReadsInShell() bool
}

// Env is the controller-side environment of resource preparation.
type Env struct {
	// CacheDir holds downloaded source archives (default: $XDG_CACHE_HOME/perfprov or ~/.cache/perfprov).
	CacheDir string
	// Downloader fetches URLs into the cache; nil uses the default HTTP client.
	Downloader *Downloader
	// HostSourceCache is where hosts keep uploaded archives (default /var/cache/perfprov/sources).
	HostSourceCache string
	// Deps gives the fingerprints of a resource's dependencies (by address), for build stamps.
	DepFingerprint func(addr string) string
}

// base holds what every type shares.
type base struct {
	r *spec.Resource
}

func (b *base) Meta() *spec.Resource { return b.r }

// Fingerprint hashes the parts in order, unambiguously: what a resource's Fingerprint is made
// of, and what the engine combines a resource's with its dependencies' into.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrNotReady marks a Diff error caused by something an earlier resource may still create (a
// path that does not exist yet). The engine plans such a resource as pending when one of its
// dependencies changes, and re-reads it before applying.
var ErrNotReady = errors.New("not ready")

// notReady wraps ErrNotReady with a message for people.
func notReady(format string, args ...any) error {
	return &notReadyError{msg: fmt.Sprintf(format, args...)}
}

type notReadyError struct{ msg string }

func (e *notReadyError) Error() string        { return e.msg }
func (e *notReadyError) Is(target error) bool { return target == ErrNotReady }

// run runs a privileged script on the target and turns a non-zero exit into an error that carries
// the command's own words.
func run(ctx context.Context, t *Target, cmd transport.Command, what string) (*transport.Result, error) {
	cmd.Privileged = cmd.RunAs == ""
	res, err := t.Conn.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !res.OK() {
		return res, fmt.Errorf("%s failed (exit %d): %s", what, res.ExitStatus, lastLines(res.Stderr, res.Stdout))
	}
	return res, nil
}

// lastLines returns the last n non-empty lines of the first non-empty output, on one line.
func lastLines(outs ...[]byte) string {
	for _, o := range outs {
		s := strings.TrimSpace(string(o))
		if s == "" {
			continue
		}
		lines := strings.Split(s, "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		return strings.Join(lines, " | ")
	}
	return "no output"
}

// kv parses key=value lines; later keys win, lines without '=' are ignored. Values are kept as is.
func kv(out []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}
