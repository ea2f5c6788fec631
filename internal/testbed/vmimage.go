package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A VM release is a Debian release the lab can boot as a VM host, with the distribution's own
// kernel (the container hosts share this machine's kernel).
type vmRelease struct {
	Name    string // the suite: bookworm
	Version string // 12
}

// VMReleases are the releases Options.VMs accepts, by suite name.
var VMReleases = []string{"bookworm", "trixie", "bullseye"}

var vmReleases = map[string]vmRelease{
	"bullseye": {"bullseye", "11"},
	"bookworm": {"bookworm", "12"},
	"trixie":   {"trixie", "13"},
}

// vmPackages are installed on debootstrap's minbase in every VM image: a kernel that boots,
// systemd, sshd and sudo for logins, and what the tests use offline (linux-perf, setcap).
var vmPackages = []string{
	"initramfs-tools", "iproute2", "kmod", "libcap2-bin", "linux-image-amd64", "linux-perf",
	"openssh-server", "procps", "sudo", "systemd-sysv", "udev",
}

// vmImageSize is the disk of a VM image; the tree takes about a third of it.
const vmImageSize = "3G"

// vmSetupScript turns a debootstrap tree into a VM image: the lab's users, a fixed host key
// (every VM of the image answers with it; the lab records it per address), the image's login
// key for root (the lab adds its own key when a VM starts), a static network for qemu's user
// mode (no DHCP, no resolved), timers that would run apt or fstrim masked, and an initrd that
// holds only what a virtio disk needs. $1 is the image's public login key; stdin has bob's
// "user:password" line. The .debs debootstrap fetched stay in apt's cache, so that a test can
// reinstall a package offline. Changing it rebuilds the images (its digest is in their key).
const vmSetupScript = labUsersScript + `
printf '%s\n' "$1" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
cat > /etc/ssh/sshd_config.d/20-lab.conf <<'EOF'
# testbed VM host: keys for everyone, root by key only, passwords for the password tests.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UseDNS no
EOF
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C perfprov-vm -f /etc/ssh/ssh_host_ed25519_key
echo perfprov-vm > /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\tperfprov-vm\n' > /etc/hosts
: > /etc/fstab
cat > /etc/systemd/system/lab-net.service <<'EOF'
[Unit]
Description=testbed: qemu user-mode network, static
DefaultDependencies=no
Before=network.target ssh.service
Wants=network.target
After=systemd-udevd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link set lo up
ExecStart=/bin/sh -c 'i=0; until [ -e /sys/class/net/eth0 ]; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.1; done'
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip addr add 10.0.2.15/24 dev eth0
ExecStart=/sbin/ip route add default via 10.0.2.2

[Install]
WantedBy=multi-user.target
EOF
systemctl enable lab-net.service >/dev/null 2>&1
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    man-db.timer dpkg-db-backup.timer getty@tty1.service systemd-networkd-wait-online.service \
    systemd-resolved.service systemd-timesyncd.service systemd-networkd.service; do
  systemctl mask "$u" >/dev/null 2>&1
done
printf 'MODULES=list\nCOMPRESS=gzip\n' > /etc/initramfs-tools/conf.d/testbed
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >> /etc/initramfs-tools/modules
update-initramfs -u -k all >/dev/null
rm -f /etc/machine-id /var/lib/dbus/machine-id
systemd-machine-id-setup >/dev/null
`

// vmKernelArgs boot an image straight from its kernel and initrd (no boot loader): the root is
// the whole virtio disk, mounted read-write by the kernel, since the image has no fstab.
const vmKernelArgs = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"

// vmImage is one release's cached image: a directory with the disk, the kernel and initrd taken
// out of it for direct boot, the image's root login key and its host key.
type vmImage struct {
	Release vmRelease
	Dir     string
}

func (im vmImage) disk() string    { return filepath.Join(im.Dir, "disk.qcow2") }
func (im vmImage) kernel() string  { return filepath.Join(im.Dir, "vmlinuz") }
func (im vmImage) initrd() string  { return filepath.Join(im.Dir, "initrd.img") }
func (im vmImage) key() string     { return filepath.Join(im.Dir, "id_ed25519") }
func (im vmImage) hostKey() string { return filepath.Join(im.Dir, "ssh_host_ed25519_key.pub") }

// vmImageKey names a release's image: it changes with the recipe (packages, script, size,
// users), so a changed recipe builds a new image beside the old one.
func vmImageKey(r vmRelease) string {
	pkgs := append([]string(nil), vmPackages...)
	sort.Strings(pkgs)
	return hashKey("vm-image-v1", r.Name, "minbase", strings.Join(pkgs, ","), vmSetupScript, vmImageSize, BobPassword)
}

