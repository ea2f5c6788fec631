package transport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/knownhosts"
)

// Persist keeps SSH connections open after a run, for the next run to use: the idea of
// OpenSSH's ControlPersist (which Ansible turns on for 60 s by default). A run then costs one
// round trip per host instead of a login. The connections live in a small daemon of the
// controller user (see ServePersist); a run reaches it over a Unix socket in a private directory
// and speaks SSH to it, so every command and SFTP transfer works as on a direct connection.
//
// What a persisted connection keeps is its login: the host key was checked when it was opened
// (it is opened again when a known_hosts file changes), and the login user's groups are those of
// that login. A run that changed a host therefore lets its connection go (Forget).
type Persist struct {
	// Idle is how long an unused connection stays open; 0 persists nothing.
	Idle time.Duration
	// Dir is the controller user's private directory (mode 0700) of the daemon's socket.
	Dir string
	// Daemon is the command that starts a daemon; the directory is appended as its last argument.
	Daemon []string
	// DaemonEnv is the daemon's whole environment (nil: an empty one). It needs none: what it
	// dials with comes in each request, so a secret in perfprov's environment (a password_env
	// variable) does not live on in a long-lived process.
	DaemonEnv []string
	// Warn, when set, is told in words why kept connections were refused for this run (a
	// directory or daemon that is not the caller's own: see persistDir), before the run connects
	// directly. It may be called once per host dialed; WarnOnce prints the first only.
	Warn func(msg string)
}

// WarnOnce is a Persist.Warn that writes the first message it is given to w as one line, and
// drops the rest: every host of a run meets the same refusal, the user needs to read it once.
func WarnOnce(w io.Writer) func(msg string) {
	var once sync.Once
	return func(msg string) { once.Do(func() { fmt.Fprintf(w, "perfprov: %s\n", msg) }) }
}

// DefaultPersistIdle is how long a connection outlives its run unless the spec says otherwise.
const DefaultPersistIdle = 60 * time.Second

