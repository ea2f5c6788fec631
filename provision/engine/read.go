package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Reading hosts: the plan's batched read of every resource (or the speculative one that came
// with the facts), the reads of an apply's steps, and the digests a saved plan records.

// tellSecrets gives Options.Secret the string values of m's sensitive attributes.
func (r *Run) tellSecrets(m *spec.Resource) {
	if r.opts.Secret == nil {
		return
	}
	for attr, sensitive := range m.Sensitive {
		if v, ok := m.Attrs[attr]; sensitive && ok {
			for _, s := range stringLeaves(v) {
				r.opts.Secret(s)
			}
		}
	}
}

// stringLeaves is every known string in v (lists, maps and objects walked). Numbers and bools
// are left out: redacting every "1" of a log would hide more than it protects.
func stringLeaves(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	switch {
	case ty == cty.String:
		return []string{v.AsString()}
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, stringLeaves(e)...)
		}
		return out
	}
	return nil
}

// readAll runs the batched read of every prepared resource, or takes the speculative read that
// came with the facts when it ran the very same snippets (see Speculation).
func (r *Run) readAll(ctx context.Context, h *HostRun, sp *Speculation) error {
	var rrs []*ResourceResult
	pure := true
	for _, rr := range h.Resources {
		if rr.res != nil {
			rrs = append(rrs, rr)
			pure = pure && pureRead(rr)
		}
	}
	rp := planReads(rrs)
	snippets := rp.Snippets
	if sp != nil && sp.remember != nil {
		if pure && len(snippets) > 0 {
			sp.remember(&rp)
		} else {
			sp.remember(nil)
		}
	}
	if len(snippets) == 0 {
		return nil
	}
	secs, errs, ok := sp.use(&rp)
	if !ok {
		var err error
		secs, errs, err = r.read(ctx, h, rp)
		if err != nil {
			return err
		}
	}
	host := sha256.New()
	defer func() { h.ReadDigest = hex.EncodeToString(host.Sum(nil)) }()
	now := time.Now()
	for k, rr := range rrs {
		rr.ReadDigest = sectionDigest(secs[k], errs[k])
		fmt.Fprintf(host, "%s %s\n", rr.Addr, rr.ReadDigest)
		if errs[k] != nil {
			rr.Status, rr.Err = StatusFailed, fmt.Errorf("read: %w", errs[k])
			continue
		}
		st, err := rr.res.Parse(secs[k])
		if err != nil {
			rr.Status, rr.Err = StatusFailed, fmt.Errorf("read: %w", err)
			continue
		}
		rr.state = st
		r.learnMemo(h, rr.res, secs[k], now)
	}
	return nil
}

// read runs a read plan as one framed script.
func (r *Run) read(ctx context.Context, h *HostRun, rp readPlan) ([]resource.Section, []error, error) {
	marker := newMarker()
	res, err := h.conn.Run(ctx, transport.Command{Script: rp.script(marker), Privileged: true, Timeout: r.opts.ReadTimeout, Quick: true})
	if err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	secs, errs := parseBatch(res.Stdout, res.Stderr, marker, len(rp.Snippets))
	return secs, errs, nil
}

// sectionDigest is a digest of one resource's read: its output, its errors and its status.
func sectionDigest(sec resource.Section, err error) string {
	d := sha256.New()
	if err != nil {
		fmt.Fprintf(d, "error %s", err)
	} else {
		fmt.Fprintf(d, "%d %d %d\n", sec.Status, len(sec.Stdout), len(sec.Stderr))
		d.Write(sec.Stdout)
		d.Write(sec.Stderr)
	}
	return hex.EncodeToString(d.Sum(nil))
}

// planReads is the batched read of rrs: their snippets, after their prelude (package prelude:
// one stat of every path they need, one awk for the lines of files they need).
func planReads(rrs []*ResourceResult) readPlan {
	var rp readPlan
	for _, rr := range rrs {
		rp.Snippets = append(rp.Snippets, rr.res.ReadScript())
		isr, ok := rr.res.(resource.InShellReader)
		rp.InShell = append(rp.InShell, ok && isr.ReadsInShell())
		if pr, ok := rr.res.(resource.Preluder); ok {
			rp.Pre.Add(pr.Prelude())
		}
	}
	return rp
}

// readOne reads rr again (after earlier changes on the host, or to verify its own), and with it
// the resources still to come whose reads are stale (see toCome).
func (r *Run) readOne(ctx context.Context, h *HostRun, rr *ResourceResult) error {
	r.readMany(ctx, h, []*ResourceResult{rr})
	return rr.readErr
}

// readMany reads rrs, and the resources still to come whose reads are stale, in one command.
// Each of rrs gets its state, or readErr says why not.
func (r *Run) readMany(ctx context.Context, h *HostRun, rrs []*ResourceResult) {
	reads := append(slices.Clone(rrs), h.toCome(rrs, h.changes)...)
	secs, errs, err := r.read(ctx, h, planReads(reads))
	if err != nil {
		for _, rr := range rrs {
			rr.readErr = err
		}
		return
	}
	r.takeReads(h, reads, secs, errs)
}

// takeReads parses the sections of a read of rrs into their states; a read that failed leaves
// the state stale, with readErr set.
func (r *Run) takeReads(h *HostRun, rrs []*ResourceResult, secs []resource.Section, errs []error) {
	for k, rr := range rrs {
		err := errs[k]
		if err == nil {
			var st resource.State
			if st, err = rr.res.Parse(secs[k]); err == nil {
				// A pending resource can be judged now: rediff replaces its placeholder diff.
				rr.state, rr.readAt, rr.readErr, rr.Pending = st, h.changes, nil, false
				continue
			}
		}
		rr.readErr = fmt.Errorf("read: %w", err)
	}
}

// toCome is the resources of h still to be applied, but for those of skip, whose reads are older
// than the applies' count gen and cheap (resource.InShellReader: builtins on one stat): a step's
// read reads them beside its own, so that the next step needs no read. Others (a command's
// guards, a build's stamp) are read when their turn comes.
func (h *HostRun) toCome(skip []*ResourceResult, gen int) []*ResourceResult {
	var out []*ResourceResult
	for _, rr := range h.Resources {
		if rr.res == nil || rr.Status != StatusPlanned || slices.Contains(skip, rr) || !rr.Pending && rr.readAt >= gen {
			continue
		}
		if isr, ok := rr.res.(resource.InShellReader); ok && isr.ReadsInShell() {
			out = append(out, rr)
		}
	}
	return out
}

// stale reports whether rr must be read again before it is applied: its read is older than the
// host's latest apply, or it could not be judged at plan time (Pending).
func (rr *ResourceResult) stale(h *HostRun) bool { return rr.Pending || rr.readAt < h.changes }

// rediff diffs rr's latest read.
func (rr *ResourceResult) rediff() error {
	d, err := rr.res.Diff(rr.state)
	if err != nil {
		return err
	}
	rr.Diff, rr.Pending = d, false
	return nil
}
