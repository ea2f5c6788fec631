// Package connect opens a transport.Conn for a spec host: it merges the spec's connection settings
// with ~/.ssh/config (spec values win), picks SSH or local, and wraps the connection with sudo when
// the login user is not root and become is not "none".
package connect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/become"
	"github.com/perfprov/perfprov/transport/knownhosts"
	"github.com/perfprov/perfprov/transport/local"
	"github.com/perfprov/perfprov/transport/persist"
	"github.com/perfprov/perfprov/transport/ssh"
)

// Options are the controller-side inputs of a connection that are not in the spec.
type Options struct {
	// Getenv reads the environment variables the spec names (password_env, become_password_env)
	// and SSH_AUTH_SOCK. nil: os.Getenv.
	Getenv func(string) string
	// SSHConfigPath overrides ~/.ssh/config ("" for the default, which also reads
	// /etc/ssh/ssh_config; "none" to read none).
	SSHConfigPath string
	// Hosts are the spec's hosts, so that a jump hop may name one (and use its address, port,
	// user and keys). Optional.
	Hosts []*spec.Host
	// HomeDir replaces the controller user's home directory (for ~ and the default identity and
	// known_hosts files). "": the real one.
	HomeDir string
	// LocalUser is the login user when neither the spec nor ssh_config names one. "": the
	// controller's user.
	LocalUser string
	// Persist is where connections are kept between runs (its Dir and Daemon; the idle time
	// comes from the spec's connection persist, or PERFPROV_PERSIST). Zero: none are kept.
	Persist persist.Dialer
	// Log receives the connections' debug messages (see ssh.Config.Log). nil: none.
	Log func(format string, args ...any)
	// Secret hears every password a connection uses (login, become), before it is used, so that
	// the debug log can redact it. nil: no one listens.
	Secret func(value string)
	// BecomePassword is the sudo password typed at -ask-become-pass's prompt, for every host
	// whose spec names no become_password_env (a host that names one uses its variable, as an
	// inventory's ansible_become_password beats Ansible's -K). It lives in memory only: sudo reads
	// it on its standard input, never from argv or the environment. "": none.
	BecomePassword string
	// Stderr receives what proxy commands write on their stderr, a line per Write, each line
	// prefixed with the host's name. Hosts connect in parallel: it must be safe for that.
	// nil: os.Stderr.
	Stderr io.Writer
}

// becomePromptSource names the prompt in sudo's messages ("sudo refused the password from ...").
const becomePromptSource = "the -ask-become-pass prompt"

// Open connects to h. Errors name the host and the cause in one line.
func Open(ctx context.Context, h *spec.Host, opts Options) (transport.Conn, error) {
	r := newResolver(h, opts)
	become, err := r.become()
	if err != nil {
		return nil, err
	}
	switch h.Conn.Type {
	case "local":
		l, err := local.New(h.Name)
		if err != nil {
			return nil, err
		}
		return r.wrap(l, l.User(), become), nil
	case "", "ssh":
	default:
		return nil, fmt.Errorf("%s: connection type %q: want \"ssh\" or \"local\"", h.Name, h.Conn.Type)
	}
	target, err := r.target()
	if err != nil {
		return nil, err
	}
	// The Dialer decides: through the connection daemon when the connection is kept, else directly.
	t0 := time.Now()
	c, err := target.Persist.Dial(ctx, target.Config)
	if r.opts.Log != nil {
		how := "directly"
		if target.Persist.Idle > 0 {
			how = "through the connection daemon (kept for " + target.Persist.Idle.String() + ")"
		}
		r.opts.Log("%s: connect to %s@%s:%d %s: %.3fs%s", h.Name, target.User, target.Endpoint.Address, target.Endpoint.TCPPort(), how, time.Since(t0).Seconds(), logErr(err))
	}
	if err != nil {
		return nil, err
	}
	return r.wrap(c, target.User, become), nil
}

// Target is how Open reaches an SSH host: the connection's settings, and whether and where it is
// kept between runs.
type Target struct {
	ssh.Config
	// Persist keeps the connection for later runs (zero: it is closed with the run).
	Persist persist.Dialer
}

// Resolve returns what Open would dial h with: the spec merged with ssh_config.
func Resolve(h *spec.Host, opts Options) (Target, error) {
	return newResolver(h, opts).target()
}

type becomeSettings struct {
	none     bool
	password string
	source   string
}

