package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/internal/shell"
)

// VM hosts: qemu guests booted from a release's cached image (vmimage.go) and its booted
// snapshot (vmsnap.go), each on a copy-on-write overlay of its own, with its SSH port forwarded
// by qemu's user-mode network to the host's loopback address. They are lab hosts like the
// others (name, address, recorded host key, in the inventory), but they run the distribution's
// kernel and can reboot. The lab reaches into them over SSH as root, not with nsenter.

// vmHost is what the lab records of a VM host.
type vmHost struct {
	Release string `json:"release"`
	Image   string `json:"image"` // the image's directory in the cache
	Accel   string `json:"accel"` // kvm or tcg
	PID     int    `json:"pid"`   // qemu's
	Dir     string `json:"dir"`   // the VM's own directory in the lab: overlay, console log, monitor
}

// VMMemory is a VM host's memory (MiB): the tests' perf runs fit with room to spare.
const VMMemory = 512

func (v *vmHost) alive() bool {
	if v == nil || v.PID <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", v.PID))
	return err == nil && bytes.Contains(cmdline, []byte(v.Dir)) && !isZombie(v.PID)
}

// qemuArgs is the command line of a VM of image im on disk, its SSH port forwarded from
// addr:port. A snapshot's VM and its clones must agree on everything but the disk, the
// forwarded address and the files of dir (qemu checks the devices when it loads a state).
func qemuArgs(im vmImage, accel, disk, addr string, port int, dir string) []string {
	args := []string{
		"-name", "perfprov-vm",
		"-machine", "pc", "-m", strconv.Itoa(VMMemory), "-smp", "1",
		"-nodefaults", "-display", "none", "-no-user-config",
		"-serial", "file:" + filepath.Join(dir, "console.log"),
		"-monitor", "unix:" + filepath.Join(dir, "monitor.sock") + ",server=on,wait=off",
		"-pidfile", filepath.Join(dir, "qemu.pid"),
		"-kernel", im.kernel(), "-initrd", im.initrd(), "-append", vmKernelArgs,
		"-drive", "file=" + disk + ",if=virtio,format=qcow2,cache=unsafe,discard=unmap",
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:%s:%d-:22", addr, port),
		"-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
	}
	if accel == "kvm" {
		return append(args, "-accel", "kvm", "-cpu", "host")
	}
	return append(args, "-accel", "tcg")
}

// ownedCommand wraps argv so that it dies with this process when ephemeral: a shell holds the
// owner pipe's read end (fd 3) and kills the command at EOF, which comes when this process ends.
func ownedCommand(ctx context.Context, ephemeral bool, argv []string) (*exec.Cmd, error) {
	if !ephemeral {
		return exec.Command(argv[0], argv[1:]...), nil
	}
	ownerPipe.once.Do(func() { ownerPipe.r, ownerPipe.w, ownerPipe.err = os.Pipe() })
	if ownerPipe.err != nil {
		return nil, ownerPipe.err
	}
	const wrapper = `"$@" 3<&- & q=$!
{ read _ <&3; kill -9 $q; } 2>/dev/null &
w=$!
exec 3<&-
wait $q; s=$?
kill $w 2>/dev/null
exit $s`
	cmd := exec.Command("/bin/sh", append([]string{"-c", wrapper, "perfprov-vm-owner"}, argv...)...)
	cmd.ExtraFiles = []*os.File{ownerPipe.r}
	return cmd, nil
}

