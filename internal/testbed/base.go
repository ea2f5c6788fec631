package testbed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// CacheDir holds the cached base layers shared by every lab on the machine, unless
// PERFPROV_TESTBED_CACHE names another directory (on a filesystem that can hold overlay
// lower layers, about 1 GB).
const CacheDir = "/var/cache/perfprov/testbed"

func cacheDir() string {
	if d := os.Getenv("PERFPROV_TESTBED_CACHE"); d != "" {
		return d
	}
	return CacheDir
}

// Suite is the Debian release the lab hosts run.
const Suite = "bookworm"

// BasePackages are installed in every host's base on top of debootstrap's minbase variant:
// sshd and sudo for logins and become, and what later work builds on the hosts (libcap, perf).
var BasePackages = []string{
	"bison", "build-essential", "ca-certificates", "flex", "iproute2", "libcap-dev", "libcap2-bin",
	"libdw-dev", "libelf-dev", "libtraceevent-dev", "linux-perf", "openssh-server", "patch",
	"pkg-config", "procps", "sudo", "xz-utils",
}

// Fixed users of every host. Lab-only credentials: these hosts listen on loopback only.
const (
	// NopasswdUser logs in by key and has sudo without a password.
	NopasswdUser = "alice"
	// PasswdUser logs in by key or with BobPassword and needs BobPassword for sudo.
	PasswdUser = "bob"
	// BobPassword is PasswdUser's login and sudo password (lab-only).
	BobPassword = "lab-only-bob-pw-7Qx2"
)

// setupScript turns the debootstrap tree into a lab base: users, sudo rules, sshd settings,
// no host keys (each host gets its own) and no daemon started by package scripts. It reads
// bob's "user:password" line for chpasswd on stdin. Changing it rebuilds only the setup layer.
const setupScript = labUsersScript + `
cat > /etc/ssh/sshd_config.d/20-lab.conf <<'EOF'
# testbed lab host: keys for everyone, root by key only, passwords for the password tests.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UseDNS no
EOF
rm -f /etc/ssh/ssh_host_*
printf '#!/bin/sh\n# testbed: package scripts never start daemons on a lab host\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
: > /etc/machine-id
apt-get clean
`

// labUsersScript creates the lab's users and sudo rules, in a container base or a VM image.
const labUsersScript = `set -eu
useradd -m -u 1000 -U -s /bin/bash alice
useradd -m -u 1001 -U -s /bin/bash bob
usermod -p '*' alice
chpasswd
install -d -m 0700 -o root -g root /root/.ssh
install -d -m 0700 -o alice -g alice /home/alice/.ssh
install -d -m 0700 -o bob -g bob /home/bob/.ssh
printf '%s\n' 'alice ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/10-lab-alice
printf '%s\n' 'bob ALL=(ALL:ALL) ALL' > /etc/sudoers.d/10-lab-bob
chmod 0440 /etc/sudoers.d/10-lab-alice /etc/sudoers.d/10-lab-bob
visudo -c -q
mkdir -p /etc/ssh/sshd_config.d`

// base is the pair of cached layers a host's overlay stacks, topmost first.
type base struct {
	setup  string // users and configuration (small)
	rootfs string // the debootstrap tree
}

func (b base) lowerdirs() []string { return []string{b.setup, b.rootfs} }

func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// rootfsKey names the debootstrap layer: it changes with the suite, variant or package list.
func rootfsKey() string {
	pkgs := append([]string(nil), BasePackages...)
	sort.Strings(pkgs)
	return hashKey("debootstrap-v1", Suite, "minbase", strings.Join(pkgs, ","))
}

func setupKey(rootfs string) string { return hashKey("setup-v1", rootfs, setupScript, BobPassword) }

// ensureBase returns the cached base layers, building what is missing. One process builds at
// a time (flock on CacheDir/.lock); a build goes to a temporary name and is renamed when done,
// so a layer that exists is complete.
func ensureBase(ctx context.Context, logf func(string, ...any)) (base, error) {
	cache, err := filepath.Abs(cacheDir())
	if err != nil {
		return base{}, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return base{}, fmt.Errorf("lab cache: %w", err)
	}
	rootfs := filepath.Join(cache, "rootfs-"+rootfsKey())
	setup := filepath.Join(cache, "setup-"+setupKey(filepath.Base(rootfs)))
	b := base{setup: setup, rootfs: rootfs}
	if isDir(rootfs) && isDir(setup) {
		return b, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, ".lock"))
	if err != nil {
		return base{}, fmt.Errorf("lab cache lock: %w", err)
	}
	defer unlock()
	if !isDir(rootfs) {
		logf("building the lab base %s (debootstrap %s, a few minutes, once; log: %s)", rootfs, Suite, filepath.Join(cache, "debootstrap.log"))
		start := time.Now()
		if err := buildRootfs(ctx, rootfs); err != nil {
			return base{}, err
		}
		logf("lab base built in %s", time.Since(start).Round(time.Second))
	}
	if !isDir(setup) {
		if err := buildSetup(ctx, rootfs, setup); err != nil {
			return base{}, err
		}
	}
	return b, nil
}