type resolver struct {
	h      *spec.Host
	opts   Options
	getenv func(string) string
	home   string
	cfg    *sshConfig
}

func newResolver(h *spec.Host, opts Options) *resolver {
	r := &resolver{h: h, opts: opts, getenv: opts.Getenv, home: opts.HomeDir}
	if r.getenv == nil {
		r.getenv = os.Getenv
	}
	if r.home == "" {
		r.home, _ = os.UserHomeDir()
	}
	r.loadSSHConfig()
	return r
}

// loadSSHConfig lists the files OpenSSH would read: ~/.ssh/config then /etc/ssh/ssh_config, or
// only the one given (as ssh -F, which reads no system file).
func (r *resolver) loadSSHConfig() {
	r.cfg = &sshConfig{home: r.home, localUser: r.localUser()}
	switch r.opts.SSHConfigPath {
	case "none":
		return
	case "":
		r.cfg.files = []configFile{
			{path: filepath.Join(r.home, ".ssh", "config"), user: true, checkPerm: true},
			{path: "/etc/ssh/ssh_config"},
		}
	default:
		r.cfg.files = []configFile{{path: r.opts.SSHConfigPath, user: true, required: true}}
	}
}

// expand resolves ~ and the % tokens of ssh_config paths that make sense here.
func (r *resolver) expand(path, host, user string, port int) string {
	if path == "~" || strings.HasPrefix(path, "~/") {
		path = r.home + path[1:]
	}
	repl := strings.NewReplacer("%%", "%", "%d", r.home, "%u", r.localUser(), "%h", host, "%r", user, "%p", strconv.Itoa(port))
	return repl.Replace(path)
}

