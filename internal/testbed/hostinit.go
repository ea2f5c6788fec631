package testbed

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// A lab host is one process tree: this package's own binary re-executed as PID 1 of new mount,
// UTS, IPC and PID namespaces (the "host init"). It mounts the host's overlay root, /proc, /sys,
// /dev, /run and /tmp, pivots into the root, starts sshd and then only reaps orphans. Killing it
// kills every process of the host, and the host's mounts, which exist only in its mount
// namespace, vanish with them: nothing is ever mounted in the machine's namespace.

// initEnv carries the host init's configuration (JSON) to the re-executed binary.
const initEnv = "PERFPROV_TESTBED_HOST_INIT"

type initConfig struct {
	Name      string   `json:"name"`
	Lower     []string `json:"lower"`
	Upper     string   `json:"upper"`
	Work      string   `json:"work"`
	Root      string   `json:"root"`
	Ephemeral bool     `json:"ephemeral"` // fd 3 is a pipe from the owner: EOF means the owner died
	// SSHD lists the sshd configuration files (paths inside the root) of a shared root, one sshd
	// each; empty for a host of its own, whose one sshd reads the default configuration.
	SSHD []string `json:"sshd,omitempty"`
}

func init() {
	if cfg := os.Getenv(initEnv); cfg != "" {
		os.Exit(hostInitMain(cfg))
	}
}

func hostInitMain(raw string) int {
	var cfg initConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "host init: bad config: %v\n", err)
		return 1
	}
	os.Unsetenv(initEnv)
	if cfg.Ephemeral {
		// Watch the owner from the start: it may die while this host is still coming up.
		syscall.CloseOnExec(3)
		go func() {
			io.Copy(io.Discard, os.NewFile(3, "owner"))
			fmt.Fprintf(os.Stderr, "host init %s: owner process ended, stopping\n", cfg.Name)
			os.Exit(0)
		}()
	}
	if err := setupHost(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "host init %s: %v\n", cfg.Name, err)
		return 1
	}
	configs := cfg.SSHD
	if len(configs) == 0 {
		configs = []string{""}
	}
	for _, c := range configs {
		if err := startSSHD(c); err != nil {
			fmt.Fprintf(os.Stderr, "host init %s: %v\n", cfg.Name, err)
			return 1
		}
	}
	fmt.Fprintf(os.Stderr, "host init %s: up\n", cfg.Name)

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	reap()
	for s := range sigs {
		if s != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "host init %s: %v, stopping\n", cfg.Name, s)
			return 0
		}
		reap()
	}
	return 0
}

// reap collects every exited child: orphans of the host are reparented to its PID 1.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func setupHost(cfg initConfig) error {
	// Nothing mounted here may propagate back to the machine.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := cfg.Root
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(cfg.Lower, ":"), cfg.Upper, cfg.Work)
	if err := syscall.Mount("overlay", root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay root (%s): %w", opts, err)
	}
	const nsd = syscall.MS_NOSUID | syscall.MS_NODEV
	mounts := []struct {
		src, dst, fstype string
		flags            uintptr
		data             string
		mode             os.FileMode
	}{
		{"proc", "proc", "proc", nsd | syscall.MS_NOEXEC, "", 0o555},
		{"sysfs", "sys", "sysfs", nsd | syscall.MS_NOEXEC, "", 0o555},
		{"tmpfs", "dev", "tmpfs", syscall.MS_NOSUID, "mode=0755,size=64k", 0o755},
		{"devpts", "dev/pts", "devpts", syscall.MS_NOSUID | syscall.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5", 0o755},
		{"tmpfs", "dev/shm", "tmpfs", nsd, "mode=1777", 0o1777},
		{"tmpfs", "run", "tmpfs", nsd, "mode=0755", 0o755},
		{"tmpfs", "tmp", "tmpfs", nsd, "mode=1777", 0o1777},
	}
	for _, m := range mounts {
		dst := filepath.Join(root, m.dst)
		if err := os.MkdirAll(dst, m.mode); err != nil {
			return err
		}
		if err := syscall.Mount(m.src, dst, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on /%s: %w", m.fstype, m.dst, err)
		}
		if m.dst == "dev" {
			if err := populateDev(dst); err != nil {
				return err
			}
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"run/sshd", 0o755}, {"run/lock", 0o1777}} {
		if err := os.Mkdir(filepath.Join(root, d.path), d.mode); err != nil {
			return err
		}
		os.Chmod(filepath.Join(root, d.path), d.mode)
	}
	if err := syscall.Sethostname([]byte(cfg.Name)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	// pivot_root(".", ".") stacks the old root under the new one; detaching it leaves the host
	// with only its own mounts, so /proc/mounts inside looks like a real machine's.
	if err := os.Chdir(root); err != nil {
		return err
	}
	if err := syscall.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := syscall.Unmount(".", syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	return os.Chdir("/")
}

func populateDev(dev string) error {
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, n := range nodes {
		// The old 16-bit encoding is exact for these small major and minor numbers.
		num := int(n.major<<8 | n.minor)
		if err := syscall.Mknod(filepath.Join(dev, n.name), syscall.S_IFCHR|0o666, num); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", n.name, err)
		}
	}
	links := [][2]string{{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// startSSHD starts one sshd, which detaches and is then reaped by this init. With config "" it
// reads the default configuration, whose sshd_config.d pins it to the host's own address;
// otherwise that file (a shared root's sshd: its addresses, keys and PID file).
func startSSHD(config string) error {
	cmd := exec.Command("/usr/sbin/sshd")
	if config != "" {
		cmd.Args = append(cmd.Args, "-f", config)
	}
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start sshd: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
