package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/perfprov/perfprov/internal/privfile"
	"github.com/perfprov/perfprov/provision/bench"
	"github.com/perfprov/perfprov/provision/engine"
)

// defaultRetryFile is where apply and bench leave the names of the hosts that failed or were
// unreachable, relative to the working directory, for `-limit @.perfprov/failed` (Ansible's retry
// files).
const defaultRetryFile = ".perfprov/failed"

// runFailures are the hosts of an apply run that failed or were unreachable, in host order. A
// host that was only planned (apply without -auto-approve that found nothing to change) failed when
// it could not be planned. Hosts the run did not start or that a SIGINT stopped are not failures:
// the run stopped, the host did not fail.
func runFailures(run *engine.Run) []string {
	var out []string
	for _, h := range run.Hosts {
		switch h.Status {
		case engine.StatusFailed, engine.StatusUnreachable:
			out = append(out, h.Name)
		case "", engine.StatusPlanned:
			if h.Err != nil || h.Count(engine.StatusFailed) > 0 {
				out = append(out, h.Name)
			}
		}
	}
	return out
}

// benchFailures are the hosts with a failed benchmark verdict, in report order, each once.
func benchFailures(reps []*bench.HostReport) []string {
	var out []string
	for _, r := range reps {
		if r.Verdict == bench.Fail && !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}

// union is a's names, then those of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// saveRetryFile records a finished run's failed hosts in env.retryFile, replacing what an earlier
// run left: one name a line after a comment line, written to a temporary file and renamed into
// place. A run where no host failed removes the file, so that `-limit @.perfprov/failed` then says
// there is nothing to retry instead of running the previous failures again. A run that was
// interrupted does not call it: its hosts neither failed nor converged, and the earlier list stays.
// It says on stderr where the names went (stdout may be a -json stream). A file that cannot be
// written is a warning: the run's own outcome stands.
func saveRetryFile(env *cliEnv, command string, failed []string) {
	path := env.retryFile
	if path == "" {
		return
	}
	if len(failed) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(env.stderr, "perfprov %s: warning: removing %s: %v\n", command, path, err)
		}
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# perfprov %s at %s: %s failed or unreachable (retry with -limit @%s)\n",
		command, env.now().UTC().Format("2006-01-02T15:04:05Z"), countHosts(len(failed)), path)
	for _, n := range failed {
		b.WriteString(n + "\n")
	}
	if err := privfile.WriteMode(path, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintf(env.stderr, "perfprov %s: warning: writing %s: %v\n", command, path, err)
		return
	}
	fmt.Fprintf(env.stderr, "perfprov %s: %s failed or unreachable; to retry only them: perfprov %s -limit @%s ...\n",
		command, countHosts(len(failed)), command, path)
}

// retryHint adds, to a -limit error about a missing retry file, why it may be missing.
func retryHint(env *cliEnv, err error) error {
	if err == nil || env.retryFile == "" || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !strings.Contains(err.Error(), "@"+env.retryFile+":") {
		return err
	}
	return fmt.Errorf("%w (apply and bench write it when a host fails or is unreachable, and remove it when none does: the last run left nothing to retry)", err)
}
