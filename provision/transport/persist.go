package transport

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
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
}

// DefaultPersistIdle is how long a connection outlives its run unless the spec says otherwise.
const DefaultPersistIdle = 60 * time.Second

// DefaultPersistDir is $XDG_RUNTIME_DIR/perfprov, or /tmp/perfprov-UID without it.
func DefaultPersistDir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "perfprov")
	}
	return filepath.Join(os.TempDir(), "perfprov-"+strconv.Itoa(os.Geteuid()))
}

// persistVersion changes whenever the daemon protocol does; it is part of the socket's name, so
// a newer perfprov never talks to an older daemon.
const persistVersion = 1

func socketPath(dir string) string { return filepath.Join(dir, "s"+strconv.Itoa(persistVersion)) }
func daemonKeyPath(dir string) string {
	return filepath.Join(dir, "s"+strconv.Itoa(persistVersion)+".pub")
}

// persistEndpoint is an Endpoint as the daemon receives it. The login password travels over the
// private socket, never in argv or the environment.
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

// key names the connection a request may share: every setting of the login, none of the timings.
func (r *persistRequest) key() string {
	k := *r
	k.Timeout, k.Keepalive, k.KeepaliveMax, k.Retries, k.Idle, k.MaxSessions = 0, 0, 0, 0, 0, 0
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *persistRequest) config() SSHConfig {
	ep := func(p persistEndpoint) Endpoint {
		return Endpoint{Address: p.Address, Port: p.Port, User: p.User,
			Auth: Auth{AgentSocket: p.AgentSocket, IdentityFiles: p.IdentityFiles,
				DefaultIdentityFiles: p.DefaultIdentityFiles, Password: p.Password},
			HostKeys: HostKeyPolicy{Files: p.KnownHosts, Mode: p.HostKeyMode}}
	}
	cfg := SSHConfig{Name: r.Name, Endpoint: ep(r.Target), Timeout: r.Timeout, Keepalive: r.Keepalive,
		KeepaliveMax: r.KeepaliveMax, MaxSessions: r.MaxSessions, Retries: r.Retries}
	for _, j := range r.Jump {
		cfg.Jump = append(cfg.Jump, ep(j))
	}
	return cfg
}

func newPersistRequest(cfg SSHConfig) *persistRequest {
	ep := func(e Endpoint) persistEndpoint {
		return persistEndpoint{Address: e.Address, Port: e.port(), User: e.User,
			AgentSocket: e.Auth.AgentSocket, IdentityFiles: e.Auth.IdentityFiles,
			DefaultIdentityFiles: e.Auth.DefaultIdentityFiles, Password: e.Auth.Password,
			KnownHosts: e.HostKeys.Files, HostKeyMode: e.HostKeys.Mode, KnownHostsSum: filesSum(e.HostKeys.Files)}
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

// dialPersisted gets cfg's connection from the daemon, starting the daemon if none runs.
func dialPersisted(ctx context.Context, cfg SSHConfig) (*SSHConn, error) {
	dir := cfg.Persist.Dir
	if err := privateDir(dir); err != nil {
		return nil, &errNoDaemon{err}
	}
	nc, err := dialDaemon(ctx, dir)
	if err != nil {
		if err := startDaemon(ctx, cfg.Persist); err != nil {
			return nil, &errNoDaemon{err}
		}
		if nc, err = dialDaemon(ctx, dir); err != nil {
			return nil, &errNoDaemon{err}
		}
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	req := newPersistRequest(cfg)
	var resp persistResponse
	// The daemon answers within its own dial's time (timeout per attempt, retries, backoff);
	// a daemon that does not is given up on, and this run connects on its own.
	retries := max(cfg.Retries, 0)
	_ = nc.SetDeadline(time.Now().Add(time.Duration(retries+1)*(cfg.Timeout+2*time.Second) + 5*time.Second))
	if err := writeFrame(nc, req); err != nil {
		nc.Close()
		return nil, &errNoDaemon{err}
	}
	if err := readFrame(nc, &resp); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, ctx.Err())
		}
		return nil, &errNoDaemon{err}
	}
	if resp.Error != "" {
		nc.Close()
		return nil, errors.New(resp.Error)
	}
	key, err := os.ReadFile(daemonKeyPath(dir))
	if err != nil {
		nc.Close()
		return nil, &errNoDaemon{err}
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(key)
	if err != nil {
		nc.Close()
		return nil, &errNoDaemon{err}
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc, chans, reqs, err := ssh.NewClientConn(nc, "perfprov-daemon", &ssh.ClientConfig{
		User:            "perfprov",
		HostKeyCallback: ssh.FixedHostKey(pub),
	})
	if err != nil {
		nc.Close()
		return nil, &errNoDaemon{err}
	}
	_ = nc.SetDeadline(time.Time{})
	requests, lost := lostNotice(reqs)
	return newSSHConn(cfg, ssh.NewClient(sc, chans, requests), nil, lost), nil
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
	strict := HostKeyPolicy{Files: ep.HostKeys.Files, Mode: HostKeyStrict} // check, never record
	check, algos, err := strict.checker(ep.Address, ep.port())
	if err != nil {
		return err
	}
	byType := map[string][]ssh.PublicKey{}
	for _, line := range authorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		for _, a := range algorithmsFor(k.Type()) {
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
			var unknown *HostKeyUnknownError
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

// privateDir makes dir if needed and refuses one that others could write to or that is not the
// caller's: the socket in it is as good as the caller's SSH logins.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s must be a directory of user %d with mode 0700 (it holds the socket of open SSH connections)", dir, os.Geteuid())
	}
	return nil
}

func dialDaemon(ctx context.Context, dir string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", socketPath(dir))
}

// startDaemon starts the daemon unless another process did meanwhile (a lock file orders them),
// and waits until it listens. The daemon gets a session of its own, so that the terminal's
// Ctrl-C does not reach it, and none of the caller's streams, so that a pipe reading perfprov's
// output ends when perfprov does.
func startDaemon(ctx context.Context, p Persist) error {
	lock, err := os.OpenFile(filepath.Join(p.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if nc, err := dialDaemon(ctx, p.Dir); err == nil {
		nc.Close()
		return nil
	}
	_ = os.Remove(socketPath(p.Dir))
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(filepath.Join(p.Dir, "daemon.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.Daemon[0], append(append([]string(nil), p.Daemon[1:]...), p.Dir)...)
	cmd.Env = append([]string{}, p.DaemonEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w} // fd 3: "ready" once it listens
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	go cmd.Wait() // reap it if it ends while this process runs
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return fmt.Errorf("%s did not start (%v); see %s", p.Daemon[0], err, filepath.Join(p.Dir, "daemon.log"))
	}
	return nil
}

// writeFrame and readFrame carry one JSON value with a 4-byte length in front.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

const maxFrame = 1 << 20

func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return fmt.Errorf("frame of %d bytes is too large", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
