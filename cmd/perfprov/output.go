package main

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/perfprov/perfprov/internal/privfile"
	"github.com/perfprov/perfprov/internal/view"
)

// header is the first line of a -json stream of kind stream printed by command.
func header(command, stream string) view.Header {
	bi := buildInfo()
	return view.NewHeader(bi.Version, bi.Revision, command, stream)
}

// startJSON prints the header line; every -json stream starts with it, before anything can fail,
// so that even a run stopped by a bad spec prints a stream a reader recognises.
func startJSON(env *cliEnv, command, stream string) {
	view.WriteHeader(env.stdout, header(command, stream))
}

// junitReport is -junit FILE of apply and bench: the JUnit XML is written when the run is over,
// whatever its outcome (interrupted too: what was done so far).
type junitReport struct {
	path  string
	start time.Time
}

// write writes the report with w (nothing without -junit). A failure to write it fails the
// command: err is the run's own outcome, kept when it is already a failure or an interrupt.
func (j junitReport) write(env *cliEnv, command string, err error, w func(io.Writer, time.Duration) error) error {
	if j.path == "" {
		return err
	}
	var b bytes.Buffer
	werr := w(&b, env.now().Sub(j.start))
	if werr == nil {
		werr = privfile.WriteMode(j.path, b.Bytes(), 0o644) // beside it, then renamed into place
	}
	if werr == nil {
		return err
	}
	werr = fmt.Errorf("writing %s: %w", j.path, werr)
	fmt.Fprintf(env.stderr, "perfprov %s: -junit: %v\n", command, werr)
	if err == nil {
		return &exitError{code: exitFailure}
	}
	return err
}
