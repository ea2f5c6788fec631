package debuglog

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/perfprov/perfprov/transport"
)

// Conn logs every command and transfer of inner: one line each at Debug (what, how long, the
// outcome), the whole script at Trace. It sits above become, so a script is logged as the
// resource wrote it, never with the sudo password that goes on its stdin; stdin itself is never
// logged. Conn returns inner itself when the log is off.
func Conn(inner transport.Conn, l *Log) transport.Conn {
	if !l.Enabled(Debug) {
		return inner
	}
	return &conn{inner: inner, log: l}
}

type conn struct {
	inner transport.Conn
	log   *Log
}

// Unwrap is the connection beneath (persist.Forget looks through decorators).
func (c *conn) Unwrap() transport.Conn { return c.inner }

func (c *conn) Host() string { return c.inner.Host() }

func (c *conn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	start := time.Now()
	res, err := c.inner.Run(ctx, cmd)
	d := time.Since(start)
	var outcome string
	switch {
	case err != nil:
		outcome = "error: " + err.Error()
	default:
		outcome = fmt.Sprintf("exit %d, %d bytes out, %d bytes err", res.ExitStatus, len(res.Stdout), len(res.Stderr))
	}
	c.log.Printf(Debug, "%s: command (%s) %s in %.3fs: %s", c.inner.Host(), kind(cmd), summary(cmd.Script), d.Seconds(), outcome)
	if c.log.Enabled(Trace) {
		c.log.Printf(Trace, "%s: script of that command (%d bytes):\n%s", c.inner.Host(), len(cmd.Script), cmd.Script)
		if res != nil && res.ExitStatus != 0 && len(res.Stderr) > 0 {
			c.log.Printf(Trace, "%s: its stderr:\n%s", c.inner.Host(), tail(res.Stderr, 2000))
		}
	}
	return res, err
}

func (c *conn) Upload(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error {
	start := time.Now()
	n := &counter{r: content}
	err := c.inner.Upload(ctx, path, n, mode)
	c.log.Printf(Debug, "%s: upload %s (mode %04o, %d bytes) in %.3fs: %s", c.inner.Host(), path, mode.Perm(), n.n, time.Since(start).Seconds(), errText(err))
	return err
}

func (c *conn) Download(ctx context.Context, path string, w io.Writer) error {
	start := time.Now()
	n := &countWriter{w: w}
	err := c.inner.Download(ctx, path, n)
	c.log.Printf(Debug, "%s: download %s (%d bytes) in %.3fs: %s", c.inner.Host(), path, n.n, time.Since(start).Seconds(), errText(err))
	return err
}

func (c *conn) Close() error {
	err := c.inner.Close()
	c.log.Printf(Debug, "%s: connection closed: %s", c.inner.Host(), errText(err))
	return err
}

// kind says how a command runs: as whom, and whether over the remote helper (quick).
func kind(cmd transport.Command) string {
	var parts []string
	switch {
	case cmd.RunAs != "":
		parts = append(parts, "as "+cmd.RunAs)
	case cmd.Privileged:
		parts = append(parts, "privileged")
	default:
		parts = append(parts, "login user")
	}
	if cmd.Quick {
		parts = append(parts, "quick")
	}
	if cmd.Changes {
		parts = append(parts, "changes the host")
	}
	if cmd.Stdin != nil {
		parts = append(parts, "with stdin")
	}
	if cmd.Timeout > 0 {
		parts = append(parts, "timeout "+cmd.Timeout.String())
	}
	return strings.Join(parts, ", ")
}

// summary is a script's first line that says something, and its size.
func summary(script string) string {
	first := ""
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "(" && line != "{" && !strings.HasPrefix(line, "LC_ALL=") && !strings.HasPrefix(line, "_pp_wd=") {
			first = line
			break
		}
	}
	if len(first) > 80 {
		first = first[:80] + "..."
	}
	return fmt.Sprintf("%q (%d bytes)", first, len(script))
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return "error: " + err.Error()
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