func (r *resolver) localUser() string {
	if r.opts.LocalUser != "" {
		return r.opts.LocalUser
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return r.getenv("USER")
}

// hostKeyMode is the transport's mode for the spec's host_key_checking ("" when the spec leaves
// it to ~/.ssh/config).
func hostKeyMode(c spec.HostKeyChecking) string {
	switch c {
	case spec.HostKeyStrict:
		return knownhosts.Strict
	case spec.HostKeyAcceptNew:
		return knownhosts.AcceptNew
	}
	return ""
}

func (r *resolver) become() (becomeSettings, error) {
	c := r.h.Conn
	switch c.Become {
	case spec.BecomeNone:
		return becomeSettings{none: true}, nil
	case spec.BecomeDefault, spec.BecomeSudo:
	default:
		return becomeSettings{}, fmt.Errorf("%s: become %q: want \"sudo\" or \"none\"", r.h.Name, c.Become)
	}
	b := becomeSettings{}
	switch {
	case c.BecomePasswordEnv != "":
		b.source = "$" + c.BecomePasswordEnv
		b.password = r.getenv(c.BecomePasswordEnv)
		r.secret(b.password)
		if b.password == "" {
			return b, fmt.Errorf("%s: become_password_env names %s, which is not set in perfprov's environment", r.h.Name, c.BecomePasswordEnv)
		}
	case r.opts.BecomePassword != "":
		b.source, b.password = becomePromptSource, r.opts.BecomePassword
		r.secret(b.password)
	}
	return b, nil
}

// logErr is ", error: ERR" for a debug line, or nothing.
func logErr(err error) string {
	if err == nil {
		return ""
	}
	return ", error: " + err.Error()
}

func (r *resolver) secret(v string) {
	if r.opts.Secret != nil && v != "" {
		r.opts.Secret(v)
	}
}

func (r *resolver) wrap(c transport.Conn, login string, b becomeSettings) transport.Conn {
	if login == "root" || b.none {
		return c
	}
	return become.NewSudo(c, login, b.password, b.source)
}

// lookup reads ssh_config for alias. The spec's values (or those of a jump's [user@]host:port)
// are set first, as ssh's command line sets them: they win over the files', and a Match user
// sees the spec's user. more: other keywords set so (ProxyJump).
func (r *resolver) lookup(alias string, port int, userName string, more map[string]string) (*hostOptions, error) {
	preset := map[string][]string{}
	if port > 0 {
		preset["port"] = []string{strconv.Itoa(port)}
	}
	if userName != "" {
		preset["user"] = []string{userName}
	}
	for k, v := range more {
		preset[k] = []string{v}
	}
	return r.cfg.lookup(alias, preset)
}

// endpoint is one SSH server as o (the lookup of its alias) resolves it, with conn's keys and
// host key settings over ssh_config's. hopKeys: conn's identity files are the target's, lent to
// a jump host, and give way to the ones ssh_config names for it.
func (r *resolver) endpoint(o *hostOptions, conn spec.Connection, hopKeys bool) (ssh.Endpoint, error) {
	host := o.hostName()
	port := 22
	if p := o.get("port"); p != "" {
		n, err := parsePort(p)
		if err != nil {
			return ssh.Endpoint{}, fmt.Errorf("ssh config: Port %q for %s", p, o.alias)
		}
		port = n
	}
	userName := o.user(r.localUser())

	auth := ssh.Auth{AgentSocket: r.getenv("SSH_AUTH_SOCK")}
	if strings.EqualFold(o.get("identityagent"), "none") {
		auth.AgentSocket = ""
	}
	keys := conn.IdentityFiles
	if len(keys) == 0 || (hopKeys && len(o.identityFiles) > 0) {
		keys = o.identityFiles
	}
	for _, f := range keys {
		auth.IdentityFiles = append(auth.IdentityFiles, r.expand(f, host, userName, port))
	}
	if len(keys) == 0 {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			auth.DefaultIdentityFiles = append(auth.DefaultIdentityFiles, filepath.Join(r.home, ".ssh", n))
		}
	}
	if conn.PasswordEnv != "" {
		auth.Password = r.getenv(conn.PasswordEnv)
		r.secret(auth.Password)
		if auth.Password == "" {
			return ssh.Endpoint{}, fmt.Errorf("password_env names %s, which is not set in perfprov's environment", conn.PasswordEnv)
		}
	}

	// HashKnownHosts yes (Debian's /etc/ssh/ssh_config has it) hashes the names accept-new writes.
	policy := knownhosts.Policy{Mode: hostKeyMode(conn.HostKeyChecking), HashNames: strings.EqualFold(o.get("hashknownhosts"), "yes")}
	switch files := o.values["userknownhostsfile"]; {
	case conn.KnownHosts != "":
		policy.Files = []string{r.expand(conn.KnownHosts, host, userName, port)}
	case len(files) > 0:
		for _, f := range files {
			policy.Files = append(policy.Files, r.expand(f, host, userName, port))
		}
	default:
		policy.Files = []string{filepath.Join(r.home, ".ssh", "known_hosts"), "/etc/ssh/ssh_known_hosts"}
	}
	if policy.Mode == "" {
		switch v := strings.ToLower(o.get("stricthostkeychecking")); v {
		case "", "yes", "ask":
			policy.Mode = knownhosts.Strict
		case "accept-new", "no", "off":
			// "no" would also take changed keys; perfprov never does, so it is accept-new.
			policy.Mode = knownhosts.AcceptNew
		default:
			return ssh.Endpoint{}, fmt.Errorf("ssh config: StrictHostKeyChecking %q for %s", v, o.alias)
		}
	}
	return ssh.Endpoint{Address: host, Port: port, User: userName, Auth: auth, HostKeys: policy}, nil
}

func (r *resolver) target() (Target, error) {
	h := r.h
	alias := h.Address
	if alias == "" {
		alias = h.Name
	}
	fail := func(err error) (Target, error) {
		return Target{}, fmt.Errorf("%s: %w", h.Name, err)
	}
	port := h.Port
	if port == 0 {
		port = h.Conn.Port
	}
	// The spec's jump or proxy_command is set first: ssh_config's ProxyJump and ProxyCommand,
	// which exclude each other as the spec's do, then give way.
	more := map[string]string{}
	switch {
	case len(h.Conn.Jump) > 0:
		more["proxyjump"] = strings.Join(h.Conn.Jump, ",")
	case h.Conn.ProxyCommand != "":
		more["proxycommand"] = h.Conn.ProxyCommand
	}
	o, err := r.lookup(alias, port, h.Conn.User, more)
	if err != nil {
		return fail(err)
	}
	ep, err := r.endpoint(o, h.Conn, false)
	if err != nil {
		return fail(err)
	}
	cfg := Target{Config: ssh.Config{Name: h.Name, Endpoint: ep, Log: r.opts.Log, ProxyStderr: r.proxyStderr()}}
	if cfg.ProxyCommand, err = r.proxyCommand(o, ep); err != nil {
		return fail(err)
	}

	var hops []string
	if pj := o.get("proxyjump"); pj != "" && !strings.EqualFold(pj, "none") {
		hops = strings.Split(pj, ",")
	}
	for i, hop := range hops {
		e, proxy, err := r.hop(strings.TrimSpace(hop))
		if err != nil {
			return fail(fmt.Errorf("jump host %q: %w", hop, err))
		}
		cfg.Jump = append(cfg.Jump, e)
		if i == 0 {
			cfg.ProxyCommand = proxy // the first hop's own ProxyCommand is how it is reached
		}
	}

	cfg.Timeout = h.Conn.Timeout
	if cfg.Timeout == 0 {
		if v := o.get("connecttimeout"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fail(fmt.Errorf("ssh config: ConnectTimeout %q", v))
			}
			cfg.Timeout = time.Duration(n) * time.Second
		}
	}
	cfg.Keepalive = h.Conn.Keepalive
	if cfg.Keepalive == 0 {
		if v := o.get("serveraliveinterval"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				cfg.Keepalive = time.Duration(n) * time.Second
			}
		}
	}
	if v := o.get("serveralivecountmax"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			cfg.KeepaliveMax = n
		}
	}
	idle, err := r.persistIdle()
	if err != nil {
		return fail(err)
	}
	if idle > 0 && r.opts.Persist.Dir != "" {
		cfg.Persist = r.opts.Persist
		cfg.Persist.Idle = idle
	}
	return cfg, nil
}

