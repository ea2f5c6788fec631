package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	pathpkg "path"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/run"
	"github.com/perfprov/perfprov/transport/internal/script"
)

// errNoSFTP is a server without the SFTP subsystem: files then go through the shell.
var errNoSFTP = errors.New("no sftp subsystem")

// sftpClient opens SFTP on the connection once, lazily, on the channel kept for it. When the
// server refuses it (its MaxSessions is lower than configured and commands hold every channel),
// it waits for room.
func (c *Conn) sftpClient(ctx context.Context) (*sftp.Client, error) {
	c.sftpMu.Lock()
	defer c.sftpMu.Unlock()
	if c.sftp != nil {
		return c.sftp, nil
	}
	backoff := 20 * time.Millisecond
	for {
		select {
		case <-c.closed:
			return nil, c.deadErr()
		default:
		}
		t0 := time.Now()
		sc, err := sftp.NewClient(c.client)
		if c.log != nil {
			c.log("%s: channel session (sftp subsystem): opened in %.3fs%s", c.name, time.Since(t0).Seconds(), errSuffix(err))
		}
		if err == nil {
			c.sftp = sc
			return sc, nil
		}
		if strings.Contains(err.Error(), "subsystem request failed") {
			return nil, errNoSFTP
		}
		if !isRefused(err) {
			return nil, fmt.Errorf("%s: start sftp: %w", c.name, c.sftpErr(err))
		}
		c.limit.refused()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: start sftp: %w", c.name, ctx.Err())
		}
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

// tempName is a name beside path for the upload in progress: hidden, unique, and in the same
// directory so that the rename is atomic.
func tempName(path string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	dir, base := pathpkg.Split(path)
	return dir + "." + base + ".perfprov-" + hex.EncodeToString(b[:])
}

// tempFile is the name of the upload in progress inside its private directory (tempName).
const tempFile = ".perfprov-upload"

// Upload writes content to path atomically through SFTP (through the shell when the server has no
// SFTP subsystem).
//
// SFTP as pkg/sftp speaks it cannot give a mode when it creates a file: the server creates it 0666
// less its umask, usually readable by everyone, and a reader who opens it in the moment before a
// chmod keeps reading whatever is written after it. So the file is created inside a directory of
// its own beside the target, made 0700 before the file exists: permissions on a directory are
// checked at every lookup, so nobody else can open anything in it whatever they held before. The
// file gets its final mode there and is renamed over the target (same filesystem: atomic).
func (c *Conn) Upload(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error {
	if err := script.CheckPath(c.name, path); err != nil {
		return err
	}
	sc, err := c.sftpClient(ctx)
	if errors.Is(err, errNoSFTP) {
		return c.uploadViaShell(ctx, path, content, mode)
	}
	if err != nil {
		return err
	}
	dir := tempName(path)
	if err := privateDir(sc, dir); err != nil {
		return fmt.Errorf("%s: upload %s: %w", c.name, path, c.sftpErr(explainFailure(sc, dir, err)))
	}
	err = c.uploadIn(ctx, sc, dir+"/"+tempFile, path, content, mode)
	removeTemp(sc, dir)
	if err != nil {
		return err
	}
	removeStaleTemps(sc, path)
	return nil
}

// privateDir creates dir and makes it 0700 before anything is put in it (Mkdir, like open, takes
// the server's default mode).
func privateDir(sc *sftp.Client, dir string) error {
	if err := sc.Mkdir(dir); err != nil {
		return fmt.Errorf("private directory %s: %w", dir, err)
	}
	if err := sc.Chmod(dir, 0o700); err != nil {
		_ = sc.RemoveDirectory(dir)
		return fmt.Errorf("private directory %s: make it 0700: %w", dir, err)
	}
	return nil
}

// uploadIn writes content to tmp (in a private directory), gives it mode and renames it to path.
func (c *Conn) uploadIn(ctx context.Context, sc *sftp.Client, tmp, path string, content io.Reader, mode fs.FileMode) error {
	f, err := sc.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("%s: upload %s: %w", c.name, path, c.sftpErr(explainFailure(sc, tmp, err)))
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	fail := func(err error) error {
		stop()
		f.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		err = explainFailure(sc, tmp, err) // before the removal frees the space
		_ = sc.Remove(tmp)
		return fmt.Errorf("%s: upload %s: %w", c.name, path, c.sftpErr(err))
	}
	if _, err := f.ReadFrom(content); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil && !isUnsupported(err) {
		return fail(err)
	}
	if !stop() {
		return fail(ctx.Err())
	}
	if err := f.Close(); err != nil {
		err = explainFailure(sc, tmp, err)
		_ = sc.Remove(tmp)
		return fmt.Errorf("%s: upload %s: %w", c.name, path, c.sftpErr(err))
	}
	if err := sc.PosixRename(tmp, path); err != nil {
		_ = sc.Remove(tmp)
		return fmt.Errorf("%s: upload %s: rename into place: %w", c.name, path, c.sftpErr(err))
	}
	return nil
}

// removeTemp removes an upload's private directory and the file in it, if still there.
func removeTemp(sc *sftp.Client, dir string) {
	if sc.RemoveDirectory(dir) == nil {
		return
	}
	_ = sc.Remove(dir + "/" + tempFile)
	_ = sc.RemoveDirectory(dir)
}

// removeStaleTemps removes the temporary files and directories of uploads to path that a killed
// run left beside it (runs on a host are serialised by its lock, so none of them is in progress).
// A directory is entered only when Lstat says it is one, not a symbolic link someone put there.
func removeStaleTemps(sc *sftp.Client, path string) {
	dir, base := pathpkg.Split(path)
	stale, err := sc.Glob(dir + "." + escapeGlob(base) + ".perfprov-*")
	if err != nil {
		return
	}
	for _, p := range stale {
		if fi, err := sc.Lstat(p); err == nil && fi.IsDir() {
			removeTemp(sc, p)
			continue
		}
		_ = sc.Remove(p)
	}
}

// escapeGlob makes s match itself in a glob pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// uploadViaShell is Upload for servers without SFTP: the same temporary file and rename, done by
// a script that reads the content on stdin.
func (c *Conn) uploadViaShell(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error {
	res, err := c.Run(ctx, transport.Command{Script: script.AtomicWrite("/dev/stdin", path, mode), Stdin: content})
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("%s: upload %s: %s", c.name, path, run.FirstLine(res.Stderr))
	}
	return nil
}

// explainFailure puts a cause in words on SSH_FX_FAILURE, the status OpenSSH's sftp-server gives
// for every errno it has no code for (a full disk among them). The filesystem's free space, asked
// with the statvfs@openssh.com extension, tells the commonest one apart; other failures say that
// the server gave no cause.
func explainFailure(sc *sftp.Client, path string, err error) error {
	var se *sftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure {
		return err
	}
	dir := pathpkg.Dir(path)
	st, serr := sc.StatVFS(dir)
	switch {
	case serr == nil && st.Bavail == 0:
		return fmt.Errorf("%w: the filesystem of %s is full", syscall.ENOSPC, dir)
	case serr == nil && st.Favail == 0:
		return fmt.Errorf("%w: the filesystem of %s has no free inodes", syscall.ENOSPC, dir)
	}
	return fmt.Errorf("the host's SFTP server failed without giving a cause (SSH_FX_FAILURE; not a full disk, not a permission): %w", err)
}

func isUnsupported(err error) bool {
	var se *sftp.StatusError
	return errors.As(err, &se) && se.FxCode() == sftp.ErrSSHFxOpUnsupported
}

func (c *Conn) sftpErr(err error) error {
	if d := c.deadErr(); d != nil {
		select {
		case <-c.closed:
			return d
		default:
		}
	}
	return err
}

// Download copies the file at path into w through SFTP.
func (c *Conn) Download(ctx context.Context, path string, w io.Writer) error {
	sc, err := c.sftpClient(ctx)
	if errors.Is(err, errNoSFTP) {
		res, err := c.Run(ctx, transport.Command{Script: "cat -- " + shell.Quote(path), Stdout: w})
		if err != nil {
			return err
		}
		if !res.OK() {
			return fmt.Errorf("%s: download %s: %s", c.name, path, run.FirstLine(res.Stderr))
		}
		return nil
	}
	if err != nil {
		return err
	}
	f, err := sc.Open(path)
	if err != nil {
		return fmt.Errorf("%s: download %s: %w", c.name, path, c.sftpErr(err))
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	if _, err := f.WriteTo(w); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("%s: download %s: %w", c.name, path, c.sftpErr(err))
	}
	return ctx.Err()
}
