// Package local is the transport on the controller itself (type = "local"), for one-shot bootstrap.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/run"
	"github.com/perfprov/perfprov/transport/internal/script"
)

// Local is a Conn on the controller itself, for type = "local": the same contract as SSH, with
// os/exec of /bin/sh -c and files written through a temporary file and a rename.
type Local struct {
	name string
	user string
}

var _ transport.Conn = (*Local)(nil)

// New returns the controller as a connection named name.
func New(name string) (*Local, error) {
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("%s: current user: %w", name, err)
	}
	return &Local{name: name, user: u.Username}, nil
}

// Host returns the host's name in messages.
func (l *Local) Host() string { return l.name }

// User returns the user perfprov runs as.
func (l *Local) User() string { return l.user }

// Close does nothing: commands end with their contexts.
func (l *Local) Close() error { return nil }

// localEnv is the environment of local commands: what sshd would give a login, and nothing of the
// controller's own environment, which holds the secrets that password_env names.
func localEnv() []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, k := range []string{"HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Run runs cmd with /bin/sh -c on the controller.
func (l *Local) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if err := run.CheckPrivilege(l.name, l.user, cmd); err != nil {
		return nil, err
	}
	text, err := script.WithEnv(cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	// The script goes on stdin, not in argv, where every local user could read it.
	argv, stdin := []string{"-c", script.AsUser(l.user, cmd.RunAs, script.StdinBoot)}, script.Framed(text, cmd.Stdin)
	return run.Supervise(ctx, l.name, cmd, func(ctx context.Context, stdout, stderr io.Writer) (func() error, func(), error) {
		c := exec.Command("/bin/sh", argv...)
		c.Env = localEnv()
		c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
		// Its own process group, so that a cancel reaches the children of the shell too.
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.WaitDelay = time.Second
		if err := c.Start(); err != nil {
			return nil, nil, fmt.Errorf("%s: start command: %w", l.name, err)
		}
		stop := func() {
			pgid := c.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			time.AfterFunc(time.Second, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		}
		return c.Wait, stop, nil
	}, func(err error) (int, bool) {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return 0, false
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ee.ExitCode(), true
	})
}

// ctxReader ends a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Upload writes content to path through a temporary file in the same directory and a rename.
func (l *Local) Upload(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error {
	if err := script.CheckPath(l.name, path); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".perfprov-*")
	if err != nil {
		return fmt.Errorf("%s: upload %s: %w", l.name, path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: upload %s: %w", l.name, path, err)
	}
	if _, err := io.Copy(f, ctxReader{ctx, content}); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: upload %s: %w", l.name, path, err)
	}
	return nil
}

// Download copies the file at path into w.
func (l *Local) Download(ctx context.Context, path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: download %s: %w", l.name, path, err)
	}
	defer f.Close()
	if _, err := io.Copy(w, ctxReader{ctx, f}); err != nil {
		return fmt.Errorf("%s: download %s: %w", l.name, path, err)
	}
	return nil
}
