package resource

import (
	"context"
	"fmt"

	"github.com/perfprov/perfprov/transport"
)

// Scripted is a resource whose apply, in the state it read, is one script run as root and nothing
// else (no upload, no read first). The engine sends the scripts of independent changes of a host
// together with the reads that verify them, as one command, so that a level of changes costs one
// round trip however many resources it holds. Its Apply runs the same script alone.
type Scripted interface {
	// ApplyScript is the apply for st and d as one script (values quoted by provision/shell);
	// ok is false when the apply is more than one script this time (then the engine calls Apply).
	ApplyScript(st State, d *Diff) (script string, ok bool)
	// ApplyOutcome judges what the script left: nil when it applied, else the cause in words.
	ApplyOutcome(st State, res *transport.Result) error
}

// applyScript runs s's script for st and d alone (Apply of a Scripted type).
func applyScript(ctx context.Context, t *Target, s Scripted, st State, d *Diff, what string) error {
	script, ok := s.ApplyScript(st, d)
	if !ok {
		return fmt.Errorf("%s: the apply is not one script (a bug)", what)
	}
	res, err := t.Conn.Run(ctx, transport.Command{Script: script, Privileged: true})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return s.ApplyOutcome(st, res)
}

// exitOutcome is the outcome of a script whose exit status says it all: its own words on failure.
func exitOutcome(res *transport.Result, what string) error {
	if res.OK() {
		return nil
	}
	return fmt.Errorf("%s failed (exit %d): %s", what, res.ExitStatus, lastLines(res.Stderr, res.Stdout))
}
