// Package testbed runs a lab of real Debian hosts on this Linux machine, for integration tests
// and the demo.
//
// Every host has its own root filesystem (an overlay on a cached debootstrap base), its own
// mount, UTS, IPC and PID namespaces, and a real OpenSSH sshd on its own loopback address
// 127.0.N.M:22. Hosts share the machine's network namespace, so the lab is reached at those
// addresses and no traffic leaves loopback. A lab lives in a directory that holds its client
// key, known_hosts file, perfprov inventory and state; Up and Down need root.
//
// Shared mode (Options.Shared) is for scale runs of up to 2,400 hosts: hosts are then groups of
// Shared addresses that share one root filesystem and namespaces (one "root"), served by sshd
// processes that each listen on up to 16 of the addresses (OpenSSH's MAX_LISTEN_SOCKS) with
// host keys of their own. Each address is still a Host with its name, address and recorded host
// key, so clients cannot tell; but a change made through one host shows on every host of its
// root, and the means to break a host (StopSSHD, Freeze, Kill, ChangeHostKey...) refuse shared
// hosts. Correctness tests keep the default, one root per host.
package testbed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options say what lab to bring up.
type Options struct {
	Hosts  int    // number of hosts, 1..240 (default 3); up to 2,400 in shared mode
	Dir    string // the lab's directory (created); default: a new temporary directory
	Prefix string // host name prefix: hosts are PREFIX1..PREFIXn (default "lab")
	// Ephemeral hosts stop by themselves when the process that started them ends, even if it
	// never calls Down (a test binary killed by -timeout). Require sets it.
	Ephemeral bool
	// Shared, when 2 or more, starts the lab in shared mode (see the package comment): each
	// root filesystem serves Shared hosts (the last one fewer), for scale runs only.
	Shared int
	// VMs are VM hosts to start beside the container hosts, one per entry, by release
	// (VMReleases: "bookworm", "trixie", "bullseye"; a release may repeat). They are named
	// RELEASE1, RELEASE2... and boot Debian's own kernel under qemu. With VMs, Hosts may be 0.
	// The first VM of a release on a machine builds its image and snapshot (minutes, once).
	VMs []string
	// Log, if set, receives progress lines (building the base takes minutes once).
	Log func(format string, args ...any)
}

// Lab is a running lab.
type Lab struct {
	Dir            string
	Hosts          []*Host
	KeyPath        string // the client's ed25519 private key: root, alice and bob accept it
	KnownHostsPath string // every host's ed25519 host key, as OpenSSH writes it
	InventoryPath  string // a perfprov inventory for all hosts: root, the key, strict checking
	Net            int    // the lab's (first) loopback network is 127.0.Net.0/24
	Nets           []int  // all its networks: one, or one per 240 hosts in shared mode

	shared    int // hosts per root in shared mode; 0 for one root per host
	prefix    string
	ephemeral bool
	lower     []string
}

// Host is one lab host.
type Host struct {
	Name    string
	Address string // 127.0.N.M
	Port    int    // always 22

	pid     int    // the host init (PID 1 of the host's namespaces), as the machine sees it
	pidNS   string // readlink of /proc/PID/ns/pid: tells the init from a reused PID
	hostKey ssh.PublicKey
	root    string  // shared mode: the name of the root filesystem it shares; "" for its own
	vm      *vmHost // a VM host (its own kernel); nil for a container host
}

// ErrNotRoot is returned by Up when the process is not root.
var ErrNotRoot = errors.New("the lab needs root (namespaces, mounts, sshd)")

