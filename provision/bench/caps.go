package bench

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/internal/linuxcap"
)

// CapMask is a set of Linux capabilities as /proc/PID/status prints it (CapEff: 0000004400080000).
type CapMask uint64

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

// Caps builds a mask from capability names or numbers.
func Caps(names ...string) (CapMask, error) {
	var m CapMask
	for _, n := range names {
		v, err := linuxcap.Number(n)
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

// Names lists the capabilities in the mask, lowest number first ("cap_sys_ptrace,cap_syslog"); one
// beyond the table is cap_N.
func (m CapMask) Names() []string {
	var out []string
	for b := 0; b < 64; b++ {
		if m&(1<<uint(b)) == 0 {
			continue
		}
		if n, ok := linuxcap.Name(b); ok {
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
// set, which is what a file capability needs to act without the program's cooperation. It is
// lenient where the capabilities resource is strict: a name it does not know is left out, and
// words that are no clause (getcap's error text) are skipped; any says a clause was read.
func parseCapText(line, path string) (eff CapMask, any bool) {
	text := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), path))
	text = strings.TrimSpace(strings.TrimPrefix(text, "="))
	for _, word := range strings.Fields(text) {
		clause, ok := linuxcap.ParseClause(word)
		if !ok {
			continue
		}
		var m CapMask
		if clause.EveryCap() {
			m = ^CapMask(0)
		} else {
			for _, n := range strings.Split(clause.Names, ",") {
				if v, err := linuxcap.Number(n); err == nil {
					m |= 1 << uint(v)
				}
			}
		}
		any = true
		for _, st := range clause.Steps {
			hasE := strings.Contains(st.Flags, "e")
			switch st.Op {
			case '=', '+':
				if hasE {
					eff |= m
				} else if st.Op == '=' {
					eff &^= m
				}
			case '-':
				if hasE {
					eff &^= m
				}
			}
		}
	}
	return eff, any
}
