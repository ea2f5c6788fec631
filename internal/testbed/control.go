package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/shell"
)

// Host returns the lab host with the given name.
func (l *Lab) Host(name string) (*Host, error) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return nil, fmt.Errorf("no host %q in the lab in %s", name, l.Dir)
}

// HostKey is the ed25519 key recorded for h in the lab's known_hosts (not changed by
// ChangeHostKey, like the known_hosts file).
func (h *Host) HostKey() ssh.PublicKey { return h.hostKey }

// Exec runs script with /bin/sh as root inside the host: in its namespaces and root filesystem,
// entered from the machine with nsenter, not over SSH. It returns stdout and stderr together;
// the error names the host and the exit status. Cancelling ctx kills the script. A background
// process the script leaves running should redirect its output: Exec stops reading 5s after the
// script ends.
func (l *Lab) Exec(ctx context.Context, host, script string) ([]byte, error) {
	h, err := l.running(host)
	if err != nil {
		return nil, err
	}
	if h.vm != nil {
		return l.vmExec(ctx, h, script, nil)
	}
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(h.pid),
		"--mount", "--uts", "--ipc", "--pid", "--root", "--wd", "--", "/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "USER=root", "LOGNAME=root", "LANG=C", "TERM=dumb"}
	// nsenter forks the script into the host's PID namespace; kill the whole group on cancel.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The script succeeded but left a background process holding its output open.
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return out.Bytes(), fmt.Errorf("%s: exec in the host: %w", host, ctx.Err())
		}
		msg := strings.TrimSpace(out.String())
		if len(msg) > 300 {
			msg = "..." + msg[len(msg)-300:]
		}
		return out.Bytes(), fmt.Errorf("%s: exec in the host: %w: %s", host, err, msg)
	}
	return out.Bytes(), nil
}

// running finds host and checks that its init still runs.
func (l *Lab) running(host string) (*Host, error) {
	h, err := l.Host(host)
	if err != nil {
		return nil, err
	}
	if !h.alive() {
		return nil, fmt.Errorf("%s: the host is not running (lab %s)", host, l.Dir)
	}
	return h, nil
}

// hostPath is path inside the host, as seen from the machine through its init's root.
func (h *Host) hostPath(path string) string {
	return filepath.Join("/proc", strconv.Itoa(h.pid), "root", path)
}

// WriteFile writes data to path inside the host (its directory must exist there), as root.
func (l *Lab) WriteFile(host, path string, data []byte, mode os.FileMode) error {
	h, err := l.running(host)
	if err != nil {
		return err
	}
	if h.vm != nil {
		script := fmt.Sprintf("cat > %[1]s && chmod %04[2]o %[1]s", shell.Quote(path), mode.Perm())
		_, err := l.vmExec(context.Background(), h, script, data)
		return err
	}
	return os.WriteFile(h.hostPath(path), data, mode)
}

// StopSSHD stops the host's listening sshd: new connections are refused. Sessions already open
// stay, as with a real sshd.
func (l *Lab) StopSSHD(ctx context.Context, host string) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	if _, err := l.Exec(ctx, host, `if [ -s /run/sshd.pid ]; then kill "$(cat /run/sshd.pid)"; fi`); err != nil {
		return fmt.Errorf("stop sshd: %w", err)
	}
	return waitListen(ctx, h, false)
}

// StartSSHD starts the host's sshd (after StopSSHD) and waits until it listens.
func (l *Lab) StartSSHD(ctx context.Context, host string) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	if _, err := l.Exec(ctx, host, "/usr/sbin/sshd"); err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	return waitListen(ctx, h, true)
}

