package resource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/transport"
)

// fakeHost is a directory of commands that stands for another distribution's tools: each fake
// logs its name and arguments (one line, each argument in brackets) and runs its body; real
// tools can be linked in. Scripts run with only that directory on PATH, under the shell given
// (busybox sh is Alpine's), so a command the fake host lacks (useradd, runuser...) really is
// missing there.
type fakeHost struct {
	dir, log string
}

func newFakeHost(t *testing.T, fakes map[string]string, real ...string) *fakeHost {
	t.Helper()
	h := &fakeHost{dir: filepath.Join(t.TempDir(), "bin"), log: filepath.Join(t.TempDir(), "calls")}
	if err := os.Mkdir(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range fakes {
		script := "#!/bin/sh\n{ printf '%s' \"${0##*/}\"; for a; do printf ' [%s]' \"$a\"; done; echo; } >> '" + h.log + "'\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(h.dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range real {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(h.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// run runs script with sh ("busybox sh", "dash"...) and only the fake directory on PATH.
func (h *fakeHost) run(t *testing.T, sh, script string) (stdout, stderr string, status int) {
	t.Helper()
	argv := strings.Fields(sh)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	cmd := exec.Command(path, append(argv[1:], "-c", script)...)
	cmd.Env = []string{"PATH=" + h.dir}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), status
}

// calls are the fake commands' invocations so far, in order.
func (h *fakeHost) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(h.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// fakeShells are the shells the scripts are run under: busybox ash (Alpine's /bin/sh) and dash
// (Debian's).
var fakeShells = []string{"busybox sh", "dash"}

// scriptConn is a transport.Conn whose commands run through run (a fake host's shell).
type scriptConn struct {
	run func(script string) (stdout string, status int)
}

func (c *scriptConn) Run(_ context.Context, cmd transport.Command) (*transport.Result, error) {
	out, st := c.run(cmd.Script)
	return &transport.Result{Stdout: []byte(out), ExitStatus: st}, nil
}

func (c *scriptConn) Upload(context.Context, string, io.Reader, fs.FileMode) error {
	return errors.New("not supported")
}
func (c *scriptConn) Download(context.Context, string, io.Writer) error {
	return errors.New("not supported")
}
func (c *scriptConn) Host() string { return "fake" }
func (c *scriptConn) Close() error { return nil }
