package facts

import (
	"bufio"
	"bytes"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/provision/distro"
)

const (
	header    = "perfprov-facts 1"
	endMarker = "end perfprov-facts"
)

// capPerfmon is CAP_PERFMON's number (Linux 5.8).
const capPerfmon = 38

// output is the facts script's output, split into its keys and the files it dumped.
type output struct {
	kv    map[string][]string // KEY -> values in order
	files map[string][]string // path -> lines in order
}

func (o *output) first(key string) (string, bool) {
	if v := o.kv[key]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

func (o *output) file(path string) (string, bool) {
	if v := o.files[path]; len(v) > 0 {
		return v[0], true
	}
	return "", false
}

// Parse reads the output of the facts script. Lines before the header are ignored (a shell rc file
// may print them); output without the end line is reported as truncated.
func Parse(stdout []byte) (*Facts, error) {
	out, err := split(stdout)
	if err != nil {
		return nil, err
	}
	return build(out)
}

func split(stdout []byte) (*output, error) {
	out := &output{kv: map[string][]string{}, files: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	started, ended := false, false
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !started {
			if line == header {
				started = true
			} else if strings.HasPrefix(line, "perfprov-facts ") {
				return nil, fmt.Errorf("facts format %q is not understood by this perfprov (it reads %q)",
					strings.TrimPrefix(line, "perfprov-facts "), header)
			}
			continue
		}
		if line == endMarker {
			ended = true
			break
		}
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("facts output line %d is not KEY=VALUE: %q", n, clip(line))
		}
		if key == "file" {
			path, content, _ := strings.Cut(value, "\t")
			out.files[path] = append(out.files[path], content)
			continue
		}
		out.kv[key] = append(out.kv[key], value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("facts output: %w", err)
	}
	switch {
	case !started && n == 0:
		return nil, fmt.Errorf("the facts script printed nothing")
	case !started:
		return nil, fmt.Errorf("the facts script's output has no %q header (first line: %q)", header, clip(firstNonEmpty(stdout)))
	case !ended:
		return nil, fmt.Errorf("the facts output is truncated: no %q line after %d lines", endMarker, n)
	}
	return out, nil
}

func build(o *output) (*Facts, error) {
	f := &Facts{CapLastCap: -1, KptrRestrict: -1, NMIWatchdog: -1, UID: -1, Mounts: map[string]Mount{}}
	var ok bool
	if f.KernelRelease, ok = o.file("/proc/sys/kernel/osrelease"); !ok || f.KernelRelease == "" {
		detail := ""
		if st, ok := o.first("awk.status"); ok && st != "0" {
			detail = fmt.Sprintf(" (awk exited %s)", st)
		}
		return nil, fmt.Errorf("the facts output has no kernel release%s", detail)
	}
	f.KernelVersion, _ = o.file("/proc/sys/kernel/version")
	for path, lines := range o.files {
		if strings.HasPrefix(path, "/etc/ssh/ssh_host_") && strings.HasSuffix(path, "_key.pub") {
			for _, l := range lines {
				if l = strings.TrimSpace(l); l != "" {
					f.SSHHostKeys = append(f.SSHHostKeys, l)
				}
			}
		}
	}
	sort.Strings(f.SSHHostKeys)
	if f.Arch, ok = o.file("/proc/sys/kernel/arch"); !ok {
		f.Arch, _ = o.first("uname.arch")
	}

	// Kernel settings.
	ints := []struct {
		path string
		dst  *int
	}{
		{"/proc/sys/kernel/cap_last_cap", &f.CapLastCap},
		{"/proc/sys/kernel/perf_event_paranoid", &f.PerfEventParanoid},
		{"/proc/sys/kernel/kptr_restrict", &f.KptrRestrict},
		{"/proc/sys/kernel/nmi_watchdog", &f.NMIWatchdog},
	}
	for _, in := range ints {
		s, ok := o.file(in.path)
		if !ok {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s reads %q, not a number", in.path, clip(s))
		}
		*in.dst = v
		if in.dst == &f.PerfEventParanoid {
			f.PerfEvents = true
		}
	}
	f.KernelPerfmonSupported = f.CapLastCap >= capPerfmon

	parseOSRelease(f, o.files)
	f.DistroParanoidPatch, f.DistroParanoidPatchReason = distroParanoidPatch(f, o)

	// PMUs.
	f.EventSources = nonNil(o.kv["event_source"])
	f.PMU, f.PMUType = classifyPMUs(f.EventSources, f.Arch)
	f.HasPMU = len(f.PMU) > 0

	// CPU.
	f.CPUModel = cpuModel(o)
	if s, ok := o.file("/sys/devices/system/cpu/online"); ok {
		n, err := countCPUList(s)
		if err != nil {
			return nil, fmt.Errorf("/sys/devices/system/cpu/online: %w", err)
		}
		f.CPUCount = n
	}

	f.PackageManager = packageManager(f, o)

	if err := parseIdentity(f, o); err != nil {
		return nil, err
	}
	_, f.HasSudo = o.first("sudo.path")
	if v, _ := o.first("sudo.nopasswd"); v == "yes" {
		f.SudoNoPassword = true
	}

	if err := parseMounts(f, o); err != nil {
		return nil, err
	}
	parsePerf(f, o)
	parseLibcap(f, o)
	return f, nil
}

// parseOSRelease reads os-release (the first of the files the script found) and places the host in
// a distribution family by its ID, then its ID_LIKE (distro.Lookup).
func parseOSRelease(f *Facts, files map[string][]string) {
	var lines []string
	for _, p := range distro.OSReleaseFiles {
		if lines = files[p]; len(lines) > 0 {
			break
		}
	}
	r := distro.ParseOSRelease(lines)
	f.OSID, f.OSIDLike, f.OSVersion, f.OSPrettyName = r.ID, r.IDLike, r.VersionID, r.PrettyName
	if fam, ok := distro.Lookup(r.ID, r.IDLike); ok {
		f.OSFamily = fam.Name
	}
}

// packageManager picks the host's package manager among those the script found: the family's
// own first (an Arch host may have dnf too), else the first found.
func packageManager(f *Facts, o *output) string {
	var present []string
	for _, c := range o.kv["pkg"] {
		for _, m := range distro.Managers {
			if c == distro.ManagerCommand(m) {
				present = append(present, m)
			}
		}
	}
	fam, _ := distro.Lookup(f.OSID, f.OSIDLike)
	return distro.Manager(fam, present)
}

// distroParanoidPatch decides whether the kernel carries the Debian/Ubuntu patch
// (CONFIG_SECURITY_PERF_EVENTS_RESTRICT), with which perf_event_paranoid > 2 requires
// CAP_SYS_ADMIN whatever CAP_PERFMON says. Upstream accepts any value but treats everything above 2
// as 2, so the value alone proves nothing; the evidence, strongest first:
//  1. the kernel's config (/boot/config-RELEASE) says so either way;
//  2. the kernel's version string names Debian or Ubuntu (their kernels carry the patch);
//  3. perf_event_paranoid is above 2: only distributions with the patch set such values;
//  4. os-release names debian or ubuntu (or is like them).
//
// Without the config the answer leans to true: a false "true" only keeps paranoid at 2 (the
// upstream default), a false "false" leaves capabilities that silently do nothing.
func distroParanoidPatch(f *Facts, o *output) (bool, string) {
	if _, ok := o.first("kconfig.path"); ok {
		// awk printed the option's line only if the config sets it at all.
		if s, _ := o.file("/boot/config-" + f.KernelRelease); strings.TrimSpace(s) == "CONFIG_SECURITY_PERF_EVENTS_RESTRICT=y" {
			return true, "kernel config has CONFIG_SECURITY_PERF_EVENTS_RESTRICT=y"
		}
		return false, "kernel config does not set CONFIG_SECURITY_PERF_EVENTS_RESTRICT"
	}
	for _, d := range []string{"Debian", "Ubuntu"} {
		if strings.Contains(f.KernelVersion, d) {
			return true, "kernel version names " + d + " (its kernels restrict paranoid > 2 to CAP_SYS_ADMIN)"
		}
	}
	if f.PerfEvents && f.PerfEventParanoid > 2 {
		return true, fmt.Sprintf("perf_event_paranoid is %d: only kernels with the Debian/Ubuntu patch give it a meaning", f.PerfEventParanoid)
	}
	for _, id := range append([]string{f.OSID}, f.OSIDLike...) {
		if id == "debian" || id == "ubuntu" {
			return true, "os_id/os_id_like is " + id + " and the kernel config is not readable"
		}
	}
	return false, "no sign of the Debian/Ubuntu paranoid patch"
}

// parseIdentity reads the user, uid, groups and the session's capability limits from the
// /proc/self/status, /etc/passwd and /etc/group lines the script dumped.
func parseIdentity(f *Facts, o *output) error {
	var gids []string
	for _, l := range o.files["/proc/self/status"] {
		fs := strings.Fields(l)
		if len(fs) < 1 {
			continue
		}
		switch fs[0] {
		case "Uid:":
			if len(fs) < 2 {
				continue
			}
			uid, err := strconv.Atoi(fs[1])
			if err != nil {
				return fmt.Errorf("/proc/self/status: Uid %q is not a number", clip(fs[1]))
			}
			f.UID = uid
		case "Gid:":
			if len(fs) >= 2 {
				gids = append([]string{fs[1]}, gids...)
			}
		case "Groups:":
			gids = append(gids, fs[1:]...)
		case "NoNewPrivs:":
			f.NoNewPrivs = len(fs) >= 2 && fs[1] == "1"
		case "CapBnd:":
			if len(fs) >= 2 {
				if n, ok := new(big.Int).SetString(fs[1], 16); ok {
					f.PerfmonInBoundingSet = n.Bit(capPerfmon) == 1
				}
			}
		}
	}
	f.IsRoot = f.UID == 0
	for _, l := range o.files["/etc/passwd"] {
		p := strings.Split(l, ":")
		if len(p) >= 3 && p[2] == strconv.Itoa(f.UID) && f.UID >= 0 {
			f.User = p[0]
			break
		}
	}
	if f.User == "" {
		f.User, _ = o.first("env.user")
	}
	names := map[string]string{}
	for _, l := range o.files["/etc/group"] {
		p := strings.Split(l, ":")
		if len(p) >= 3 {
			if _, dup := names[p[2]]; !dup {
				names[p[2]] = p[0]
			}
		}
	}
	f.Groups = []string{}
	for _, g := range gids {
		name := g
		if n, ok := names[g]; ok {
			name = n
		}
		if !slices.Contains(f.Groups, name) {
			f.Groups = append(f.Groups, name)
		}
	}
	return nil
}

var perfVersionRE = regexp.MustCompile(`^perf version (\S+)`)

func parsePerf(f *Facts, o *output) {
	p := &f.Perf
	p.Path, _ = o.first("perf.path")
	p.RealPath, _ = o.first("perf.real_path")
	p.Fingerprint, _ = o.first("perf.fingerprint")
	if p.RealPath == "" {
		p.RealPath = p.Path
	}
	switch m, _ := o.first("perf.magic"); m {
	case "elf":
		p.IsELF = true
	case "script":
		p.IsScript = true
	}
	if hex, ok := o.first("perf.magic_hex"); ok { // the script's no-awk path
		hex = strings.Join(strings.Fields(hex), "")
		p.IsELF = strings.HasPrefix(hex, "7f454c46")
		p.IsScript = strings.HasPrefix(hex, "2321")
	}
	if p.Path != "" {
		status, _ := o.first("perf.version_status")
		lines := o.kv["perf.version_out"]
		var said string
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				said = l
				break
			}
		}
		if m := perfVersionRE.FindStringSubmatch(said); m != nil && status == "0" {
			p.Version = m[1]
		} else {
			switch {
			case said != "" && status != "0":
				p.VersionError = fmt.Sprintf("perf --version exited %s: %s", status, clip(said))
			case said != "":
				p.VersionError = "perf --version printed no version: " + clip(said)
			default:
				p.VersionError = fmt.Sprintf("perf --version exited %s and printed nothing", status)
			}
		}
	}
	p.Candidates = []string{}
	for _, c := range o.kv["perf.candidate"] {
		if !slices.Contains(p.Candidates, c) {
			p.Candidates = append(p.Candidates, c)
		}
	}
	want := []string{"/usr/lib/linux-tools/" + f.KernelRelease + "/perf"}
	if mm := majorMinor(f.KernelRelease); mm != "" {
		want = append(want, "/usr/bin/perf_"+mm)
	}
	for _, w := range want {
		if slices.Contains(p.Candidates, w) {
			p.LinuxToolsPath = w
			break
		}
	}
}

// majorMinor returns "6.1" for "6.1.0-18-amd64".
func majorMinor(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	if parts[0] == "" || minor == "" {
		return ""
	}
	return parts[0] + "." + minor
}

var libcapVersionRE = regexp.MustCompile(`libcap\.so\.(2\.\d+)`)

func parseLibcap(f *Facts, o *output) {
	l := &f.Libcap
	l.SetcapPath, _ = o.first("libcap.setcap")
	l.GetcapPath, _ = o.first("libcap.getcap")
	l.CapshPath, _ = o.first("libcap.capsh")
	for _, lib := range o.kv["libcap.lib"] {
		if m := libcapVersionRE.FindStringSubmatch(lib); m != nil {
			l.LibPath, l.Version = lib, m[1]
			return
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func firstNonEmpty(b []byte) string { return firstLine(b, "") }

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