func buildRootfs(ctx context.Context, dst string) error {
	if err := ensurePrereqs(ctx); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := removeTree(tmp); err != nil {
		return err
	}
	pkgs := append([]string(nil), BasePackages...)
	sort.Strings(pkgs)
	mirror := debianMirror()
	// A private mount namespace: the /proc and /sys debootstrap mounts in the target vanish with
	// it even if it is killed, so removing a failed tree never reaches into the machine's /sys.
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private",
		"debootstrap", "--variant=minbase", "--include="+strings.Join(pkgs, ","), Suite, tmp, mirror)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	// The log is there to watch a slow build (tail -f) and to read a failed one.
	logPath := filepath.Join(filepath.Dir(dst), "debootstrap.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("lab cache: %w", err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Cancelling kills debootstrap's children (dpkg, wget) too, not only the script.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("debootstrap %s from %s: %w: %s (full log: %s)", Suite, mirror, err, lastLine(out), logPath)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("lab cache: %w", err)
	}
	return nil
}

// buildSetup runs setupScript in an overlay over the rootfs layer and keeps the overlay's upper
// directory as the setup layer.
func buildSetup(ctx context.Context, rootfs, dst string) error {
	tmp := dst + ".tmp"
	if err := removeTree(tmp); err != nil {
		return err
	}
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return fmt.Errorf("lab cache: %w", err)
		}
	}
	script := `set -eu
mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/work" "$2/merged"
exec chroot "$2/merged" /bin/sh -c "$3"`
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", script, "setup", rootfs, tmp, setupScript)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "DEBIAN_FRONTEND=noninteractive"}
	cmd.Stdin = strings.NewReader(PasswdUser + ":" + BobPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("set up the lab base: %w: %s", err, lastLine(out))
	}
	if err := os.Rename(filepath.Join(tmp, "upper"), dst); err != nil {
		return fmt.Errorf("lab cache: %w", err)
	}
	return removeTree(tmp)
}

// ensurePrereqs installs the machine packages the lab needs when a tool is missing.
func ensurePrereqs(ctx context.Context) error {
	need := map[string]string{"debootstrap": "debootstrap", "ssh": "openssh-client",
		"nsenter": "util-linux", "unshare": "util-linux"}
	var missing []string
	seen := map[string]bool{}
	for tool, pkg := range need {
		if _, err := exec.LookPath(tool); err != nil && !seen[pkg] {
			seen[pkg] = true
			missing = append(missing, pkg)
		}
	}
	return aptInstall(ctx, missing)
}

// aptInstall installs packages on this machine (none: nothing to do), updating the package
// lists once if the first try fails (a fresh machine often has none).
func aptInstall(ctx context.Context, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	install := func() ([]byte, error) {
		args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := install(); err == nil {
		return nil
	}
	// Often a fresh machine has no package lists yet.
	if out, err := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update (to install %s): %w: %s", strings.Join(missing, " "), err, lastLine(out))
	}
	if out, err := install(); err != nil {
		return fmt.Errorf("apt-get install %s: %w: %s", strings.Join(missing, " "), err, lastLine(out))
	}
	return nil
}

// debianMirror is the machine's own Debian mirror for Suite (so the lab uses what apt uses),
// PERFPROV_TESTBED_MIRROR if set, or deb.debian.org.
func debianMirror() string {
	if m := os.Getenv("PERFPROV_TESTBED_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		if m := mirrorFromDeb822(f); m != "" {
			return m
		}
	}
	if m := mirrorFromList("/etc/apt/sources.list"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

func mirrorFromDeb822(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(fields["types"], "deb") || !hasWord(fields["suites"], Suite) {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			if strings.Contains(uri, "debian") && !strings.Contains(uri, "security") {
				return uri
			}
		}
	}
	return ""
}

func mirrorFromList(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		// deb [options] URI suite components...
		if len(w) < 3 || w[0] != "deb" {
			continue
		}
		w = w[1:]
		if strings.HasPrefix(w[0], "[") {
			for len(w) > 0 && !strings.HasSuffix(w[0], "]") {
				w = w[1:]
			}
			if len(w) > 0 {
				w = w[1:]
			}
		}
		if len(w) >= 2 && w[1] == Suite && strings.Contains(w[0], "debian") && !strings.Contains(w[0], "security") {
			return w[0]
		}
	}
	return ""
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}

// lockFile takes an exclusive flock on path, waiting until ctx is done. The lock goes with the
// process: a killed builder never leaves it held.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// removeTree removes path like os.RemoveAll, but refuses when anything is mounted at or below
// it: removing through a leftover bind mount of /dev or /sys would destroy the machine's files.
func removeTree(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(abs); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	mounts, err := mountsUnder(abs)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("refusing to remove %s: still mounted there: %s (umount them first)", abs, strings.Join(mounts, ", "))
	}
	if err := os.RemoveAll(abs); err != nil {
		return fmt.Errorf("remove %s: %w", abs, err)
	}
	return nil
}

// mountsUnder lists the mount points of this process's mount namespace at or below dir.
func mountsUnder(dir string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space...) of /proc/*/mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// lastLine is the last non-empty line of a command's output, for one-line errors.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
