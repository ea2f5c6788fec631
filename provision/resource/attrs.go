package resource

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

// attrs reads a resource's evaluated attributes with one error per problem.
type attrs struct{ r *spec.Resource }

func (a attrs) value(name string) (cty.Value, error) {
	v, ok := a.r.Attrs[name]
	if !ok || v == cty.NilVal || v.IsNull() {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	if !v.IsWhollyKnown() {
		return v, fmt.Errorf("attribute %q is not known (it reads a value that this host did not provide)", name)
	}
	v, _ = v.Unmark()
	return v, nil
}

// str returns the attribute as a string; set is false when it is null.
func (a attrs) str(name string) (s string, set bool, err error) {
	v, err := a.value(name)
	if err != nil || v.IsNull() {
		return "", false, err
	}
	if v.Type() == cty.Number {
		return v.AsBigFloat().Text('f', -1), true, nil
	}
	if v.Type() == cty.Bool {
		return strconv.FormatBool(v.True()), true, nil
	}
	if v.Type() != cty.String {
		return "", false, fmt.Errorf("attribute %q must be a string", name)
	}
	return v.AsString(), true, nil
}

func (a attrs) strOr(name, def string) (string, error) {
	s, set, err := a.str(name)
	if !set {
		return def, err
	}
	return s, err
}

func (a attrs) boolean(name string, def bool) (bool, error) {
	v, err := a.value(name)
	if err != nil || v.IsNull() {
		return def, err
	}
	if v.Type() != cty.Bool {
		return def, fmt.Errorf("attribute %q must be a bool", name)
	}
	return v.True(), nil
}

// integer returns a whole number attribute; set is false when it is null.
func (a attrs) integer(name string) (n int64, set bool, err error) {
	v, err := a.value(name)
	if err != nil || v.IsNull() {
		return 0, false, err
	}
	if v.Type() != cty.Number {
		return 0, false, fmt.Errorf("attribute %q must be a number", name)
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, false, fmt.Errorf("attribute %q must be a whole number", name)
	}
	return i, true, nil
}

func (a attrs) list(name string) ([]string, error) {
	v, err := a.value(name)
	if err != nil || v.IsNull() {
		return nil, err
	}
	if !v.CanIterateElements() {
		return nil, fmt.Errorf("attribute %q must be a list of strings", name)
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.Type() != cty.String {
			return nil, fmt.Errorf("attribute %q must be a list of strings", name)
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

func (a attrs) strMap(name string) (map[string]string, error) {
	v, err := a.value(name)
	if err != nil || v.IsNull() {
		return map[string]string{}, err
	}
	if !v.CanIterateElements() {
		return nil, fmt.Errorf("attribute %q must be a map of strings", name)
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || e.Type() != cty.String || k.Type() != cty.String {
			return nil, fmt.Errorf("attribute %q must be a map of strings", name)
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

// errs collects attribute errors so that a resource reports all of them at once; joined, they
// keep their identity (errors.Is sees ErrNotReady through them).
type errs []error

func (e *errs) add(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

func (e errs) err() error {
	if len(e) == 0 {
		return nil
	}
	return joined(e)
}

// joined is errors.Join on one line: a resource's problems are reported as one line, "a; b".
type joined []error

func (j joined) Error() string {
	msgs := make([]string, len(j))
	for i, err := range j {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (j joined) Unwrap() []error { return j }

// parseMode reads an octal mode such as "0750" or "750" (no symbolic modes).
func parseMode(s string) (uint32, error) {
	if err := spec.CheckMode(s); err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q: %w", s, err)
	}
	return uint32(m), nil
}

// fmtMode prints a mode as four octal digits.
func fmtMode(m uint32) string { return fmt.Sprintf("%04o", m) }

// sortedPairs renders a map as "k=v" lines in key order (for fingerprints).
func sortedPairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}