// ensureVMImage returns release's cached image, building it when missing (debootstrap, a few
// minutes once). Builds take the cache lock, like the container base.
func ensureVMImage(ctx context.Context, release string, logf func(string, ...any)) (vmImage, error) {
	r, ok := vmReleases[release]
	if !ok {
		return vmImage{}, fmt.Errorf("no VM release %q: the lab boots %s", release, strings.Join(VMReleases, ", "))
	}
	cache, err := filepath.Abs(cacheDir())
	if err != nil {
		return vmImage{}, err
	}
	im := vmImage{Release: r, Dir: filepath.Join(cache, "vm-"+r.Name+"-"+vmImageKey(r))}
	if isDir(im.Dir) {
		return im, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return vmImage{}, fmt.Errorf("lab cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, ".lock"))
	if err != nil {
		return vmImage{}, fmt.Errorf("lab cache lock: %w", err)
	}
	defer unlock()
	if isDir(im.Dir) {
		return im, nil
	}
	logf("building the %s VM image %s (debootstrap, a few minutes, once)", r.Name, im.Dir)
	start := time.Now()
	if err := buildVMImage(ctx, im); err != nil {
		return vmImage{}, fmt.Errorf("%s VM image: %w", r.Name, err)
	}
	logf("%s VM image built in %s", r.Name, time.Since(start).Round(time.Second))
	return im, nil
}

func buildVMImage(ctx context.Context, im vmImage) error {
	if err := ensureVMPrereqs(ctx); err != nil {
		return err
	}
	tmp := im.Dir + ".tmp"
	if err := removeTree(tmp); err != nil {
		return err
	}
	tree := filepath.Join(tmp, "tree")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "build.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	run := func(what string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "DEBIAN_FRONTEND=noninteractive"}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s: %w: %s (full log: %s)", what, err, lastLine(out), logPath)
		}
		return nil
	}
	pkgs := append([]string(nil), vmPackages...)
	sort.Strings(pkgs)
	mirror := debianMirror()
	if err := run("debootstrap "+im.Release.Name+" from "+mirror, "unshare", "--mount", "--propagation", "private",
		"debootstrap", "--variant=minbase", "--include="+strings.Join(pkgs, ","), im.Release.Name, tree, mirror); err != nil {
		return err
	}
	login, err := newEd25519Key("perfprov-vm-image")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "id_ed25519"), login.private, 0o600); err != nil {
		return err
	}
	setup := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private",
		"chroot", tree, "/bin/sh", "-c", vmSetupScript, "setup", strings.TrimSpace(string(login.authorizedLine("perfprov-vm-image"))))
	setup.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "DEBIAN_FRONTEND=noninteractive"}
	setup.Stdin = strings.NewReader(PasswdUser + ":" + BobPassword + "\n")
	setup.Stdout, setup.Stderr = logFile, logFile
	if err := setup.Run(); err != nil {
		out, _ := os.ReadFile(logPath)
		return fmt.Errorf("set up the image: %w: %s (full log: %s)", err, lastLine(out), logPath)
	}
	// The kernel and initrd boot the VM directly; the tree keeps its copies (linux-image owns them).
	for src, dst := range map[string]string{"vmlinuz": "vmlinuz", "initrd.img": "initrd.img",
		"etc/ssh/ssh_host_ed25519_key.pub": "ssh_host_ed25519_key.pub"} {
		data, err := os.ReadFile(filepath.Join(tree, src))
		if err != nil {
			return fmt.Errorf("take %s out of the image: %w", src, err)
		}
		if err := os.WriteFile(filepath.Join(tmp, dst), data, 0o644); err != nil {
			return err
		}
	}
	raw := filepath.Join(tmp, "disk.raw")
	if err := run("mkfs.ext4 -d", "mkfs.ext4", "-q", "-F", "-L", "root", "-d", tree, raw, vmImageSize); err != nil {
		return err
	}
	if err := run("qemu-img convert", "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, filepath.Join(tmp, "disk.qcow2")); err != nil {
		return err
	}
	if err := os.Remove(raw); err != nil {
		return err
	}
	if err := removeTree(tree); err != nil {
		return err
	}
	logFile.Close()
	if err := os.Rename(tmp, im.Dir); err != nil {
		return fmt.Errorf("lab cache: %w", err)
	}
	return nil
}

// ensureVMPrereqs installs qemu, qemu-img and debootstrap when missing.
func ensureVMPrereqs(ctx context.Context) error {
	need := map[string]string{"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils",
		"debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs"}
	var missing []string
	for tool, pkg := range need {
		if _, err := exec.LookPath(tool); err != nil && !hasWord(strings.Join(missing, " "), pkg) {
			missing = append(missing, pkg)
		}
	}
	return aptInstall(ctx, missing)
}
