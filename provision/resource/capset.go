package resource

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// capNames are the Linux capability names by number (include/uapi/linux/capability.h).
var capNames = []string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
	"cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
	"cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock",
	"cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource",
	"cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write",
	"cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
	"cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
}

// maxCap is the highest capability number a set may hold (the kernel ABI has 64 bits).
const maxCap = 63

// capNumber resolves a capability name ("cap_perfmon", "CAP_PERFMON", "perfmon") or number ("38").
func capNumber(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 0 || n > maxCap {
			return 0, fmt.Errorf("capability number %d out of range", n)
		}
		return n, nil
	}
	if strings.HasPrefix(t, "cap_") {
		// getcap prints caps its libcap does not know as cap_NN... or just NN.
		if n, err := strconv.Atoi(t[4:]); err == nil && n >= 0 && n <= maxCap {
			return n, nil
		}
	} else {
		t = "cap_" + t
	}
	for i, n := range capNames {
		if n == t {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", s)
}

// capName returns the canonical name of a capability number.
func capName(n int) string {
	if n >= 0 && n < len(capNames) {
		return capNames[n]
	}
	return strconv.Itoa(n)
}

// CapSet is a file capability set: the effective, permitted and inheritable bit masks.
type CapSet struct {
	E, P, I uint64
}

// Empty reports whether the set has no capability at all.
func (c CapSet) Empty() bool { return c.E|c.P|c.I == 0 }

// String renders the set in the current libcap text format, grouped by flags, names sorted by
// number: "cap_syslog,cap_perfmon=ep". An empty set is "".
func (c CapSet) String() string {
	groups := map[string][]int{}
	for n := 0; n <= maxCap; n++ {
		var f string
		if c.E&(1<<n) != 0 {
			f += "e"
		}
		if c.I&(1<<n) != 0 {
			f += "i"
		}
		if c.P&(1<<n) != 0 {
			f += "p"
		}
		if f != "" {
			groups[f] = append(groups[f], n)
		}
	}
	flags := make([]string, 0, len(groups))
	for f := range groups {
		flags = append(flags, f)
	}
	sort.Strings(flags)
	var parts []string
	for _, f := range flags {
		names := make([]string, len(groups[f]))
		for i, n := range groups[f] {
			names[i] = capName(n)
		}
		parts = append(parts, strings.Join(names, ",")+"="+f)
	}
	return strings.Join(parts, " ")
}

// NewCapSet builds a set from capability names and flags ("ep", "eip", "p", ...).
func NewCapSet(caps []string, flags string) (CapSet, error) {
	var c CapSet
	var mask uint64
	for _, name := range caps {
		n, err := capNumber(name)
		if err != nil {
			return c, err
		}
		mask |= 1 << n
	}
	for _, f := range strings.ToLower(flags) {
		switch f {
		case 'e':
			c.E |= mask
		case 'p':
			c.P |= mask
		case 'i':
			c.I |= mask
		default:
			return c, fmt.Errorf("unknown capability flag %q in %q (use e, i, p)", f, flags)
		}
	}
	return c, nil
}

// ParseCapText parses capability text as cap_from_text(3) reads it: space-separated clauses
// "names OP flags [OP flags...]" where OP is '=', '+' or '-', names is a comma-separated list
// (empty or "all" before '=' means every capability). Both getcap formats are this grammar:
// libcap < 2.41 prints "= cap_a,cap_b+ep", libcap >= 2.41 prints "cap_a,cap_b=ep".
func ParseCapText(s string) (CapSet, error) {
	var c CapSet
	for _, clause := range strings.Fields(s) {
		i := strings.IndexAny(clause, "=+-")
		if i < 0 {
			return c, fmt.Errorf("capability clause %q has no '=', '+' or '-'", clause)
		}
		namesPart, rest := clause[:i], clause[i:]
		var mask uint64
		if namesPart == "" || namesPart == "all" {
			mask = allCaps()
			if namesPart == "" && !strings.HasPrefix(rest, "=") {
				return c, fmt.Errorf("capability clause %q names no capability", clause)
			}
		} else {
			for _, n := range strings.Split(namesPart, ",") {
				num, err := capNumber(n)
				if err != nil {
					return c, err
				}
				mask |= 1 << num
			}
		}
		for rest != "" {
			op := rest[0]
			rest = rest[1:]
			j := strings.IndexAny(rest, "=+-")
			if j < 0 {
				j = len(rest)
			}
			flags := rest[:j]
			rest = rest[j:]
			if op == '=' {
				c.E &^= mask
				c.P &^= mask
				c.I &^= mask
			}
			for _, f := range flags {
				var p *uint64
				switch f {
				case 'e':
					p = &c.E
				case 'p':
					p = &c.P
				case 'i':
					p = &c.I
				default:
					return c, fmt.Errorf("unknown capability flag %q in %q", f, clause)
				}
				if op == '-' {
					*p &^= mask
				} else {
					*p |= mask
				}
			}
		}
	}
	return c, nil
}

// allCaps is every capability this table knows (what "=ep" means for a current kernel).
func allCaps() uint64 { return 1<<len(capNames) - 1 }

// ParseGetcap parses one line of getcap output for path, in either libcap format:
//
//	/usr/bin/perf = cap_sys_ptrace,cap_syslog,38+ep    (libcap < 2.41)
//	/usr/bin/perf cap_sys_ptrace,cap_syslog,cap_perfmon=ep    (libcap >= 2.41)
//
// A trailing " [rootid=N]" (namespaced file caps) is ignored. Empty output is the empty set.
func ParseGetcap(line, path string) (CapSet, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return CapSet{}, nil
	}
	if !strings.HasPrefix(line, path) {
		return CapSet{}, fmt.Errorf("getcap output %q does not start with %s", line, path)
	}
	rest := strings.TrimSpace(line[len(path):])
	if i := strings.Index(rest, "["); i >= 0 {
		rest = strings.TrimSpace(rest[:i])
	}
	return ParseCapText(rest)
}
