package facts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The host hardware and kernel facts: PMUs, CPU model and count, mounts.

// classifyPMUs picks the hardware CPU PMUs among the event sources and names their family.
func classifyPMUs(sources []string, arch string) ([]string, string) {
	var pmus []string
	kinds := map[string]bool{}
	for _, s := range sources {
		kind := ""
		switch {
		case s == "cpu_core" || s == "cpu_atom" || s == "cpu_lowpower":
			kind = "hybrid"
		case s == "cpu":
			kind = cpuPMUKind(arch)
		case strings.HasPrefix(s, "armv"), strings.HasPrefix(s, "arm_cortex"), strings.HasPrefix(s, "arm_pmu"),
			strings.HasPrefix(s, "apple_") && strings.HasSuffix(s, "_pmu"):
			kind = "arm"
		case s == "cpum_cf":
			kind = "s390"
		}
		if kind != "" {
			pmus = append(pmus, s)
			kinds[kind] = true
		}
	}
	switch {
	case len(pmus) == 0:
		return []string{}, ""
	case kinds["hybrid"]:
		return pmus, "hybrid"
	}
	for _, k := range []string{"x86", "arm", "power", "s390", "riscv", "other"} {
		if kinds[k] {
			return pmus, k
		}
	}
	return pmus, "other"
}

func cpuPMUKind(arch string) string {
	switch {
	case arch == "x86_64" || arch == "i686" || arch == "i386" || arch == "":
		return "x86"
	case strings.HasPrefix(arch, "arm") || arch == "aarch64":
		return "arm"
	case strings.HasPrefix(arch, "ppc"):
		return "power"
	case strings.HasPrefix(arch, "riscv"):
		return "riscv"
	case strings.HasPrefix(arch, "s390"):
		return "s390"
	}
	return "other"
}

// cpuModel reads the first processor's block of /proc/cpuinfo; field names differ by architecture.
func cpuModel(o *output) string {
	fields := map[string]string{}
	for _, l := range o.files["/proc/cpuinfo"] {
		if strings.TrimSpace(l) == "" {
			if len(fields) > 0 {
				break
			}
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := fields[k]; !seen {
			fields[k] = strings.TrimSpace(v)
		}
	}
	for _, k := range []string{"model name", "Model Name", "cpu model", "Processor", "cpu", "uarch"} {
		if v := fields[k]; v != "" {
			return v
		}
	}
	if v, _ := o.first("lscpu.model"); v != "" && v != "-" {
		return v
	}
	if impl, part := fields["CPU implementer"], fields["CPU part"]; impl != "" || part != "" {
		return fmt.Sprintf("implementer %s part %s", impl, part)
	}
	return ""
}

// countCPUList counts a kernel CPU list such as "0-3,8,10-11".
func countCPUList(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("%q is not a CPU list", clip(s))
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("%q is not a CPU list", clip(s))
			}
		}
		n += b - a + 1
	}
	return n, nil
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point, fstype string
	options       []string
}

// parseMounts finds, for each install prefix, the mount that holds it: the longest mount point
// above the resolved prefix, the last mounted when one is mounted over another.
func parseMounts(f *Facts, o *output) error {
	var mounts []mountEntry
	for _, l := range o.files["/proc/self/mountinfo"] {
		m, err := parseMountinfo(l)
		if err != nil {
			return err
		}
		mounts = append(mounts, m)
	}
	for _, p := range o.kv["prefix"] {
		prefix, resolved, ok := strings.Cut(p, " ")
		if !ok || resolved == "" {
			resolved = prefix
		}
		best := -1
		for i, m := range mounts {
			if !holds(m.point, resolved) {
				continue
			}
			if best < 0 || len(m.point) >= len(mounts[best].point) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		m := mounts[best]
		f.Mounts[prefix] = Mount{
			Path: resolved, MountPoint: m.point, FSType: m.fstype, Options: m.options,
			NoSuid:   slices.Contains(m.options, "nosuid"),
			NoExec:   slices.Contains(m.options, "noexec"),
			ReadOnly: slices.Contains(m.options, "ro"),
		}
	}
	return nil
}

func holds(point, path string) bool {
	return point == "/" || path == point || strings.HasPrefix(path, point+"/")
}

// parseMountinfo reads "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER".
func parseMountinfo(l string) (mountEntry, error) {
	fs := strings.Fields(l)
	sep := slices.Index(fs, "-")
	if len(fs) < 6 || sep < 6 || sep+1 >= len(fs) {
		return mountEntry{}, fmt.Errorf("/proc/self/mountinfo: malformed line %q", clip(l))
	}
	return mountEntry{point: unescapeMount(fs[4]), fstype: fs[sep+1], options: strings.Split(fs[5], ",")}, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space) in mount points.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
