package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/perfprov/perfprov/transport"
)

// localConn runs commands on this machine, switching users with runuser (the test runs as root).
// It stands in for an SSH connection with sudo in tests of the on-host procedure.
type localConn struct{ host string }

func (c *localConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	argv := []string{"/bin/sh", "-c", cmd.Script}
	if cmd.RunAs != "" {
		argv = append([]string{"runuser", "-u", cmd.RunAs, "--"}, argv...)
	}
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	x := exec.CommandContext(ctx, argv[0], argv[1:]...)
	x.Dir = "/"
	x.Stdout, x.Stderr = &stdout, &stderr
	err := x.Run()
	var ee *exec.ExitError
	res := &transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		res.ExitStatus = ee.ExitCode()
	default:
		return nil, errors.New(c.host + ": " + strings.TrimSpace(err.Error()))
	}
	return res, nil
}

func (c *localConn) Upload(context.Context, string, io.Reader, fs.FileMode) error {
	return errors.New("not supported")
}
func (c *localConn) Download(context.Context, string, io.Writer) error {
	return errors.New("not supported")
}
func (c *localConn) Host() string { return c.host }
func (c *localConn) Close() error { return nil }
