// Package linuxcap is the one table of Linux capabilities (names and bit numbers, as in
// include/uapi/linux/capability.h) and the capability text of libcap's cap_from_text(3). The spec
// checker, the capabilities resource and the benchmark all read capabilities through it, so a
// new kernel capability is added here once.
package linuxcap

import (
	"fmt"
	"strconv"
	"strings"
)

// names are the capability names by number.
var names = []string{
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

// Max is the highest capability number a set may hold: the kernel ABI has 64 bits.
const Max = 63

// Number resolves a capability given by name ("cap_perfmon", "CAP_PERFMON", "perfmon"), by
// number ("38"), or as getcap prints one its libcap does not know ("cap_38").
func Number(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 0 || n > Max {
			return 0, fmt.Errorf("capability number %d out of range", n)
		}
		return n, nil
	}
	if strings.HasPrefix(t, "cap_") {
		if n, err := strconv.Atoi(t[4:]); err == nil && n >= 0 && n <= Max {
			return n, nil
		}
	} else {
		t = "cap_" + t
	}
	for i, n := range names {
		if n == t {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", s)
}

// Name returns the name of capability n; ok is false for a number beyond the table, which each
// caller spells its own way (libcap text prints the number, /proc readers cap_N).
func Name(n int) (name string, ok bool) {
	if n >= 0 && n < len(names) {
		return names[n], true
	}
	return "", false
}

// Known is the mask of every capability in the table: what "all" means for a current kernel.
func Known() uint64 { return 1<<len(names) - 1 }

// IsSpecName reports whether s is a capability as a spec writes it: a lowercase name of the
// table ("cap_perfmon") or a number of one or two digits up to Max ("38"). Numbers let a spec
// name a capability newer than this table.
func IsSpecName(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return len(s) <= 2 && n >= 0 && n <= Max && s[0] != '+' && s[0] != '-'
	}
	for _, n := range names {
		if n == s {
			return true
		}
	}
	return false
}