// startQemu starts qemu with args (plus extra) in its own session, and returns its PID once
// its pid file names it.
func startQemu(ctx context.Context, ephemeral bool, dir string, args []string, extra ...string) (int, error) {
	argv := append(append([]string{"qemu-system-x86_64"}, args...), extra...)
	cmd, err := ownedCommand(ctx, ephemeral, argv)
	if err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "qemu.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	pidFile := filepath.Join(dir, "qemu.pid")
	os.Remove(pidFile)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start qemu: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				return pid, nil
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(dir, "qemu.log"))
			return 0, fmt.Errorf("qemu exited at start: %s", lastLine(out))
		case <-ctx.Done():
			cmd.Process.Kill()
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// vmClient logs in to addr:port as user with the private key in keyPath, trusting only hostKey.
func vmClient(ctx context.Context, addr string, port int, user, keyPath string, hostKey ssh.PublicKey) (*ssh.Client, error) {
	pem, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	target := net.JoinHostPort(addr, strconv.Itoa(port))
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	// A guest under emulation can take seconds per handshake; the deadline bounds a stuck one.
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c, chans, reqs, err := ssh.NewClientConn(conn, target, &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey), Timeout: 60 * time.Second,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// vmRun runs script with /bin/sh on client, stdin from stdin (may be nil), and returns stdout
// and stderr together. Cancelling ctx closes the session.
func vmRun(ctx context.Context, client *ssh.Client, script string, stdin []byte) ([]byte, error) {
	s, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if stdin != nil {
		s.Stdin = bytes.NewReader(stdin)
	}
	type reply struct {
		out []byte
		err error
	}
	done := make(chan reply, 1)
	// CombinedOutput gives stdout and stderr one buffer, with the lock its two copiers need.
	go func() {
		out, err := s.CombinedOutput("/bin/sh -c " + shell.Quote(script))
		done <- reply{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// waitVMLogin retries a login until it succeeds, the deadline passes or qemu ends.
func waitVMLogin(ctx context.Context, v *vmHost, addr string, port int, keyPath string, hostKey ssh.PublicKey, limit time.Duration) (*ssh.Client, error) {
	deadline := time.Now().Add(limit)
	var last error
	for {
		c, err := vmClient(ctx, addr, port, "root", keyPath, hostKey)
		if err == nil {
			return c, nil
		}
		last = err
		if !v.alive() {
			return nil, fmt.Errorf("qemu ended: %s", vmLogTail(v.Dir))
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no SSH login after %s (%v); console: %s", limit, last, consoleTail(v.Dir))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func vmLogTail(dir string) string {
	out, _ := os.ReadFile(filepath.Join(dir, "qemu.log"))
	if len(bytes.TrimSpace(out)) == 0 {
		return "no qemu log"
	}
	return lastLine(out)
}

func consoleTail(dir string) string {
	out, _ := os.ReadFile(filepath.Join(dir, "console.log"))
	if len(bytes.TrimSpace(out)) == 0 {
		return "nothing on the console"
	}
	return lastLine(out)
}

// addVMs starts one VM host per release in releases (a release may repeat), in parallel, and
// adds them to the lab.
func (l *Lab) addVMs(ctx context.Context, releases []string, authorized []byte, logf func(string, ...any)) error {
	images := map[string]vmImage{}
	snaps := map[string]vmSnapshot{}
	for _, r := range releases {
		if _, ok := images[r]; ok {
			continue
		}
		im, err := ensureVMImage(ctx, r, logf)
		if err != nil {
			return err
		}
		snap, err := ensureVMSnapshot(ctx, im, logf)
		if err != nil {
			return err
		}
		images[r], snaps[r] = im, snap
	}
	count := map[string]int{}
	for _, h := range l.Hosts {
		if h.vm != nil {
			count[h.vm.Release]++
		}
	}
	var hosts []*Host
	for _, r := range releases {
		count[r]++
		hostKey, err := readPublicKey(images[r].hostKey())
		if err != nil {
			return err
		}
		hosts = append(hosts, &Host{Name: fmt.Sprintf("%s%d", r, count[r]), Address: l.address(len(l.Hosts) + len(hosts) + 1),
			Port: sshPort, hostKey: hostKey, vm: &vmHost{Release: r, Image: images[r].Dir, Accel: snaps[r].Accel}})
	}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			errs[i] = l.startVM(ctx, h, images[h.vm.Release], snaps[h.vm.Release], authorized, func() {
				mu.Lock()
				defer mu.Unlock()
				l.Hosts = append(l.Hosts, h)
				l.writeState()
			})
			if errs[i] == nil {
				logf("%s: VM host (%s, %s) ready in %s", h.Name, h.vm.Release, h.vm.Accel, time.Since(start).Round(100*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startVM starts h from snap on an overlay of its own and makes it the lab's: the clock set
// (a restored guest resumes at the snapshot's time), its name, and the lab's client key for
// root, alice and bob. started records h once qemu runs, so that Down finds it on failure.
func (l *Lab) startVM(ctx context.Context, h *Host, im vmImage, snap vmSnapshot, authorized []byte, started func()) error {
	dir := filepath.Join(l.Dir, hostsDir, h.Name)
	if err := removeTree(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h.vm.Dir = dir
	disk := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", snap.disk(), disk).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: overlay disk: %w: %s", h.Name, err, lastLine(out))
	}
	pid, err := startQemu(ctx, l.ephemeral, dir, qemuArgs(im, snap.Accel, disk, h.Address, h.Port, dir), "-incoming", "exec:cat "+shell.Quote(snap.state()))
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	h.vm.PID = pid
	started()
	if err := resumeIncoming(ctx, filepath.Join(dir, "monitor.sock"), time.Minute); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	c, err := waitVMLogin(ctx, h.vm, h.Address, h.Port, im.key(), h.hostKey, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	defer c.Close()
	if out, err := vmRun(ctx, c, vmAdoptScript(h.Name), authorized); err != nil {
		return fmt.Errorf("%s: set up the VM: %w: %s", h.Name, err, lastLine(out))
	}
	return nil
}

// vmAdoptScript makes a started VM the lab's host name: the clock from this machine's, the
// host name, and the key on stdin authorized for root, alice and bob.
func vmAdoptScript(name string) string {
	return fmt.Sprintf(`set -eu
date -u -s @%d >/dev/null
key=$(cat)
hostname %[2]s
echo %[2]s > /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%%s\n' %[2]s > /etc/hosts
for u in root alice bob; do
  home=$(getent passwd "$u" | cut -d: -f6)
  printf '%%s\n' "$key" >> "$home/.ssh/authorized_keys"
  chown "$u:" "$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
done
`, time.Now().Unix(), shell.Quote(name))
}

// vmClientFor logs in to VM host h as root with the lab's key.
func (l *Lab) vmClientFor(ctx context.Context, h *Host) (*ssh.Client, error) {
	return vmClient(ctx, h.Address, h.Port, "root", l.KeyPath, h.hostKey)
}

// vmExec is Exec for a VM host: the script runs as root over SSH.
func (l *Lab) vmExec(ctx context.Context, h *Host, script string, stdin []byte) ([]byte, error) {
	c, err := l.vmClientFor(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("%s: log in to the VM: %w", h.Name, err)
	}
	defer c.Close()
	out, err := vmRun(ctx, c, script, stdin)
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 300 {
			msg = "..." + msg[len(msg)-300:]
		}
		return out, fmt.Errorf("%s: exec in the VM: %w: %s", h.Name, err, msg)
	}
	return out, nil
}

// Reboot reboots VM host host with systemctl reboot and waits until it is back: a login works
// and the boot ID changed. It returns how long the reboot took. Container hosts cannot reboot.
func (l *Lab) Reboot(ctx context.Context, host string) (time.Duration, error) {
	h, err := l.running(host)
	if err != nil {
		return 0, err
	}
	if h.vm == nil {
		return 0, fmt.Errorf("%s: a container host shares this machine's kernel and cannot reboot; start a VM host (Options.VMs)", host)
	}
	before, err := l.vmExec(ctx, h, "cat /proc/sys/kernel/random/boot_id", nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := l.vmExec(ctx, h, "nohup sh -c 'sleep 1; systemctl reboot' >/dev/null 2>&1 &", nil); err != nil {
		return 0, err
	}
	deadline := start.Add(8 * time.Minute)
	for {
		if c, err := l.vmClientFor(ctx, h); err == nil {
			out, err := vmRun(ctx, c, "cat /proc/sys/kernel/random/boot_id", nil)
			if err == nil && !bytes.Equal(out, before) {
				// After a restore the emulated RTC kept the snapshot's offset: set the clock again.
				_, err = vmRun(ctx, c, fmt.Sprintf("date -u -s @%d >/dev/null", time.Now().Unix()), nil)
				c.Close()
				return time.Since(start), err
			}
			c.Close()
		}
		if !h.vm.alive() {
			return 0, fmt.Errorf("%s: qemu ended during the reboot: %s", host, vmLogTail(h.vm.Dir))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: not back %s after systemctl reboot; console: %s", host, time.Since(start).Round(time.Second), consoleTail(h.vm.Dir))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// IsVM says whether h is a VM host, and of which release.
func (h *Host) IsVM() (release string, ok bool) {
	if h.vm == nil {
		return "", false
	}
	return h.vm.Release, true
}

func readPublicKey(path string) (ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// waitGone waits until v's qemu has ended, at most limit.
func waitGone(ctx context.Context, v *vmHost, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for v.alive() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
}

// resumeIncoming waits until qemu has loaded the snapshot's state and runs the guest: the state
// says paused (the snapshot VM was stopped to save it), so the clone is continued by hand.
func resumeIncoming(ctx context.Context, mon string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		status, err := hmp(ctx, mon, "info status")
		if err == nil && strings.Contains(status, "VM status: running") {
			return nil
		}
		if err == nil && strings.Contains(status, "VM status: paused") && !strings.Contains(status, "inmigrate") {
			if _, err := hmp(ctx, mon, "cont"); err != nil {
				return err
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the snapshot's state did not load in %s (monitor: %v %s)", limit, err, strings.TrimSpace(status))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
