package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/perfprov/perfprov/internal/testbed"
)

// TestAskBecomePass: perfprov apply -K on a terminal (a pty) with two hosts that log in as bob,
// whose sudo needs his password: the password is asked once, without echo, the plan is confirmed
// with yes, and root's work is done on both hosts. While it runs, no process's argv or
// environment holds the password, on the controller or on the hosts, and afterwards no file of the
// run does (its trace-level debug log included), nor its output. Without a terminal, -K fails at once and says why.
func TestAskBecomePass(t *testing.T) {
	lab, hs := faultHosts(t)
	hs = hs[:2]
	work, sp := t.TempDir(), filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "become")
	inv := faultInventory(t, lab, "", hs...)
	b, err := os.ReadFile(inv)
	if err != nil {
		t.Fatal(err)
	}
	root := regexp.MustCompile(`(?m)^(\s*user\s*=\s*)"root"`)
	if !root.Match(b) {
		t.Fatalf("the inventory names no root login:\n%s", b)
	}
	if err := os.WriteFile(inv, root.ReplaceAll(b, []byte(`${1}"bob"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	const pw = testbed.BobPassword

	// The debug log at its most detailed goes into work too, where no file may hold the password.
	cmd := exec.Command(perfprovBin, "apply", "-K", "-log-file", filepath.Join(work, "debug.log"), "-inventory", inv, sp)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "PERFPROV_LOG=trace", "XDG_CACHE_HOME="+filepath.Join(work, "cache"), "XDG_RUNTIME_DIR="+filepath.Join(work, "run"))
	if err := os.MkdirAll(filepath.Join(work, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	screen := &ptyScreen{}
	done := make(chan error, 1)
	go func() {
		_, _ = io.Copy(screen, tty) // ends with EIO when perfprov exits
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	screen.waitFor(t, "BECOME password: ")
	if _, err := tty.WriteString(pw + "\r"); err != nil {
		t.Fatal(err)
	}
	screen.waitFor(t, "Only 'yes' is accepted: ")
	if _, err := tty.WriteString("yes\r"); err != nil {
		t.Fatal(err)
	}
	sawSudo := false
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("perfprov apply -K: %v\n%s", err, screen)
			}
			running = false
		case <-time.After(200 * time.Millisecond):
			if pid := processHolding(pw); pid != "" {
				t.Errorf("the password is in the argv or environment of process %s on the controller", pid)
			}
			for _, h := range hs {
				ps, _ := hostTry(t, lab, h, "ps -eo args")
				sawSudo = sawSudo || strings.Contains(ps, "sleep 3")
				all, _ := hostTry(t, lab, h, `for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do cat "$f" 2>/dev/null; echo; done | tr '\0' ' '`)
				if strings.Contains(all, pw) {
					t.Errorf("%s: the password is in a process's argv or environment", h)
				}
			}
		}
	}
	out := screen.String()
	if strings.Count(out, "BECOME password: ") != 1 || strings.Contains(out, pw) {
		t.Errorf("want one prompt and no echo of the password:\n%s", out)
	}
	if !strings.Contains(out, "Recap:") {
		t.Errorf("no recap:\n%s", out)
	}
	if !sawSudo {
		t.Error("never saw the command run: the process lists were not read while it ran")
	}
	for _, h := range hs {
		if got := hostExec(t, lab, h, "stat -c %U /opt/fault/become.done"); strings.TrimSpace(got) != "root" {
			t.Errorf("%s: /opt/fault/become.done is owned by %q, want root (made through sudo)", h, got)
		}
	}
	if f := fileHolding(t, work, pw); f != "" {
		t.Errorf("the password is on disk in %s", f)
	}
	if st, err := os.Stat(filepath.Join(work, "debug.log")); err != nil || st.Size() == 0 {
		t.Errorf("no debug log was written to look into: %v", err)
	}

	// No terminal (a new session: no controlling tty, stdin not a terminal either): a clear error.
	nt := exec.Command(perfprovBin, "apply", "-auto-approve", "-K", "-inventory", inv, sp)
	nt.Dir, nt.Env = work, cmd.Env
	nt.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	msg, err := nt.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(msg, []byte("perfprov apply: -ask-become-pass: no terminal to ask on (open /dev/tty: ")) ||
		!bytes.Contains(msg, []byte("become_password_env")) {
		t.Errorf("-K without a terminal: %v\n%s", err, msg)
	}
}

// ptyScreen is what the terminal showed so far.
type ptyScreen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *ptyScreen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *ptyScreen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits up to a minute for text on the screen.
func (s *ptyScreen) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%q did not appear:\n%s", text, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processHolding is the pid of a process on this machine whose argv or environment holds s.
func processHolding(s string) string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		for _, f := range []string{"cmdline", "environ"} {
			if b, err := os.ReadFile(filepath.Join(d, f)); err == nil && bytes.Contains(b, []byte(s)) {
				return filepath.Base(d)
			}
		}
	}
	return ""
}

// fileHolding is a file under dir that holds s.
func fileHolding(t *testing.T, dir, s string) string {
	t.Helper()
	found := ""
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found != "" || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
			found = p
		}
		return nil
	})
	return found
}
