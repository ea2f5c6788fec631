package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/transport"
)

// Waves: the changes of one dependency level go out together. A wave is a run of consecutive
// resources of a host (in the plan's dependency order) whose types are resource.Scripted and none
// of which depends on another of the run. Their applies are independent, so they go in one
// command, followed by the reads that verify them and the reads of every resource still to
// come: over a kept connection a wave costs one round trip however many changes it holds, and
// the next step starts from a fresh read without a round trip of its own. The command changes
// the host, so it is never sent twice (transport.Command.Changes).
//
//	stdout/stderr: the apply sections 0..k-1 (each in a subshell), then the read sections

// wave returns the wave at the head of rest: the longest prefix of planned scripted resources
// that depend on no one in it and on nothing that failed (bad). It is empty when rest[0] is not
// scripted.
func wave(rest []*ResourceResult, bad map[string]string) []*ResourceResult {
	var w []*ResourceResult
	in := map[string]bool{}
	for _, rr := range rest {
		if _, ok := rr.res.(resource.Scripted); !ok || rr.Status != StatusPlanned || depCause(rr.meta, bad) != "" {
			break
		}
		if slices.ContainsFunc(rr.meta.DependsOn, func(d string) bool { return in[d] }) {
			break
		}
		w = append(w, rr)
		in[rr.Addr] = true
	}
	return w
}

// applyWave applies a wave: reads first the members whose read is stale (one command), then the
// changes that are one script in one command (runWave), then, one by one, the members whose
// apply is more than a script this time.
func (r *Run) applyWave(ctx context.Context, h *HostRun, w []*ResourceResult) {
	start := time.Now()
	defer func() {
		for _, rr := range w {
			rr.Duration = time.Since(start)
		}
	}()
	var stale []*ResourceResult
	for _, rr := range w {
		if rr.stale(h) {
			stale = append(stale, rr)
		}
	}
	if len(stale) > 0 {
		r.readMany(ctx, h, stale)
	}
	var batch, alone []*ResourceResult
	var scripts []string
	for _, rr := range w {
		if rr.Status == StatusFailed {
			continue // its read failed (readMany said why)
		}
		if err := rr.rediff(); err != nil {
			r.failed(h, rr, err)
			continue
		}
		if rr.Diff.InSync() {
			rr.Status = StatusOK
			r.emit(Event{Type: EventApplyComplete, Host: h.Name, Address: rr.Addr, Action: "noop", Status: string(StatusOK)})
			continue
		}
		s, ok := rr.res.(resource.Scripted).ApplyScript(rr.state, rr.Diff)
		if !ok {
			alone = append(alone, rr)
			continue
		}
		batch, scripts = append(batch, rr), append(scripts, s)
	}
	if len(batch) > 0 {
		r.runWave(ctx, h, batch, scripts, start)
	}
	for _, rr := range alone {
		if r.interrupted() || ctx.Err() != nil {
			rr.Status, rr.Cause = StatusNotStarted, "interrupted before it started"
			continue
		}
		r.applyResource(ctx, h, rr)
	}
}

// runWave runs the applies of batch (scripts) as one command with the reads that verify them
// and the reads of the resources still to come.
func (r *Run) runWave(ctx context.Context, h *HostRun, batch []*ResourceResult, scripts []string, start time.Time) {
	befores := make([]*resource.Diff, len(batch))
	for i, rr := range batch {
		befores[i] = rr.Diff
		r.emit(Event{Type: EventApplyStart, Host: h.Name, Address: rr.Addr, Action: rr.Diff.Action.String(), Changes: redacted(rr.Diff.Changes)})
		r.opts.Audit.Attempt(h.Name, rr.Addr, rr.Diff) // written (and so kept) before the host changes
	}
	reads := append(slices.Clone(batch), h.toCome(batch, h.changes+1)...)
	rp := planReads(reads)
	marker := newMarker()
	text := waveScript(marker, scripts, rp)
	res, err := h.conn.Run(ctx, transport.Command{Script: text, Privileged: true, Quick: true, Changes: true})
	h.changes++
	if err != nil {
		for i, rr := range batch {
			err := fmt.Errorf("apply: %w", err)
			r.audit(h, rr, befores[i], err)
			r.failed(h, rr, err)
		}
		return
	}
	secs, errs := parseBatch(res.Stdout, res.Stderr, marker, len(scripts)+len(reads))
	applied, read := secs[:len(scripts)], secs[len(scripts):]
	r.takeReads(h, reads, read, errs[len(scripts):])
	for i, rr := range batch {
		err := errs[i]
		if err == nil {
			sec := applied[i]
			err = rr.res.(resource.Scripted).ApplyOutcome(rr.state, &transport.Result{ExitStatus: sec.Status, Stdout: sec.Stdout, Stderr: sec.Stderr})
		} else {
			err = fmt.Errorf("apply: %w", err)
		}
		if err != nil {
			r.audit(h, rr, befores[i], err)
			r.failed(h, rr, err)
			continue
		}
		rr.applied = true
		if rr.readErr != nil {
			err = fmt.Errorf("verify: %w", rr.readErr)
		} else if err = verified(rr); err != nil {
			err = fmt.Errorf("verify: %w", err)
		}
		if err != nil {
			r.audit(h, rr, befores[i], err)
			r.failed(h, rr, err)
			continue
		}
		r.changed(h, rr, befores[i], start)
	}
}

// waveScript is the applies (each in a subshell, stdin closed) and then the batched read of rp,
// framed as one batch (batchScript): its sections are the applies', then the reads'.
func waveScript(marker string, applies []string, rp readPlan) string {
	inShell := make([]bool, len(applies))
	return batchScript(marker, "", applies, inShell) + sectionsFrom(marker, len(applies), prelude.Script(rp.Pre), rp.Snippets, rp.InShell)
}
