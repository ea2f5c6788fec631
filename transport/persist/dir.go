package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultDir is $XDG_RUNTIME_DIR/perfprov when that runtime directory is the effective
// user's own, else /run/perfprov for root and /tmp/perfprov-UID for others. A runtime directory
// of another user is ignored: root that kept a user's environment (sudo -E, su without -l) would
// otherwise put the socket of its logins, and the passwords it sends, where that user can swap
// the directory.
func DefaultDir(getenv func(string) string) string {
	euid := os.Geteuid()
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) && ownDir(d, euid) {
		return filepath.Join(d, "perfprov")
	}
	if euid == 0 && ownDir("/run", 0) {
		return "/run/perfprov"
	}
	return filepath.Join(os.TempDir(), "perfprov-"+strconv.Itoa(euid))
}

// ownDir says whether path is a directory (not a symbolic link to one) of uid that no one else
// may write to, or, when it does not exist yet, whether its nearest existing parent is: the
// directory perfprov then makes there is out of other users' reach too.
func ownDir(path string, uid int) bool {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) && filepath.Dir(path) != path {
		return ownDir(filepath.Dir(path), uid)
	}
	if err != nil || !fi.IsDir() {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid && fi.Mode().Perm()&0o022 == 0
}

// persistDir is the daemon's directory, opened once and checked on the descriptor: the socket
// and every file in it are reached through that descriptor (openat, /proc/self/fd/N/NAME for the
// socket), so a directory swapped for a symbolic link or another one after the check is never
// used. It must be the effective user's own, mode 0700: its socket is as good as the user's SSH
// logins.
type persistDir struct {
	path string
	f    *os.File
}

// openPersistDir makes path if needed and opens it, refusing (refusedError) a symbolic link,
// something else than a directory, a directory of another user or one others may enter.
func openPersistDir(path string) (*persistDir, error) {
	const flags = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	fd, err := syscall.Open(path, flags, 0)
	if errors.Is(err, syscall.ENOENT) {
		// Made here, then opened like one found: a directory raced into its place is refused.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := syscall.Mkdir(path, 0o700); err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, &os.PathError{Op: "mkdir", Path: path, Err: err}
		}
		fd, err = syscall.Open(path, flags, 0)
	}
	// O_NOFOLLOW with O_DIRECTORY refuses a symbolic link as ENOTDIR: Lstat tells which it is
	// (for the message only).
	fi, lerr := os.Lstat(path)
	switch {
	case err != nil && lerr == nil && fi.Mode()&os.ModeSymlink != 0:
		return nil, &refusedError{path, "is a symbolic link, not a directory of your own"}
	case errors.Is(err, syscall.ENOTDIR):
		return nil, &refusedError{path, "is not a directory"}
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	d := &persistDir{path: path, f: os.NewFile(uintptr(fd), path)}
	if err := checkOwn(d.f, path, syscall.S_IFDIR, "0700 (others could reach the socket of your SSH logins in it)"); err != nil {
		d.f.Close()
		return nil, err
	}
	return d, nil
}

func (d *persistDir) Close() error { return d.f.Close() }

// checkOwn refuses f (at path) unless it is of kind (S_IFDIR, S_IFREG), the effective user's,
// and without group or other bits.
func checkOwn(f *os.File, path string, kind uint32, want string) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	euid := os.Geteuid()
	switch {
	case st.Mode&syscall.S_IFMT != kind:
		return &refusedError{path, "is not a directory or regular file as expected"}
	case int(st.Uid) != euid:
		return &refusedError{path, fmt.Sprintf("is owned by uid %d, not by you (uid %d)", st.Uid, euid)}
	case st.Mode&0o077 != 0:
		return &refusedError{path, fmt.Sprintf("has mode %04o, want %s", st.Mode&0o7777, want)}
	}
	return nil
}

// at names name in the directory through its descriptor: for a socket, whose bind and connect
// take a path (and one of at most 107 bytes, which this one is whatever the directory's length).
func (d *persistDir) at(name string) string {
	return "/proc/self/fd/" + strconv.Itoa(int(d.f.Fd())) + "/" + name
}

// open opens name in the directory, never through a symbolic link.
func (d *persistDir) open(name string, flags int, perm uint32) (*os.File, error) {
	path := filepath.Join(d.path, name)
	fd, err := syscall.Openat(int(d.f.Fd()), name, flags|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &refusedError{path, "is a symbolic link"}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// remove removes name from the directory, if there.
func (d *persistDir) remove(name string) error {
	if err := syscall.Unlinkat(int(d.f.Fd()), name); err != nil && !errors.Is(err, syscall.ENOENT) {
		return &os.PathError{Op: "remove", Path: filepath.Join(d.path, name), Err: err}
	}
	return nil
}

// daemonKey reads the daemon's public key, from a file of the user's own.
func (d *persistDir) daemonKey() (gossh.PublicKey, error) {
	f, err := d.open(keyName, syscall.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkOwn(f, f.Name(), syscall.S_IFREG, "0600"); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return pub, nil
}

// dial connects to the daemon's socket and checks, before anything is sent, that the process
// listening is the effective user's (SO_PEERCRED: the uid that made the socket listen).
func (d *persistDir) dial(ctx context.Context) (net.Conn, error) {
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "unix", d.at(socketName))
	if err != nil {
		return nil, err
	}
	cred, err := peerCred(nc.(*net.UnixConn))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if euid := os.Geteuid(); int(cred.Uid) != euid {
		nc.Close()
		return nil, &refusedError{"the connection daemon at " + filepath.Join(d.path, socketName),
			fmt.Sprintf("runs as uid %d, not as you (uid %d)", cred.Uid, euid)}
	}
	return nc, nil
}

// peerCred is the process at the other end of a Unix socket.
func peerCred(nc *net.UnixConn) (*syscall.Ucred, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	return cred, nil
}

// writePrivate writes name (mode 0600) whole or not at all: a run never reads half a key.
func (d *persistDir) writePrivate(name string, b []byte) error {
	tmp := name + ".tmp"
	f, err := d.open(tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	if err := syscall.Renameat(int(d.f.Fd()), tmp, int(d.f.Fd()), name); err != nil {
		return fmt.Errorf("rename %s: %w", f.Name(), err)
	}
	return nil
}
