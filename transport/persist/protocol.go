package persist

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/ssh"
)

// persistVersion changes whenever the daemon protocol does; it is part of the socket's name, so
// a newer perfprov never talks to an older daemon. Version 2: the run checks the daemon (its uid,
// its SSH host key) before it sends anything, and the request goes inside that SSH connection.
// Version 3: quick commands go to the remote helper (quickChannel), and a kept connection is
// proven alive beside the run's first request, not before the daemon answers. Version 4: a quick
// command may change the host (ssh.QuickOnce): it is never sent twice.
const persistVersion = 4

// socketName is the daemon's socket in its directory, "s" and persistVersion; keyName is the
// daemon's public key beside it.
const (
	socketName = "s4"
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

func newPersistRequest(cfg ssh.Config, idle time.Duration) *persistRequest {
	ep := func(e ssh.Endpoint) persistEndpoint {
		return persistEndpoint{Address: e.Address, Port: e.TCPPort(), User: e.User,
			AgentSocket: e.Auth.AgentSocket, IdentityFiles: e.Auth.IdentityFiles,
			DefaultIdentityFiles: e.Auth.DefaultIdentityFiles, Password: e.Auth.Password,
			KnownHosts: e.HostKeys.Files, HostKeyMode: e.HostKeys.Mode, HashNames: e.HostKeys.HashNames, KnownHostsSum: filesSum(e.HostKeys.Files)}
	}
	r := &persistRequest{Version: persistVersion, Name: cfg.Name, Target: ep(cfg.Endpoint), Timeout: cfg.Timeout,
		Keepalive: cfg.Keepalive, KeepaliveMax: cfg.KeepaliveMax, MaxSessions: cfg.MaxSessions, Retries: cfg.Retries,
		Idle: idle}
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

// attachRequest carries the run's persistRequest (JSON) to the daemon, inside the SSH connection
// to it and only once the daemon has proved its key: a login's password never reaches a process
// that is not the daemon this user started.
const attachRequest = "attach@perfprov"

// lostRequest is the daemon's last word on a run's connection when the host's connection
// ended under it: the reason, in words, so the run reports that and not a bare end of stream.
const lostRequest = "lost@perfprov"

const forgetRequest = "forget@perfprov"

// key names the connection a request may share: every setting of the login, none of the timings.
func (r *persistRequest) key() string {
	k := *r
	k.Timeout, k.Keepalive, k.KeepaliveMax, k.Retries, k.Idle, k.MaxSessions = 0, 0, 0, 0, 0, 0
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *persistRequest) config() ssh.Config {
	ep := func(p persistEndpoint) ssh.Endpoint {
		return ssh.Endpoint{Address: p.Address, Port: p.Port, User: p.User,
			Auth: ssh.Auth{AgentSocket: p.AgentSocket, IdentityFiles: p.IdentityFiles,
				DefaultIdentityFiles: p.DefaultIdentityFiles, Password: p.Password},
			HostKeys: knownhosts.Policy{Files: p.KnownHosts, Mode: p.HostKeyMode, HashNames: p.HashNames}}
	}
	cfg := ssh.Config{Name: r.Name, Endpoint: ep(r.Target), Timeout: r.Timeout, Keepalive: r.Keepalive,
		KeepaliveMax: r.KeepaliveMax, MaxSessions: r.MaxSessions, Retries: r.Retries}
	for _, j := range r.Jump {
		cfg.Jump = append(cfg.Jump, ep(j))
	}
	return cfg
}