func waitListen(ctx context.Context, h *Host, want bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		up, err := listening([]string{h.Address}, h.Port)
		if err != nil {
			return err
		}
		if up[h.Address] == want {
			return nil
		}
		if time.Now().After(deadline) {
			if want {
				return fmt.Errorf("%s: sshd not listening on %s:%d after 10s", h.Name, h.Address, h.Port)
			}
			return fmt.Errorf("%s: sshd still listening on %s:%d after 10s", h.Name, h.Address, h.Port)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Freeze stops (SIGSTOP) every process of the host but its init: its sshd accepts TCP
// connections in the kernel but never answers, so clients hang until their timeouts.
func (l *Lab) Freeze(ctx context.Context, host string) error {
	if err := l.signalAll(host, syscall.SIGSTOP); err != nil {
		return err
	}
	// SIGSTOP takes effect asynchronously: return once the host's processes show it, so that
	// what the caller checks next (Status, a connect) sees a frozen host.
	h, err := l.own(host)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for !isFrozen(h) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: processes still running 5s after SIGSTOP", host)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Thaw continues (SIGCONT) every process of a frozen host.
func (l *Lab) Thaw(ctx context.Context, host string) error {
	return l.signalAll(host, syscall.SIGCONT)
}

func (l *Lab) signalAll(host string, sig syscall.Signal) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	// Twice: a process forked while the first pass ran is caught by the second.
	for pass := 0; pass < 2; pass++ {
		for _, pid := range processesIn(map[string]bool{h.pidNS: true}) {
			if pid == h.pid {
				continue
			}
			if err := syscall.Kill(pid, sig); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("%s: %v to PID %d: %w", host, sig, pid, err)
			}
		}
	}
	return nil
}

// hostKeyFiles are the host key files ChangeHostKey replaces and RestoreHostKey puts back.
var hostKeyFiles = []string{"ssh_host_ed25519_key", "ssh_host_ed25519_key.pub", "ssh_host_ecdsa_key", "ssh_host_ecdsa_key.pub"}

// ChangeHostKey gives the host new host keys (ed25519 and ecdsa) and restarts its sshd. The
// lab's known_hosts keeps the old key, so strict clients must now refuse the host, until
// RestoreHostKey.
func (l *Lab) ChangeHostKey(ctx context.Context, host string) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	// Keep the recorded keys (first change only) for RestoreHostKey.
	saved := filepath.Join(l.hostDir(h), "recorded-host-keys")
	if !isDir(saved) {
		if err := os.Mkdir(saved+".tmp", 0o700); err != nil && !os.IsExist(err) {
			return fmt.Errorf("%s: save host keys: %w", host, err)
		}
		for _, f := range hostKeyFiles {
			data, err := os.ReadFile(h.hostPath("/etc/ssh/" + f))
			if err == nil {
				err = os.WriteFile(filepath.Join(saved+".tmp", f), data, 0o600)
			}
			if err != nil {
				return fmt.Errorf("%s: save host keys: %w", host, err)
			}
		}
		if err := os.Rename(saved+".tmp", saved); err != nil {
			return fmt.Errorf("%s: save host keys: %w", host, err)
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
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{"/etc/ssh/ssh_host_ed25519_key", ed.private, 0o600},
		{"/etc/ssh/ssh_host_ed25519_key.pub", ed.authorizedLine("root@" + h.Name), 0o644},
		{"/etc/ssh/ssh_host_ecdsa_key", ec.private, 0o600},
		{"/etc/ssh/ssh_host_ecdsa_key.pub", ec.authorizedLine("root@" + h.Name), 0o644},
	}
	for _, f := range files {
		if err := writeFileAtomic(h.hostPath(f.path), f.data, f.mode); err != nil {
			return fmt.Errorf("%s: new host key: %w", host, err)
		}
	}
	if err := l.StopSSHD(ctx, host); err != nil {
		return err
	}
	return l.StartSSHD(ctx, host)
}

// RestoreHostKey puts back the host keys recorded in known_hosts after ChangeHostKey, and
// restarts sshd. Without an earlier ChangeHostKey it does nothing.
func (l *Lab) RestoreHostKey(ctx context.Context, host string) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	saved := filepath.Join(l.hostDir(h), "recorded-host-keys")
	if !isDir(saved) {
		return nil
	}
	for _, f := range hostKeyFiles {
		mode := os.FileMode(0o600)
		if strings.HasSuffix(f, ".pub") {
			mode = 0o644
		}
		data, err := os.ReadFile(filepath.Join(saved, f))
		if err == nil {
			err = writeFileAtomic(h.hostPath("/etc/ssh/"+f), data, mode)
		}
		if err != nil {
			return fmt.Errorf("%s: restore host keys: %w", host, err)
		}
	}
	if err := l.StopSSHD(ctx, host); err != nil {
		return err
	}
	return l.StartSSHD(ctx, host)
}

