package bench

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// CapMask is a set of Linux capabilities as /proc/PID/status prints it (CapEff: 0000004400080000).
type CapMask uint64

// capNumbers are the capabilities the benchmark names in its reasons; others print as cap_N.
var capNumbers = map[string]int{
	"cap_chown": 0, "cap_dac_override": 1, "cap_dac_read_search": 2, "cap_fowner": 3,
	"cap_fsetid": 4, "cap_kill": 5, "cap_setgid": 6, "cap_setuid": 7, "cap_setpcap": 8,
	"cap_linux_immutable": 9, "cap_net_bind_service": 10, "cap_net_broadcast": 11,
	"cap_net_admin": 12, "cap_net_raw": 13, "cap_ipc_lock": 14, "cap_ipc_owner": 15,
	"cap_sys_module": 16, "cap_sys_rawio": 17, "cap_sys_chroot": 18, "cap_sys_ptrace": 19,
	"cap_sys_pacct": 20, "cap_sys_admin": 21, "cap_sys_boot": 22, "cap_sys_nice": 23,
	"cap_sys_resource": 24, "cap_sys_time": 25, "cap_sys_tty_config": 26, "cap_mknod": 27,
	"cap_lease": 28, "cap_audit_write": 29, "cap_audit_control": 30, "cap_setfcap": 31,
	"cap_mac_override": 32, "cap_mac_admin": 33, "cap_syslog": 34, "cap_wake_alarm": 35,
	"cap_block_suspend": 36, "cap_audit_read": 37, "cap_perfmon": 38, "cap_bpf": 39,
	"cap_checkpoint_restore": 40,
}

// The capability sets of the kernel's perf-security guide.
var (
	// PerfmonCaps is what a kernel with CAP_PERFMON (5.8+, cap_last_cap >= 38) needs: 0000004400080000.
	PerfmonCaps = MustCaps("cap_perfmon", "cap_sys_ptrace", "cap_syslog")
	// SysAdminCaps is the broader set older kernels need.
	SysAdminCaps = MustCaps("cap_sys_admin", "cap_sys_ptrace", "cap_syslog")
	// OptionalCaps may be added on purpose (perf top ring buffers, BPF counters) without failing
	// the benchmark when no exact set was asked for.
	OptionalCaps = MustCaps("cap_ipc_lock", "cap_bpf")
)

// CapNumber returns the number of a capability given by name ("cap_perfmon", "CAP_PERFMON",
// "perfmon") or number ("38").
func CapNumber(name string) (int, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if v, err := strconv.Atoi(n); err == nil {
		if v < 0 || v > 63 {
			return 0, fmt.Errorf("capability number %d out of range", v)
		}
		return v, nil
	}
	if !strings.HasPrefix(n, "cap_") {
		n = "cap_" + n
	}
	if v, ok := capNumbers[n]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Caps builds a mask from capability names or numbers.
func Caps(names ...string) (CapMask, error) {
	var m CapMask
	for _, n := range names {
		v, err := CapNumber(n)
		if err != nil {
			return 0, err
		}
		m |= 1 << uint(v)
	}
	return m, nil
}

// MustCaps is Caps for names known at compile time.
func MustCaps(names ...string) CapMask {
	m, err := Caps(names...)
	if err != nil {
		panic(err)
	}
	return m
}

// ParseCapMask reads the hex of a /proc/PID/status Cap line.
func ParseCapMask(hex string) (CapMask, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("capability mask %q: %w", hex, err)
	}
	return CapMask(v), nil
}

// String is the /proc form: 16 hex digits.
func (m CapMask) String() string { return fmt.Sprintf("%016x", uint64(m)) }

// Names lists the capabilities in the mask, lowest number first ("cap_sys_ptrace,cap_syslog").
func (m CapMask) Names() []string {
	byNum := make(map[int]string, len(capNumbers))
	for n, v := range capNumbers {
		byNum[v] = n
	}
	var out []string
	for b := 0; b < 64; b++ {
		if m&(1<<uint(b)) == 0 {
			continue
		}
		if n, ok := byNum[b]; ok {
			out = append(out, n)
		} else {
			out = append(out, "cap_"+strconv.Itoa(b))
		}
	}
	return out
}

// Describe is Names joined with commas, or "none".
func (m CapMask) Describe() string {
	if m == 0 {
		return "none"
	}
	return strings.Join(m.Names(), ",")
}

// Has reports whether every capability of want is in m.
func (m CapMask) Has(want CapMask) bool { return m&want == want }

// Count is the number of capabilities in the mask.
func (m CapMask) Count() int { return bits.OnesCount64(uint64(m)) }

// parseCapText reads the capability names out of a getcap line in either format
// ("/p = cap_perfmon,cap_syslog+ep" before libcap 2.41, "/p cap_perfmon,cap_syslog=ep" after,
// numbers for names an old libcap did not know). It returns the capabilities in the effective
// set, which is what a file capability needs to act without the program's cooperation.
func parseCapText(line, path string) (eff CapMask, any bool) {
	text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), path))
	text = strings.TrimSpace(strings.TrimPrefix(text, "="))
	if text == "" {
		return 0, false
	}
	// A text holds clauses "names OP flags" where OP is one of = + -.
	for _, clause := range splitClauses(text) {
		names, op, flags := clause[0], clause[1], clause[2]
		var m CapMask
		if names == "" || names == "all" {
			m = ^CapMask(0)
		} else {
			for _, n := range strings.Split(names, ",") {
				if v, err := CapNumber(n); err == nil {
					m |= 1 << uint(v)
				}
			}
		}
		any = true
		hasE := strings.Contains(flags, "e")
		switch op {
		case "=", "+":
			if hasE {
				eff |= m
			} else if op == "=" {
				eff &^= m
			}
		case "-":
			if hasE {
				eff &^= m
			}
		}
	}
	return eff, any
}

// splitClauses splits "a,b=ep c+i" (space separated clauses, each names OP flags, where a
// clause may chain operators: "cap_x=e+p") into [names, op, flags] triples.
func splitClauses(text string) [][3]string {
	var out [][3]string
	for _, c := range strings.Fields(text) {
		i := strings.IndexAny(c, "=+-")
		if i < 0 {
			continue
		}
		names := c[:i]
		rest := c[i:]
		for rest != "" {
			op := rest[:1]
			rest = rest[1:]
			j := strings.IndexAny(rest, "=+-")
			if j < 0 {
				j = len(rest)
			}
			out = append(out, [3]string{names, op, rest[:j]})
			rest = rest[j:]
		}
	}
	return out
}
