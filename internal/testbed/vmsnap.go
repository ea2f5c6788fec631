package testbed

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A booted snapshot of an image: the image booted once to its SSH login, then its memory and
// devices saved with qemu's migration to a file, and the disk as it was at that moment (an
// overlay of the image). A VM host starts from it with -incoming in seconds, on its own
// overlay of the snapshot's disk, instead of booting for minutes under emulation.

type vmSnapshot struct {
	Dir   string
	Accel string
}

func (s vmSnapshot) disk() string  { return filepath.Join(s.Dir, "disk.qcow2") }
func (s vmSnapshot) state() string { return filepath.Join(s.Dir, "state") }

// ensureVMSnapshot returns im's booted snapshot for the accelerator this machine can use,
// making it when missing (one boot: minutes under TCG).
func ensureVMSnapshot(ctx context.Context, im vmImage, logf func(string, ...any)) (vmSnapshot, error) {
	accel, err := vmAccel(ctx, im, logf)
	if err != nil {
		return vmSnapshot{}, err
	}
	s := vmSnapshot{Dir: filepath.Join(im.Dir, "snapshot-"+accel+"-"+hashKey("vm-snapshot-v1", strings.Join(qemuArgs(im, accel, "", "", 0, ""), " "))), Accel: accel}
	if isDir(s.Dir) {
		return s, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(filepath.Dir(im.Dir), ".lock"))
	if err != nil {
		return vmSnapshot{}, fmt.Errorf("lab cache lock: %w", err)
	}
	defer unlock()
	if isDir(s.Dir) {
		return s, nil
	}
	logf("booting the %s VM image once for its snapshot (%s; minutes under emulation)", im.Release.Name, accel)
	start := time.Now()
	if err := makeVMSnapshot(ctx, im, s); err != nil {
		return vmSnapshot{}, fmt.Errorf("%s VM snapshot: %w", im.Release.Name, err)
	}
	logf("%s VM snapshot made in %s", im.Release.Name, time.Since(start).Round(time.Second))
	return s, nil
}

func makeVMSnapshot(ctx context.Context, im vmImage, s vmSnapshot) error {
	tmp := s.Dir + ".tmp"
	if err := removeTree(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	disk := filepath.Join(tmp, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", im.disk(), disk).CombinedOutput(); err != nil {
		return fmt.Errorf("overlay disk: %w: %s", err, lastLine(out))
	}
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	// The clones load this state with their own disk path and forwarded address: the paths in
	// the command line may differ, the devices may not.
	pid, err := startQemu(ctx, true, tmp, qemuArgs(im, s.Accel, disk, "127.0.0.1", port, tmp))
	if err != nil {
		return err
	}
	v := &vmHost{PID: pid, Dir: tmp}
	defer func() {
		if v.alive() {
			kill(pid)
		}
	}()
	hostKey, err := readPublicKey(im.hostKey())
	if err != nil {
		return err
	}
	c, err := waitVMLogin(ctx, v, "127.0.0.1", port, im.key(), hostKey, 15*time.Minute)
	if err != nil {
		return fmt.Errorf("first boot: %w", err)
	}
	// Save a settled guest: no boot job still running, and the page cache written out.
	out, err := vmRun(ctx, c, "systemctl is-system-running --wait >/dev/null; systemctl --failed --no-legend --plain | head -5; sync", nil)
	c.Close()
	if err != nil {
		return fmt.Errorf("first boot: %w: %s", err, lastLine(out))
	}
	mon := filepath.Join(tmp, "monitor.sock")
	if _, err := hmp(ctx, mon, "stop"); err != nil {
		return err
	}
	if _, err := hmp(ctx, mon, `migrate "exec:cat > `+filepath.Join(tmp, "state")+`"`); err != nil {
		return err
	}
	for {
		info, err := hmp(ctx, mon, "info migrate")
		if err != nil {
			return err
		}
		if strings.Contains(info, "Migration status: completed") {
			break
		}
		if strings.Contains(info, "Migration status: failed") {
			return fmt.Errorf("saving the state failed: %s", strings.TrimSpace(info))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	hmp(ctx, mon, "quit")
	deadline := time.Now().Add(20 * time.Second)
	for v.alive() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, f := range []string{"monitor.sock", "qemu.pid"} {
		os.Remove(filepath.Join(tmp, f))
	}
	// The clones' overlays stack on this disk: it must never change again.
	if err := os.Chmod(disk, 0o444); err != nil {
		return err
	}
	return os.Rename(tmp, s.Dir)
}

// hmp sends one command to qemu's human monitor on sock and returns its reply.
func hmp(ctx context.Context, sock, command string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := readPrompt(r); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	if _, err := fmt.Fprintf(conn, "%s\n", command); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	if command == "quit" {
		return "", nil
	}
	reply, err := readPrompt(r)
	if err != nil {
		return "", fmt.Errorf("qemu monitor %q: %w", command, err)
	}
	return reply, nil
}

// readPrompt reads up to the monitor's next "(qemu) " prompt.
func readPrompt(r *bufio.Reader) (string, error) {
	var buf bytes.Buffer
	for {
		b, err := r.ReadByte()
		if err != nil {
			return buf.String(), err
		}
		buf.WriteByte(b)
		if bytes.HasSuffix(buf.Bytes(), []byte("(qemu) ")) {
			return strings.TrimSuffix(buf.String(), "(qemu) "), nil
		}
	}
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// vmAccel is "kvm" when a bounded probe boot of im's kernel under KVM reaches the kernel's own
// code, else "tcg" (software emulation). Some machines have a /dev/kvm that cannot run a Linux
// guest (qemu aborts, or the kernel hangs early), so opening the device is not enough. The
// verdict is cached per qemu and kernel. PERFPROV_TESTBED_ACCEL=kvm|tcg decides instead.
func vmAccel(ctx context.Context, im vmImage, logf func(string, ...any)) (string, error) {
	switch a := os.Getenv("PERFPROV_TESTBED_ACCEL"); a {
	case "kvm", "tcg":
		return a, nil
	case "":
	default:
		return "", fmt.Errorf("PERFPROV_TESTBED_ACCEL=%q: use kvm or tcg", a)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", nil
	}
	f.Close()
	version, _ := exec.CommandContext(ctx, "qemu-system-x86_64", "--version").Output()
	kernel, err := os.Stat(im.kernel())
	if err != nil {
		return "", err
	}
	verdict := filepath.Join(im.Dir, "kvm-probe-"+hashKey(string(version), kernel.ModTime().String()))
	if data, err := os.ReadFile(verdict); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	accel := "tcg"
	if probeKVM(ctx, im) {
		accel = "kvm"
	}
	logf("KVM probe: the VM hosts run under %s", accel)
	return accel, os.WriteFile(verdict, []byte(accel+"\n"), 0o644)
}

// probeKVM boots im's kernel under KVM with no root and no init, for at most 30 seconds: a
// kernel that runs panics for want of a root, and says so on the serial line.
func probeKVM(ctx context.Context, im vmImage) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host", "-m", "256",
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", im.kernel(), "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent")
	out, _ := cmd.Output()
	return bytes.Contains(out, []byte("Kernel panic"))
}

// kill stops a process and does not wait.
func kill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
