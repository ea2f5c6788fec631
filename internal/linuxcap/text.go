package linuxcap

import (
	"fmt"
	"sort"
	"strings"
)

// Clause is one space-separated clause of capability text: a comma-separated list of names and
// one or more operator steps, "cap_a,cap_b=e+p". Names "" or "all" mean every capability.
type Clause struct {
	Names string
	Steps []Step
}

// Step is one operator ('=', '+' or '-') and the flags it applies (e, i, p).
type Step struct {
	Op    byte
	Flags string
}

// EveryCap reports whether the clause names every capability ("=ep", "all=ep").
func (c Clause) EveryCap() bool { return c.Names == "" || c.Names == "all" }

// ParseClause splits one clause; ok is false when the word has no operator (getcap prints an
// error such as "(No such file or directory)" where a clause would be).
func ParseClause(word string) (c Clause, ok bool) {
	i := strings.IndexAny(word, "=+-")
	if i < 0 {
		return Clause{}, false
	}
	c.Names = word[:i]
	rest := word[i:]
	for rest != "" {
		op := rest[0]
		rest = rest[1:]
		j := strings.IndexAny(rest, "=+-")
		if j < 0 {
			j = len(rest)
		}
		c.Steps = append(c.Steps, Step{Op: op, Flags: rest[:j]})
		rest = rest[j:]
	}
	return c, true
}

// Set is a file capability set: the effective, permitted and inheritable bit masks.
type Set struct {
	E, P, I uint64
}

// Empty reports whether the set has no capability at all.
func (c Set) Empty() bool { return c.E|c.P|c.I == 0 }

// String renders the set in the current libcap text format, grouped by flags, names sorted by
// number: "cap_syslog,cap_perfmon=ep". An empty set is "". A capability beyond the table prints
// as its number, as libcap prints it.
func (c Set) String() string {
	groups := map[string][]int{}
	for n := 0; n <= Max; n++ {
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
		list := make([]string, len(groups[f]))
		for i, n := range groups[f] {
			list[i] = textName(n)
		}
		parts = append(parts, strings.Join(list, ",")+"="+f)
	}
	return strings.Join(parts, " ")
}

func textName(n int) string {
	if name, ok := Name(n); ok {
		return name
	}
	return fmt.Sprint(n)
}

// NewSet builds a set from capability names and flags ("ep", "eip", "p", ...).
func NewSet(caps []string, flags string) (Set, error) {
	var c Set
	var mask uint64
	for _, name := range caps {
		n, err := Number(name)
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

// ParseText parses capability text as cap_from_text(3) reads it: space-separated clauses
// "names OP flags [OP flags...]" where OP is '=', '+' or '-', names is a comma-separated list
// (empty or "all" before '=' means every capability). Both getcap formats are this grammar:
// libcap < 2.41 prints "= cap_a,cap_b+ep", libcap >= 2.41 prints "cap_a,cap_b=ep".
func ParseText(s string) (Set, error) {
	var c Set
	for _, word := range strings.Fields(s) {
		clause, ok := ParseClause(word)
		if !ok {
			return c, fmt.Errorf("capability clause %q has no '=', '+' or '-'", word)
		}
		var mask uint64
		if clause.EveryCap() {
			mask = Known()
			if clause.Names == "" && clause.Steps[0].Op != '=' {
				return c, fmt.Errorf("capability clause %q names no capability", word)
			}
		} else {
			for _, n := range strings.Split(clause.Names, ",") {
				num, err := Number(n)
				if err != nil {
					return c, err
				}
				mask |= 1 << num
			}
		}
		for _, st := range clause.Steps {
			if err := c.apply(st, mask, word); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// apply applies one step of a clause to the capabilities of mask.
func (c *Set) apply(st Step, mask uint64, clause string) error {
	if st.Op == '=' {
		c.E &^= mask
		c.P &^= mask
		c.I &^= mask
	}
	for _, f := range st.Flags {
		var p *uint64
		switch f {
		case 'e':
			p = &c.E
		case 'p':
			p = &c.P
		case 'i':
			p = &c.I
		default:
			return fmt.Errorf("unknown capability flag %q in %q", f, clause)
		}
		if st.Op == '-' {
			*p &^= mask
		} else {
			*p |= mask
		}
	}
	return nil
}