// DefaultPersistDir is $XDG_RUNTIME_DIR/perfprov when that runtime directory is the effective
// user's own, else /run/perfprov for root and /tmp/perfprov-UID for others. A runtime directory
// of another user is ignored: root that kept a user's environment (sudo -E, su without -l) would
// otherwise put the socket of its logins, and the passwords it sends, where that user can swap
// the directory.
func DefaultPersistDir(getenv func(string) string) string {
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

// persistVersion changes whenever the daemon protocol does; it is part of the socket's name, so
// a newer perfprov never talks to an older daemon. Version 2: the run checks the daemon (its uid,
// its SSH host key) before it sends anything, and the request goes inside that SSH connection.
const persistVersion = 2

var (
	socketName = "s" + strconv.Itoa(persistVersion)
	keyName    = socketName + ".pub"
)

func socketPath(dir string) string { return filepath.Join(dir, socketName) }

// persistEndpoint is an Endpoint as the daemon receives it. The login password travels inside
// the SSH connection to the daemon, once the daemon is authenticated (see attachRequest), never
// in argv or the environment.
type persistEndpoint struct {
	Address              string   `json:"address"`
	Port                 int      `json:"port"`
	User                 string   `json:"user"`
	AgentSocket          string   `json:"agent_socket,omitempty"`
	IdentityFiles        []string `json:"identity_files,omitempty"`
	DefaultIdentityFiles []string `json:"default_identity_files,omitempty"`
	Password             string   `json:"password,omitempty"`
	KnownHosts           []string `json:"known_hosts,omitempty"`
	HostKeyMode          string   `json:"host_key_mode,omitempty"`
	HashNames            bool     `json:"hash_names,omitempty"` // accept-new records names hashed
	// KnownHostsSum is the sha256 of the known_hosts files' content: a connection opened under
	// other known_hosts content is not reused (an entry removed or replaced is checked again).
	KnownHostsSum string `json:"known_hosts_sum"`
}

// persistRequest asks the daemon for a connection: it returns the one it holds for the same
// settings (after a keepalive proves the host alive) or opens one.
type persistRequest struct {
	Version      int               `json:"version"`
	Name         string            `json:"name"`
	Target       persistEndpoint   `json:"target"`
	Jump         []persistEndpoint `json:"jump,omitempty"`
	Timeout      time.Duration     `json:"timeout"`
	Keepalive    time.Duration     `json:"keepalive"`
	KeepaliveMax int               `json:"keepalive_max"`
	MaxSessions  int               `json:"max_sessions"`
	Retries      int               `json:"retries"`
	Idle         time.Duration     `json:"idle"`
}

type persistResponse struct {
	Error string `json:"error,omitempty"`
}

func newPersistRequest(cfg SSHConfig) *persistRequest {
	ep := func(e Endpoint) persistEndpoint {
		return persistEndpoint{Address: e.Address, Port: e.port(), User: e.User,
			AgentSocket: e.Auth.AgentSocket, IdentityFiles: e.Auth.IdentityFiles,
			DefaultIdentityFiles: e.Auth.DefaultIdentityFiles, Password: e.Auth.Password,
			KnownHosts: e.HostKeys.Files, HostKeyMode: e.HostKeys.Mode, HashNames: e.HostKeys.HashNames, KnownHostsSum: filesSum(e.HostKeys.Files)}
	}
	r := &persistRequest{Version: persistVersion, Name: cfg.Name, Target: ep(cfg.Endpoint), Timeout: cfg.Timeout,
		Keepalive: cfg.Keepalive, KeepaliveMax: cfg.KeepaliveMax, MaxSessions: cfg.MaxSessions, Retries: cfg.Retries,
		Idle: cfg.Persist.Idle}
	for _, j := range cfg.Jump {
		r.Jump = append(r.Jump, ep(j))
	}
	return r
}

// filesSum hashes the content of files (a missing one counts as empty).
func filesSum(files []string) string {
	h := sha256.New()
	for _, f := range files {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canPersist says whether cfg's connection may go through the daemon: not with a dialer of the
// caller's own (tests) or a passphrase callback (it cannot travel).
func canPersist(cfg SSHConfig) bool {
	if cfg.Persist.Idle <= 0 || cfg.Persist.Dir == "" || len(cfg.Persist.Daemon) == 0 || cfg.DialContext != nil {
		return false
	}
	for _, e := range append([]Endpoint{cfg.Endpoint}, cfg.Jump...) {
		if e.Auth.Passphrase != nil {
			return false
		}
	}
	return true
}

// errNoDaemon is a daemon that could not be reached or started: the run connects directly.
type errNoDaemon struct{ err error }

func (e *errNoDaemon) Error() string { return "connection daemon: " + e.err.Error() }
func (e *errNoDaemon) Unwrap() error { return e.err }

// refusedError is kept connections turned down because the directory, a file in it or the daemon
// is not the caller's own: someone else may be listening there. Unlike a daemon that would not
// start, the user is told (Persist.Warn): it may be an attack, and it costs every run its logins.
type refusedError struct{ what, why string }

func (e *refusedError) Error() string { return e.what + " " + e.why }

func refusedDaemon(err error) bool {
	var r *refusedError
	return errors.As(err, &r)
}

// attachRequest carries the run's persistRequest (JSON) to the daemon, inside the SSH connection
// to it and only once the daemon has proved its key: a login's password never reaches a process
// that is not the daemon this user started.
const attachRequest = "attach@perfprov"

// dialPersisted gets cfg's connection from the daemon, starting the daemon if none runs, and says
// why (Persist.Warn) when it refuses the daemon's directory or the daemon itself.
func dialPersisted(ctx context.Context, cfg SSHConfig) (*SSHConn, error) {
	c, err := dialThroughDaemon(ctx, cfg)
	var refused *refusedError
	if errors.As(err, &refused) && cfg.Persist.Warn != nil {
		cfg.Persist.Warn("not keeping connections: " + refused.Error() + "; connecting directly")
	}
	return c, err
}

func dialThroughDaemon(ctx context.Context, cfg SSHConfig) (*SSHConn, error) {
	dir, err := openPersistDir(cfg.Persist.Dir)
	if err != nil {
		return nil, &errNoDaemon{err}
	}
	defer dir.Close()
	nc, err := dir.dial(ctx)
	if err != nil && !refusedDaemon(err) {
		if err = startDaemon(ctx, cfg.Persist, dir); err == nil {
			nc, err = dir.dial(ctx)
		}
	}
	if err != nil {
		return nil, &errNoDaemon{err}
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	sc, chans, reqs, err := dir.handshake(nc)
	if err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
		return nil, &errNoDaemon{err}
	}
	requests, lost := lostNotice(reqs)
	// The daemon answers within its own dial's time (timeout per attempt, retries, backoff);
	// a daemon that does not is given up on, and this run connects on its own.
	retries := max(cfg.Retries, 0)
	_ = nc.SetDeadline(time.Now().Add(time.Duration(retries+1)*(cfg.Timeout+2*time.Second) + 5*time.Second))
	resp, err := sendAttach(sc, newPersistRequest(cfg))
	if err != nil {
		sc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
		return nil, &errNoDaemon{err}
	}
	if resp.Error != "" {
		sc.Close()
		return nil, errors.New(resp.Error)
	}
	_ = nc.SetDeadline(time.Time{})
	return newSSHConn(cfg, ssh.NewClient(sc, chans, requests), nil, lost), nil
}

// handshake authenticates the daemon on nc: it must prove the key it wrote in the directory.
// Nothing of the run's (no request, no password) has been sent yet.
func (d *persistDir) handshake(nc net.Conn) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	pub, err := d.daemonKey()
	if err != nil {
		return nil, nil, nil, err
	}
	// A callback of its own rather than ssh.FixedHostKey: its error is known for what it is,
	// whatever the handshake wraps it in.
	var mismatch error
	check := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if !bytes.Equal(key.Marshal(), pub.Marshal()) {
			mismatch = &refusedError{"the connection daemon at " + filepath.Join(d.path, socketName),
				"did not prove the key in " + keyName + " (it presented " + ssh.FingerprintSHA256(key) + ")"}
			return mismatch
		}
		return nil
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewClientConn(nc, "perfprov-daemon", &ssh.ClientConfig{
		User: "perfprov", HostKeyCallback: check, HostKeyAlgorithms: []string{pub.Type()},
	})
	if mismatch != nil {
		return nil, nil, nil, mismatch
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("handshake with the connection daemon: %w", err)
	}
	return sc, chans, reqs, nil
}

// sendAttach asks the authenticated daemon for req's connection.
func sendAttach(sc ssh.Conn, req *persistRequest) (persistResponse, error) {
	var resp persistResponse
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	ok, payload, err := sc.SendRequest(attachRequest, true, b)
	if err != nil {
		return resp, fmt.Errorf("request to the connection daemon: %w", err)
	}
	if !ok {
		return resp, errors.New("the connection daemon refused the request")
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return resp, fmt.Errorf("the connection daemon's answer: %w", err)
	}
	return resp, nil
}

// lostRequest is the daemon's last word on a run's connection when the host's connection
// ended under it: the reason, in words, so the run reports that and not a bare end of stream.
const lostRequest = "lost@perfprov"

// lostNotice takes the daemon's lostRequest out of reqs; lost gives its reason (or nil) once
// reqs ends.
func lostNotice(reqs <-chan *ssh.Request) (<-chan *ssh.Request, <-chan error) {
	rest := make(chan *ssh.Request)
	lost := make(chan error, 1)
	go func() {
		defer close(rest)
		var why error
		for r := range reqs {
			if r.Type == lostRequest {
				why = errors.New(string(r.Payload))
				continue
			}
			rest <- r
		}
		lost <- why
	}()
	return rest, lost
}

// Forget asks that c's connection not outlive this run: for a host this run changed, whose
// login (its groups, say) may no longer be what the next run should see. Other connections
// (direct ones, local ones) are closed as usual.
func Forget(c Conn) {
	if sc := unwrapSSH(c); sc != nil && sc.persisted {
		_, _, _ = sc.client.SendRequest(forgetRequest, true, nil) // answered: the daemon knows before the close
	}
}

const forgetRequest = "forget@perfprov"

// CheckKeptHostKeys checks, when c is a kept connection (see Persist), the host keys the host has
// now: its sshd's public key files, as the facts read them (authorized_keys format). A kept
// connection had its key checked when it was opened; a key changed on the host since would be
// refused at a new login, so it is refused here too, the same way, and the connection let go.
// Only key types that known_hosts records for the host count, as at a login (the server is
// offered only those); a type passes when any of the host's keys of that type is the known one.
func CheckKeptHostKeys(c Conn, authorizedKeys []string) error {
	sc := unwrapSSH(c)
	if sc == nil || !sc.persisted {
		return nil
	}
	ep := sc.endpoint
	strict := knownhosts.Policy{Files: ep.HostKeys.Files, Mode: knownhosts.Strict} // check, never record
	check, algos, err := strict.Checker(ep.Address, ep.port())
	if err != nil {
		return err
	}
	byType := map[string][]ssh.PublicKey{}
	for _, line := range authorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		for _, a := range knownhosts.AlgorithmsFor(k.Type()) {
			if slices.Contains(algos, a) {
				byType[k.Type()] = append(byType[k.Type()], k)
				break
			}
		}
	}
	for _, keys := range byType {
		var first error
		for _, k := range keys {
			err := check("", nil, k)
			var unknown *knownhosts.UnknownHostError
			if err == nil || errors.As(err, &unknown) {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			Forget(c)
			return first
		}
	}
	return nil
}

// unwrapSSH returns the SSH connection under c's decorators, or nil.
func unwrapSSH(c Conn) *SSHConn {
	for {
		switch v := c.(type) {
		case *SSHConn:
			return v
		case interface{ Unwrap() Conn }:
			c = v.Unwrap()
		default:
			return nil
		}
	}
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
func (d *persistDir) daemonKey() (ssh.PublicKey, error) {
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
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
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
