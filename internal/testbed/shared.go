package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Shared mode: many hosts on one root filesystem, for scale runs (see the package comment).
// What a host costs in the default mode is a host init, an overlay mount, namespaces and an
// sshd; here it is one listening socket of an sshd that serves up to listenPerSSHD addresses.

const (
	// maxSharedHosts bounds a shared-mode lab: ten /24 networks of maxHosts addresses.
	maxSharedHosts = 10 * maxHosts
	// listenPerSSHD is OpenSSH's MAX_LISTEN_SOCKS (sshd.c): an sshd given more ListenAddress
	// lines than that exits with "Too many listen sockets".
	listenPerSSHD = 16
	// sharedDir holds each shared sshd's configuration and host keys, inside the root.
	sharedDir = "/etc/ssh/lab-shared"
)

// Roots groups the lab's hosts by the root filesystem they run in, in host order: one host per
// group in the default mode, Options.Shared per group in shared mode. A change made through one
// host of a group (a file, a user) shows on every host of the group.
func (l *Lab) Roots() [][]*Host {
	var out [][]*Host
	for i, h := range l.Hosts {
		if i == 0 || h.root == "" || h.root != l.Hosts[i-1].root {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], h)
	}
	return out
}

// own is running for the means to break one host: they would break every host of a shared
// root at once, so they refuse shared hosts.
func (l *Lab) own(host string) (*Host, error) {
	h, err := l.running(host)
	if err != nil {
		return nil, err
	}
	if h.vm != nil {
		return nil, fmt.Errorf("%s: a VM host: the lab breaks container hosts only (reboot a VM with Reboot)", host)
	}
	if h.root != "" {
		return nil, fmt.Errorf("%s: the host shares its root filesystem and sshd with other hosts (shared mode, for scale runs): breaking it would break them too; use a lab in the default mode", host)
	}
	return h, nil
}

// addSharedHosts starts the n hosts of a new shared-mode lab: one root per l.shared hosts.
func (l *Lab) addSharedHosts(ctx context.Context, n int, authorized []byte) error {
	var hosts []*Host
	for i := 1; i <= n; i++ {
		hosts = append(hosts, &Host{
			Name:    l.prefix + strconv.Itoa(i),
			Address: l.address(i),
			Port:    sshPort,
			// "_" cannot start a host name, so a root's directory never takes a host's.
			root: "_root" + strconv.Itoa((i-1)/l.shared+1),
		})
	}
	etcHosts := etcHostsFile(hosts)
	labConf, err := l.sharedLabConf()
	if err != nil {
		return err
	}
	var groups [][]*Host
	for i := 0; i < n; i += l.shared {
		groups = append(groups, hosts[i:min(i+l.shared, n)])
	}
	configs := make([][]string, len(groups))
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			configs[i], errs[i] = l.prepareSharedRoot(g, l.sharedHostname(i), authorized, etcHosts, labConf)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var startErr error
	for i, g := range groups {
		if startErr = l.startRoot(g[0], l.sharedHostname(i), configs[i]); startErr != nil {
			break
		}
		for _, h := range g {
			h.pid, h.pidNS = g[0].pid, g[0].pidNS
		}
		l.Hosts = append(l.Hosts, g...)
	}
	if err := errors.Join(startErr, l.writeState()); err != nil {
		return err
	}
	if err := l.waitListening(ctx, hosts); err != nil {
		return err
	}
	if err := writeFileAtomic(l.KnownHostsPath, KnownHosts(l.Hosts), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(l.InventoryPath, InventoryHCL(l.KeyPath, l.KnownHostsPath, l.Hosts), 0o644)
}

// sharedHostname is the hostname of the i-th shared root (from 0), which all its hosts share.
func (l *Lab) sharedHostname(i int) string { return fmt.Sprintf("%s-shared%d", l.prefix, i+1) }

// sharedLabConf is the base's sshd settings without its HostKey lines: HostKey adds up across
// configuration files, so each shared sshd would also try the default keys, which a shared root
// does not have.
func (l *Lab) sharedLabConf() ([]byte, error) {
	const rel = "etc/ssh/sshd_config.d/20-lab.conf"
	for _, lower := range l.lower {
		data, err := os.ReadFile(filepath.Join(lower, rel))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var out bytes.Buffer
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "HostKey ") {
				out.WriteString(line)
			}
		}
		return out.Bytes(), nil
	}
	return nil, fmt.Errorf("lab base: no /%s in %v", rel, l.lower)
}

