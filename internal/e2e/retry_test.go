package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRetryFailedHosts: an apply where one host's sshd is stopped lists that host, and only it,
// in .perfprov/failed; once sshd is back, `-limit @.perfprov/failed` applies to exactly that host
// and, nothing failing, removes the file; a retry then says there is nothing to retry.
func TestRetryFailedHosts(t *testing.T) {
	lab, hs := faultHosts(t)
	work, inv := t.TempDir(), faultInventory(t, lab, "", hs...)
	sp := filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "retry")
	down := hs[1]
	if err := lab.StopSSHD(ctxT(t), down); err != nil {
		t.Fatal(err)
	}
	sshdUp := false
	t.Cleanup(func() {
		if !sshdUp {
			_ = lab.StartSSHD(ctxT(t), down)
		}
	})

	r := perfprov(t, work, "apply", "-auto-approve", "-json", "-inventory", inv, sp)
	mustCode(t, r, 1, "apply with one host's sshd stopped")
	checkOutcome(t, r, []string{hs[0], hs[2]}, down, down, "connection refused")
	retryFile := filepath.Join(work, ".perfprov", "failed")
	b, err := os.ReadFile(retryFile)
	if err != nil {
		t.Fatalf("no retry file after a failed apply: %v\n%s", err, r.out)
	}
	if names := retryNames(string(b)); !slices.Equal(names, []string{down}) {
		t.Errorf("the retry file names %q, want [%s]:\n%s", names, down, b)
	}
	if !strings.Contains(r.out, "to retry only them: perfprov apply -limit @.perfprov/failed") {
		t.Errorf("the apply does not say how to retry:\n%s", r.out)
	}

	if err := lab.StartSSHD(ctxT(t), down); err != nil {
		t.Fatal(err)
	}
	sshdUp = true
	for _, h := range []string{hs[0], hs[2]} { // so that a run that touched them would show
		hostExec(t, lab, h, "rm /opt/fault/retry")
	}
	r = perfprov(t, work, "apply", "-auto-approve", "-json", "-limit", "@.perfprov/failed", "-inventory", inv, sp)
	mustCode(t, r, 0, "the retry")
	var ran []string
	for h := range summaries(r.out) {
		ran = append(ran, h)
	}
	if !slices.Equal(ran, []string{down}) {
		t.Errorf("the retry ran on %q, want only %s:\n%s", ran, down, r.out)
	}
	if got := hostExec(t, lab, down, "cat /opt/fault/retry"); strings.TrimSpace(got) != down {
		t.Errorf("%s: /opt/fault/retry holds %q", down, got)
	}
	for _, h := range []string{hs[0], hs[2]} {
		if _, ok := hostTry(t, lab, h, "test -e /opt/fault/retry"); ok {
			t.Errorf("%s, not in the retry file, was applied", h)
		}
	}
	if _, err := os.Stat(retryFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the retry converged but left %s: %v", retryFile, err)
	}

	r = perfprov(t, work, "apply", "-auto-approve", "-json", "-limit", "@.perfprov/failed", "-inventory", inv, sp)
	if r.code == 0 || !strings.Contains(r.out, "-limit @.perfprov/failed: open .perfprov/failed: no such file or directory") ||
		!strings.Contains(r.out, "the last run left nothing to retry") {
		t.Errorf("a retry with nothing to retry: exit %d\n%s", r.code, r.out)
	}
}

// retryNames are the host names of a retry file: its lines less blank ones and comments.
func retryNames(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