// LiveHostKey reads the ed25519 host key the host's sshd serves now.
func (l *Lab) LiveHostKey(host string) (ssh.PublicKey, error) {
	h, err := l.own(host)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(h.hostPath("/etc/ssh/ssh_host_ed25519_key.pub"))
	if err != nil {
		return nil, fmt.Errorf("%s: read host key: %w", host, err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: parse host key: %w", host, err)
	}
	return k, nil
}

// MountNosuid bind-mounts path (a directory, created if missing) onto itself with nosuid inside
// the host: its files stay, setcap still succeeds there, but exec ignores file capabilities.
func (l *Lab) MountNosuid(ctx context.Context, host, path string) error {
	if _, err := l.own(host); err != nil {
		return err
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || path == "/" {
		return fmt.Errorf("%s: mount nosuid: %q is not a clean absolute path below /", host, path)
	}
	p := shell.Quote(path)
	script := "set -e; mkdir -p " + p + "; mount --bind " + p + " " + p + "; mount -o remount,bind,nosuid " + p
	if _, err := l.Exec(ctx, host, script); err != nil {
		return fmt.Errorf("mount nosuid: %w", err)
	}
	return nil
}

// Unmount undoes MountNosuid (or any mount at path inside the host).
func (l *Lab) Unmount(ctx context.Context, host, path string) error {
	if _, err := l.own(host); err != nil {
		return err
	}
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || path == "/" {
		return fmt.Errorf("%s: umount: %q is not a clean absolute path below /", host, path)
	}
	if _, err := l.Exec(ctx, host, "umount "+shell.Quote(path)); err != nil {
		return fmt.Errorf("umount: %w", err)
	}
	return nil
}

// Status describes each host of the lab in a few words ("up", "up, sshd stopped", "up,
// frozen", "not running"), by host name.
func Status(l *Lab) map[string]string {
	addrs := make([]string, len(l.Hosts))
	for i, h := range l.Hosts {
		addrs[i] = h.Address
	}
	up, _ := listening(addrs, sshPort)
	out := map[string]string{}
	for _, h := range l.Hosts {
		switch {
		case !h.alive():
			out[h.Name] = "not running"
		case isFrozen(h):
			out[h.Name] = "up, frozen"
		case !up[h.Address]:
			out[h.Name] = "up, sshd stopped"
		default:
			out[h.Name] = "up"
		}
	}
	return out
}

// isFrozen says whether a process of the host other than its init is stopped (SIGSTOP).
func isFrozen(h *Host) bool {
	for _, pid := range processesIn(map[string]bool{h.pidNS: true}) {
		if pid == h.pid {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'T' {
			return true
		}
	}
	return false
}

// Kill ends the host at once, as a power cut does: its init and with it every process of the
// host (sshd and the sessions in it) are killed. Its disk (the overlay's upper layer) stays, and
// Restart boots it again; /run and /tmp, tmpfs as on a real host, are lost.
func (l *Lab) Kill(ctx context.Context, host string) error {
	h, err := l.own(host)
	if err != nil {
		return err
	}
	if err := syscall.Kill(h.pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("%s: kill its init: %w", host, err)
	}
	if ch, ok := hostExited.Load(h.pid); ok {
		select {
		case <-ch.(chan struct{}):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return waitNamespacesEmpty(ctx, []string{h.pidNS}, 10*time.Second)
}

// Restart boots a host that Kill ended, on the disk it had, and waits for its sshd.
func (l *Lab) Restart(ctx context.Context, host string) error {
	h, err := l.Host(host)
	if err != nil {
		return err
	}
	if h.root != "" {
		_, err := l.own(host)
		return err
	}
	if h.alive() {
		return fmt.Errorf("%s: the host is running: Kill it first", host)
	}
	if err := l.startHost(h); err != nil {
		return err
	}
	if err := l.waitListening(ctx, []*Host{h}); err != nil {
		return err
	}
	return l.writeState()
}