// persistIdle is how long the connection outlives the run: PERFPROV_PERSIST when set (a
// duration, or 0 for none), else the spec's connection persist, else the default.
func (r *resolver) persistIdle() (time.Duration, error) {
	if v := r.getenv("PERFPROV_PERSIST"); v != "" {
		if v == "0" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("PERFPROV_PERSIST=%q: want a duration such as \"60s\", or 0 to keep no connection open", v)
		}
		return d, nil
	}
	switch p := r.h.Conn.Persist; {
	case p < 0:
		return 0, nil
	case p > 0:
		return p, nil
	}
	return persist.DefaultIdle, nil
}

// hop resolves one jump: a spec host's name, or [user@]host[:port] (ssh:// allowed) looked up in
// ssh_config, and its own ProxyCommand (expanded), which reaches it when it is the first hop. A
// hop's own ProxyJump is not followed: list every hop in order instead.
func (r *resolver) hop(s string) (ssh.Endpoint, string, error) {
	for _, sh := range r.opts.Hosts {
		if sh.Name == s && sh != r.h {
			alias := sh.Address
			if alias == "" {
				alias = sh.Name
			}
			port := sh.Port
			if port == 0 {
				port = sh.Conn.Port
			}
			var more map[string]string
			if sh.Conn.ProxyCommand != "" {
				more = map[string]string{"proxycommand": sh.Conn.ProxyCommand}
			}
			o, err := r.lookup(alias, port, sh.Conn.User, more)
			if err != nil {
				return ssh.Endpoint{}, "", err
			}
			return r.endpointAndProxy(o, sh.Conn, false)
		}
	}
	s = strings.TrimPrefix(s, "ssh://")
	userName := ""
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		userName, s = s[:i], s[i+1:]
	}
	host, port := s, 0
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return ssh.Endpoint{}, "", errors.New("unclosed [")
		}
		host = s[1:end]
		s = s[end+1:]
		if strings.HasPrefix(s, ":") {
			p, err := strconv.Atoi(s[1:])
			if err != nil {
				return ssh.Endpoint{}, "", fmt.Errorf("port %q", s[1:])
			}
			port = p
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 && strings.Count(s, ":") == 1 {
		p, err := strconv.Atoi(s[i+1:])
		if err != nil || p <= 0 || p > 65535 {
			return ssh.Endpoint{}, "", fmt.Errorf("port %q", s[i+1:])
		}
		host, port = s[:i], p
	}
	if host == "" {
		return ssh.Endpoint{}, "", errors.New("no host")
	}
	o, err := r.lookup(host, port, userName, nil)
	if err != nil {
		return ssh.Endpoint{}, "", err
	}
	// The target's connection settings that are not per host (keys, known_hosts, checking) apply
	// to its hops too, unless ssh_config names keys for the hop.
	conn := spec.Connection{
		IdentityFiles:   r.h.Conn.IdentityFiles,
		KnownHosts:      r.h.Conn.KnownHosts,
		HostKeyChecking: r.h.Conn.HostKeyChecking,
	}
	return r.endpointAndProxy(o, conn, true)
}