// prepareSharedRoot writes a shared root's files into its (fresh) upper directory, with one
// sshd configuration and key pair per listenPerSSHD hosts, and returns the configurations'
// paths inside the root. Each host records the ed25519 key of the sshd that serves it.
func (l *Lab) prepareSharedRoot(hosts []*Host, hostname string, authorized, etcHosts, labConf []byte) ([]string, error) {
	hd := l.hostDir(hosts[0])
	if err := removeTree(hd); err != nil {
		return nil, err
	}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(hd, d), 0o755); err != nil {
			return nil, err
		}
	}
	up := upperWriter{upper: filepath.Join(hd, "upper"), lower: l.lower}
	type file struct {
		path     string
		data     []byte
		mode     os.FileMode
		uid, gid int
	}
	files := []file{
		{"etc/hostname", []byte(hostname + "\n"), 0o644, 0, 0},
		{"etc/hosts", etcHosts, 0o644, 0, 0},
		{"etc/ssh/sshd_config.d/20-lab.conf", labConf, 0o644, 0, 0},
		{"root/.ssh/authorized_keys", authorized, 0o600, 0, 0},
		{"home/alice/.ssh/authorized_keys", authorized, 0o600, 1000, 1000},
		{"home/bob/.ssh/authorized_keys", authorized, 0o600, 1001, 1001},
	}
	var configs []string
	for k := 0; k*listenPerSSHD < len(hosts); k++ {
		served := hosts[k*listenPerSSHD : min((k+1)*listenPerSSHD, len(hosts))]
		comment := "root@" + hosts[0].root + "-sshd" + strconv.Itoa(k+1)
		ed, err := newEd25519Key(comment)
		if err != nil {
			return nil, err
		}
		ec, err := newECDSAKey(comment)
		if err != nil {
			return nil, err
		}
		dir := fmt.Sprintf("%s/%d", sharedDir, k+1)
		var conf strings.Builder
		fmt.Fprintf(&conf, "# testbed shared root: sshd %d serves %d hosts with its own host keys\n", k+1, len(served))
		for _, h := range served {
			h.hostKey = ed.public
			fmt.Fprintf(&conf, "ListenAddress %s:%d\n", h.Address, h.Port)
		}
		fmt.Fprintf(&conf, "HostKey %s/ssh_host_ed25519_key\nHostKey %s/ssh_host_ecdsa_key\nPidFile /run/sshd-%d.pid\n", dir, dir, k+1)
		// Unauthenticated connections: 16 hosts of their own would allow 16 times the default
		// (10:30:100); a run with -parallel 20 must not see drops that one host per sshd never has.
		conf.WriteString("MaxStartups 2000\n")
		conf.WriteString("Include /etc/ssh/sshd_config\n")
		path := dir + ".conf"
		files = append(files,
			file{strings.TrimPrefix(dir, "/") + "/ssh_host_ed25519_key", ed.private, 0o600, 0, 0},
			file{strings.TrimPrefix(dir, "/") + "/ssh_host_ed25519_key.pub", ed.authorizedLine(comment), 0o644, 0, 0},
			file{strings.TrimPrefix(dir, "/") + "/ssh_host_ecdsa_key", ec.private, 0o600, 0, 0},
			file{strings.TrimPrefix(dir, "/") + "/ssh_host_ecdsa_key.pub", ec.authorizedLine(comment), 0o644, 0, 0},
			file{strings.TrimPrefix(path, "/"), []byte(conf.String()), 0o644, 0, 0})
		configs = append(configs, path)
	}
	for _, f := range files {
		if err := up.write(f.path, f.data, f.mode, f.uid, f.gid); err != nil {
			return nil, fmt.Errorf("%s: %w", hosts[0].root, err)
		}
	}
	return configs, nil
}