const (
	stateFile     = "state.json"
	keyFile       = "id_ed25519"
	knownFile     = "known_hosts"
	inventoryFile = "inventory.hcl"
	dirLockFile   = ".testbed.lock"
	hostsDir      = "hosts"
	maxHosts      = 240 // hosts of one lab in the default mode, and per network in shared mode
	sshPort       = 22
)

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// Up brings up a lab of opts.Hosts hosts in opts.Dir. A lab already in that directory, running
// or stale, is taken down first. The first Up on a machine builds the cached base (minutes);
// later ones take a few seconds.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Hosts == 0 && len(opts.VMs) == 0 {
		opts.Hosts = 3
	}
	limit := maxHosts
	if opts.Shared > 1 {
		limit = maxSharedHosts
	}
	if opts.Hosts < 0 || opts.Hosts > limit || opts.Hosts+len(opts.VMs) > limit || (opts.Shared > 1 && len(opts.VMs) > 0) {
		if opts.Shared > 1 && len(opts.VMs) > 0 {
			return nil, errors.New("a lab in shared mode has no VM hosts")
		}
		return nil, fmt.Errorf("a lab has 1 to %d hosts (%d in shared mode), not %d", maxHosts, maxSharedHosts, opts.Hosts)
	}
	if opts.Prefix == "" {
		opts.Prefix = "lab"
	}
	if !prefixRE.MatchString(opts.Prefix) {
		return nil, fmt.Errorf("host name prefix %q: use lower-case letters, digits and '-', starting with a letter", opts.Prefix)
	}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if err := checkPort22Free(); err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "perfprov-lab-")
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, dirLockFile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := downLocked(ctx, dir); err != nil {
		return nil, fmt.Errorf("clean the old lab in %s: %w", dir, err)
	}
	var b base
	if opts.Hosts > 0 {
		if b, err = ensureBase(ctx, logf); err != nil {
			return nil, err
		}
	}
	nets, err := allocateNets(ctx, dir, (opts.Hosts+len(opts.VMs)+maxHosts-1)/maxHosts)
	if err != nil {
		return nil, err
	}
	l := &Lab{
		Dir:            dir,
		KeyPath:        filepath.Join(dir, keyFile),
		KnownHostsPath: filepath.Join(dir, knownFile),
		InventoryPath:  filepath.Join(dir, inventoryFile),
		Net:            nets[0],
		Nets:           nets,
		prefix:         opts.Prefix,
		ephemeral:      opts.Ephemeral,
		lower:          b.lowerdirs(),
	}
	fail := func(err error) (*Lab, error) {
		if derr := downLocked(context.WithoutCancel(ctx), dir); derr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, derr)
		}
		return nil, err
	}
	client, err := newEd25519Key("perfprov-lab")
	if err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(l.KeyPath, client.private, 0o600); err != nil {
		return fail(err)
	}
	if err := writeFileAtomic(l.KeyPath+".pub", client.authorizedLine("perfprov-lab"), 0o644); err != nil {
		return fail(err)
	}
	// The state goes first, so that a failed or interrupted start is cleaned by the next Up/Down.
	if err := l.writeState(); err != nil {
		return fail(err)
	}
	add := l.addHosts
	if opts.Shared > 1 {
		l.shared = opts.Shared
		add = l.addSharedHosts
	}
	if opts.Hosts > 0 {
		if err := add(ctx, opts.Hosts, client.authorizedLine("perfprov-lab")); err != nil {
			return fail(err)
		}
	}
	if len(opts.VMs) > 0 {
		if err := l.addVMs(ctx, opts.VMs, client.authorizedLine("perfprov-lab"), logf); err != nil {
			return fail(err)
		}
		if err := l.writeFiles(); err != nil {
			return fail(err)
		}
	}
	return l, nil
}

// AddHosts starts n more hosts in a running lab (same network, next numbers) and rewrites its
// known_hosts, inventory and state. Hosts already running are untouched, except that their
// /etc/hosts learns the new names.
func (l *Lab) AddHosts(ctx context.Context, n int) error {
	if l.shared > 0 {
		return fmt.Errorf("the lab in %s runs in shared mode: it cannot grow (start a new one)", l.Dir)
	}
	if n < 1 || len(l.Hosts)+n > maxHosts {
		return fmt.Errorf("a lab has 1 to %d hosts; it has %d, asked for %d more", maxHosts, len(l.Hosts), n)
	}
	unlock, err := lockFile(ctx, filepath.Join(l.Dir, dirLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	pub, err := os.ReadFile(l.KeyPath + ".pub")
	if err != nil {
		return fmt.Errorf("lab client key: %w", err)
	}
	return l.addHosts(ctx, n, pub)
}

func (l *Lab) addHosts(ctx context.Context, n int, authorized []byte) error {
	first := len(l.Hosts) + 1
	var hosts []*Host
	for i := first; i < first+n; i++ {
		hosts = append(hosts, &Host{
			Name:    l.prefix + strconv.Itoa(i),
			Address: l.address(i),
			Port:    sshPort,
		})
	}
	all := append(append([]*Host(nil), l.Hosts...), hosts...)
	etcHosts := etcHostsFile(all)

	// Prepare the upper layers (keys, files) in parallel: key generation is the slow part.
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = l.prepareHost(h, authorized, etcHosts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var startErr error
	for _, h := range hosts {
		if startErr = l.startHost(h); startErr != nil {
			break
		}
		l.Hosts = append(l.Hosts, h)
	}
	// Record the started hosts before waiting, so that a failure still lets Down find them.
	if err := errors.Join(startErr, l.writeState()); err != nil {
		return err
	}
	if err := l.waitListening(ctx, hosts); err != nil {
		return err
	}
	for _, h := range l.Hosts[:first-1] {
		if err := writeFileAtomic(filepath.Join("/proc", strconv.Itoa(h.pid), "root/etc/hosts"), etcHosts, 0o644); err != nil {
			return fmt.Errorf("%s: update /etc/hosts: %w", h.Name, err)
		}
	}
	return l.writeFiles()
}

// writeFiles writes the lab's known_hosts, inventory and state for the hosts it has now.
func (l *Lab) writeFiles() error {
	if err := writeFileAtomic(l.KnownHostsPath, KnownHosts(l.Hosts), 0o644); err != nil {
		return err
	}
	if err := writeFileAtomic(l.InventoryPath, InventoryHCL(l.KeyPath, l.KnownHostsPath, l.Hosts), 0o644); err != nil {
		return err
	}
	return l.writeState()
}

func etcHostsFile(hosts []*Host) []byte {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "%s\t%s\n", h.Address, h.Name)
	}
	return []byte(b.String())
}

// address is the loopback address of the lab's i-th host (from 1): 240 to a network.
func (l *Lab) address(i int) string {
	return fmt.Sprintf("127.0.%d.%d", l.Nets[(i-1)/maxHosts], (i-1)%maxHosts+1)
}

// hostDir holds the layers of h's root filesystem: its own, or the one it shares.
func (l *Lab) hostDir(h *Host) string { return filepath.Join(l.Dir, hostsDir, h.rootName()) }

func (h *Host) rootName() string {
	if h.root != "" {
		return h.root
	}
	return h.Name
}

// prepareHost writes the host's own files into its (fresh) overlay upper directory.
func (l *Lab) prepareHost(h *Host, authorized, etcHosts []byte) error {
	hd := l.hostDir(h)
	if err := removeTree(hd); err != nil {
		return err
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(hd, d), 0o755); err != nil {
			return err
		}
	}
	ed, err := newEd25519Key("root@" + h.Name)
	if err != nil {
		return err
	}
	ec, err := newECDSAKey("root@" + h.Name)
	if err != nil {
		return err
	}
	h.hostKey = ed.public
	up := upperWriter{upper: filepath.Join(hd, "upper"), lower: l.lower}
	files := []struct {
		path     string
		data     []byte
		mode     os.FileMode
		uid, gid int
	}{
		{"etc/hostname", []byte(h.Name + "\n"), 0o644, 0, 0},
		{"etc/hosts", etcHosts, 0o644, 0, 0},
		{"etc/ssh/ssh_host_ed25519_key", ed.private, 0o600, 0, 0},
		{"etc/ssh/ssh_host_ed25519_key.pub", ed.authorizedLine("root@" + h.Name), 0o644, 0, 0},
		{"etc/ssh/ssh_host_ecdsa_key", ec.private, 0o600, 0, 0},
		{"etc/ssh/ssh_host_ecdsa_key.pub", ec.authorizedLine("root@" + h.Name), 0o644, 0, 0},
		{"etc/ssh/sshd_config.d/10-lab-listen.conf", []byte("# testbed: this host's own address only\nListenAddress " + h.Address + ":22\n"), 0o644, 0, 0},
		{"root/.ssh/authorized_keys", authorized, 0o600, 0, 0},
		{"home/alice/.ssh/authorized_keys", authorized, 0o600, 1000, 1000},
		{"home/bob/.ssh/authorized_keys", authorized, 0o600, 1001, 1001},
	}
	for _, f := range files {
		if err := up.write(f.path, f.data, f.mode, f.uid, f.gid); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return nil
}

// upperWriter puts files into an overlay's upper directory before it is mounted. Directories it
// must create take their owner and mode from the lower layers: in a merged directory the upper
// one's attributes win, so a wrong mode here would show on the host (and make sshd's StrictModes
// refuse authorized_keys).
type upperWriter struct {
	upper string
	lower []string
}

func (u upperWriter) write(rel string, data []byte, mode os.FileMode, uid, gid int) error {
	if err := u.mkdirs(filepath.Dir(rel)); err != nil {
		return err
	}
	p := filepath.Join(u.upper, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

func (u upperWriter) mkdirs(rel string) error {
	if rel == "." || rel == "/" {
		return nil
	}
	if err := u.mkdirs(filepath.Dir(rel)); err != nil {
		return err
	}
	p := filepath.Join(u.upper, rel)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	mode, uid, gid := os.FileMode(0o755), 0, 0
	for _, l := range u.lower {
		if fi, err := os.Lstat(filepath.Join(l, rel)); err == nil && fi.IsDir() {
			st := fi.Sys().(*syscall.Stat_t)
			mode, uid, gid = fi.Mode().Perm()|fi.Mode()&(os.ModeSticky|os.ModeSetgid), int(st.Uid), int(st.Gid)
			break
		}
	}
	if err := os.Mkdir(p, mode); err != nil {
		return err
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	return os.Lchown(p, uid, gid)
}

// ownerPipe's write end lives as long as this process; ephemeral host inits hold the read end
// and stop when it reads EOF.
var ownerPipe struct {
	once sync.Once
	r, w *os.File
	err  error
}

func (l *Lab) startHost(h *Host) error {
	return l.startRoot(h, h.Name, nil)
}

// startRoot starts the init of h's root filesystem, with hostname name and the sshd configs
// (paths inside the root; none: the default sshd), and records its PID in h.
func (l *Lab) startRoot(h *Host, name string, sshd []string) error {
	hd := l.hostDir(h)
	cfg, err := json.Marshal(initConfig{
		Name: name, Lower: l.lower, Ephemeral: l.ephemeral, SSHD: sshd,
		Upper: filepath.Join(hd, "upper"), Work: filepath.Join(hd, "work"), Root: filepath.Join(hd, "root"),
	})
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(hd, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"perfprov-lab-init:" + name}
	cmd.Env = []string{initEnv + "=" + string(cfg), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID,
		Setsid:     true,
	}
	if l.ephemeral {
		ownerPipe.once.Do(func() { ownerPipe.r, ownerPipe.w, ownerPipe.err = os.Pipe() })
		if ownerPipe.err != nil {
			return ownerPipe.err
		}
		cmd.ExtraFiles = []*os.File{ownerPipe.r}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start the host: %w", name, err)
	}
	h.pid = cmd.Process.Pid
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.pid))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("%s: read its PID namespace: %w", name, err)
	}
	h.pidNS = ns
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() // reap it whenever it ends
	hostExited.Store(h.pid, done)
	return nil
}

// hostExited maps the PID of a host init this process started to a channel closed when it ends.
var hostExited sync.Map

// waitListening waits until every host's sshd listens, failing early with the host's log
// when its init ends.
func (l *Lab) waitListening(ctx context.Context, hosts []*Host) error {
	deadline := time.Now().Add(60 * time.Second)
	addrs := make([]string, len(hosts))
	for i, h := range hosts {
		addrs[i] = h.Address
	}
	for {
		up, err := listening(addrs, sshPort)
		if err != nil {
			return err
		}
		var waiting []string
		for _, h := range hosts {
			if up[h.Address] {
				continue
			}
			if ch, ok := hostExited.Load(h.pid); ok {
				select {
				case <-ch.(chan struct{}):
					return fmt.Errorf("%s: the host stopped while starting: %s", h.Name, l.initLogTail(h))
				default:
				}
			}
			waiting = append(waiting, h.Name)
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd of %s not listening after 60s: %s", strings.Join(waiting, ", "), l.initLogTail(hosts[0]))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *Lab) initLogTail(h *Host) string {
	data, err := os.ReadFile(filepath.Join(l.hostDir(h), "init.log"))
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return "no log"
	}
	return lastLine(data)
}

// Open returns the lab running in dir, from its state file.
func Open(dir string) (*Lab, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("no lab in %s (run testbed up -dir %s)", dir, dir)
	}
	l, err := st.lab()
	if err != nil {
		return nil, err
	}
	for _, h := range l.Hosts {
		if !h.alive() {
			return l, fmt.Errorf("lab in %s: host %s is not running (run testbed up -dir %s again)", dir, h.Name, dir)
		}
	}
	return l, nil
}
