package hcl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/spec"
)

// Evaluating one resource block for one host: its instances (count, for_each) and their
// attributes, checked by the catalogue's rules.

type instance struct {
	key   string // address suffix: "", "[0]", `["k"]`, "[*]"
	extra map[string]cty.Value
	index cty.Value // count index or each key, for storing the value
}

func (e *evaluator) instancesOf(r *resourceDecl) ([]instance, string) {
	m := r.mod
	switch {
	case r.count != nil:
		v, d := e.evalUsed(m, r.count, nil, r.addr())
		e.diags = append(e.diags, d...)
		if d.HasErrors() {
			return nil, "count"
		}
		if v.HasMark(sensitiveMark) {
			e.diags = append(e.diags, errorDiag(rangePtr(r.count.Range()), "Invalid count argument", "count cannot be derived from a sensitive value: it would show in resource addresses."))
			return nil, "count"
		}
		if !v.IsKnown() {
			return []instance{{key: "[*]", extra: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": cty.UnknownVal(cty.Number)})}}}, "count"
		}
		nv, err := convert.Convert(v, cty.Number)
		n, ok := int64(0), false
		if err == nil && !nv.IsNull() {
			if bf := nv.AsBigFloat(); bf.IsInt() {
				n, _ = bf.Int64()
				ok = n >= 0 && n <= maxInstances
			}
		}
		if !ok {
			e.diags = append(e.diags, errorDiag(rangePtr(r.count.Range()), "Invalid count argument",
				fmt.Sprintf("count must be a whole number from 0 to %d.", maxInstances)))
			return nil, "count"
		}
		out := make([]instance, n)
		for i := range out {
			idx := cty.NumberIntVal(int64(i))
			out[i] = instance{key: fmt.Sprintf("[%d]", i), index: idx,
				extra: map[string]cty.Value{"count": cty.ObjectVal(map[string]cty.Value{"index": idx})}}
		}
		return out, "count"
	case r.forEach != nil:
		v, d := e.evalUsed(m, r.forEach, nil, r.addr())
		e.diags = append(e.diags, d...)
		if d.HasErrors() {
			return nil, "for_each"
		}
		bad := func(detail string) ([]instance, string) {
			e.diags = append(e.diags, errorDiag(rangePtr(r.forEach.Range()), "Invalid for_each argument", detail))
			return nil, "for_each"
		}
		if _, marks := v.UnmarkDeep(); hasSensitive(marks) {
			return bad("for_each cannot be derived from a sensitive value: its keys would show in resource addresses.")
		}
		if !v.IsWhollyKnown() {
			return []instance{{key: "[*]", extra: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}}}, "for_each"
		}
		if v.IsNull() {
			return bad("for_each must be a map or a set of strings, not null.")
		}
		ty := v.Type()
		var out []instance
		switch {
		case ty.IsMapType() || ty.IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				out = append(out, instance{key: fmt.Sprintf("[%q]", k.AsString()), index: k,
					extra: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": ev})}})
			}
		case ty.IsSetType():
			if !ty.ElementType().Equals(cty.String) {
				sv, err := convert.Convert(v, cty.Set(cty.String))
				if err != nil {
					return bad(fmt.Sprintf("for_each must be a map or a set of strings; this is a set of %s.", ty.ElementType().FriendlyName()))
				}
				v = sv
			}
			for it := v.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				if ev.IsNull() {
					return bad("for_each set elements cannot be null.")
				}
				out = append(out, instance{key: fmt.Sprintf("[%q]", ev.AsString()), index: ev,
					extra: map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": ev, "value": ev})}})
			}
		default:
			return bad(fmt.Sprintf("for_each must be a map or a set of strings, not %s. Convert a list with toset(...).", ty.FriendlyName()))
		}
		if len(out) > maxInstances {
			return bad(fmt.Sprintf("for_each makes %d instances; the most is %d.", len(out), maxInstances))
		}
		return out, "for_each"
	}
	return []instance{{}}, ""
}

func (e *evaluator) evalResource(r *resourceDecl) []*spec.Resource {
	m := r.mod
	sc := e.scope(m)
	insts, mode := e.instancesOf(r)
	var out []*spec.Resource
	objs := map[string]cty.Value{}
	var tuple []cty.Value
	unknown := false
	for _, in := range insts {
		res := &spec.Resource{Addr: r.addr() + in.key, Type: r.typ, Name: r.name, Attrs: map[string]cty.Value{},
			Sensitive: map[string]bool{}, Dir: r.dir, Range: r.declRange, Module: m.addr}
		obj := e.evalAttrs(r, in.extra, res)
		out = append(out, res)
		switch {
		case in.key == "[*]":
			unknown = true
		case mode == "count":
			tuple = append(tuple, obj)
		case mode == "for_each":
			objs[in.index.AsString()] = obj
		default:
			if sc.res[r.typ] == nil {
				sc.res[r.typ] = map[string]cty.Value{}
			}
			sc.res[r.typ][r.name] = obj
		}
	}
	if mode != "" {
		if sc.res[r.typ] == nil {
			sc.res[r.typ] = map[string]cty.Value{}
		}
		switch {
		case unknown || (insts == nil):
			sc.res[r.typ][r.name] = cty.DynamicVal
		case mode == "count":
			if len(tuple) == 0 {
				sc.res[r.typ][r.name] = cty.EmptyTupleVal
			} else {
				sc.res[r.typ][r.name] = cty.TupleVal(tuple)
			}
		default:
			sc.res[r.typ][r.name] = cty.ObjectVal(objs)
		}
	}
	return out
}

// evalAttrs evaluates one instance's attributes into res (unmarked) and returns the object that
// references read (marked where sensitive).
func (e *evaluator) evalAttrs(r *resourceDecl, extra map[string]cty.Value, res *spec.Resource) cty.Value {
	m := r.mod
	marked := map[string]cty.Value{}
	for _, as := range r.schema.Attrs {
		var val cty.Value
		sensitive := as.Sensitive
		a := r.attrs[as.Name]
		if a != nil {
			v, d := e.evalUsed(m, a.Expr, extra, res.Addr)
			e.diags = append(e.diags, d...)
			unm, marks := v.UnmarkDeep()
			if hasSensitive(marks) {
				sensitive = true
			}
			conv, err := convert.Convert(unm, as.Type)
			switch {
			case d.HasErrors():
				conv = cty.UnknownVal(as.Type)
			case as.Name == "mode" && unm.Type() == cty.Number:
				e.diags = append(e.diags, errorDiag(blame(m, a.Expr), "Invalid value for mode",
					"mode must be a quoted octal string such as \"0750\": a number loses its leading zero and reads as decimal."))
				conv = cty.UnknownVal(as.Type)
			case err != nil:
				e.diags = append(e.diags, errorDiag(blame(m, a.Expr), "Incorrect attribute value type",
					fmt.Sprintf("The %s attribute of %s must be %s: %s.", as.Name, res.Addr, friendlyType(as.Type), err)))
				conv = cty.UnknownVal(as.Type)
			case conv.IsNull() && as.Required:
				e.diags = append(e.diags, errorDiag(blame(m, a.Expr), "Missing required argument",
					fmt.Sprintf("The %s attribute of %s is required, but its value is null.", as.Name, res.Addr)))
				conv = cty.UnknownVal(as.Type)
			case conv.IsNull() && as.Default != cty.NilVal:
				conv = as.Default
			case conv.IsWhollyKnown() && !conv.IsNull():
				if msg := checkValue(r, &as, conv); msg != "" {
					if sensitive {
						msg = fmt.Sprintf("The %s attribute of %s has an invalid (sensitive) value.", as.Name, res.Addr)
					}
					e.diags = append(e.diags, errorDiag(blame(m, a.Expr), "Invalid value for "+as.Name, msg))
					// Unknown from here on: what reads it is not reported again.
					conv = cty.UnknownVal(as.Type)
				}
			}
			val = conv
		} else if as.Default != cty.NilVal {
			val = as.Default
		} else {
			val = cty.NullVal(as.Type)
			if as.DefaultsToName {
				val = cty.StringVal(r.name)
			}
		}
		res.Attrs[as.Name] = val
		if sensitive {
			res.Sensitive[as.Name] = true
			marked[as.Name] = val.Mark(sensitiveMark)
		} else {
			marked[as.Name] = val
		}
	}
	for _, group := range r.schema.OneOf {
		var set []string
		for _, n := range group {
			if v := res.Attrs[n]; !v.IsNull() {
				set = append(set, n)
			}
		}
		switch {
		case len(set) > 1:
			rng := r.attrs[set[1]].NameRange
			if r.attrs[set[0]].Range.Start.Byte > rng.Start.Byte {
				rng = r.attrs[set[0]].NameRange
			}
			e.diags = append(e.diags, errorDiag(&rng, "Conflicting arguments",
				fmt.Sprintf("%s needs exactly one of %s, but both %q and %q are set.", res.Addr, quoteList(group), set[0], set[1])))
		case len(set) == 0 && anyAttrSet(r, group):
			e.diags = append(e.diags, errorDiag(rangePtr(r.declRange), "Missing required argument",
				fmt.Sprintf("%s needs exactly one of %s, but all of them are null.", res.Addr, quoteList(group))))
		}
	}
	return cty.ObjectVal(marked)
}

func anyAttrSet(r *resourceDecl, names []string) bool {
	for _, n := range names {
		if r.attrs[n] != nil {
			return true
		}
	}
	return false
}

// checkValue runs the attribute's rule from the catalogue, then, for controller files, checks
// that they exist, so that a typo shows at validate rather than halfway through an apply. It
// returns a sentence, or "".
func checkValue(r *resourceDecl, as *spec.AttrSchema, v cty.Value) string {
	if as.Check != nil {
		if err := as.Check(v); err != nil {
			msg := err.Error()
			if oneOf := (*spec.NotOneOfError)(nil); errors.As(err, &oneOf) {
				msg += didYouMean(oneOf.Value, oneOf.Allowed)
			}
			return msg
		}
	}
	if as.LocalFiles {
		return checkLocalFiles(r.dir, v)
	}
	return ""
}

// checkLocalFiles checks that the controller files v names (one path or a list) exist. Source
// archives are not checked: they are often fetched into a cache just before apply.
func checkLocalFiles(dir string, v cty.Value) string {
	var paths []string
	switch {
	case v.Type() == cty.String:
		paths = append(paths, v.AsString())
	case v.CanIterateElements():
		for _, p := range v.AsValueSlice() {
			if p.IsKnown() && !p.IsNull() && p.Type() == cty.String {
				paths = append(paths, p.AsString())
			}
		}
	}
	for _, p := range paths {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		st, err := os.Stat(full)
		switch {
		case err != nil:
			return fmt.Sprintf("The file %q (%s) does not exist or cannot be read: relative paths are relative to the directory of the spec file that names them.", p, full)
		case st.IsDir():
			return fmt.Sprintf("%q (%s) is a directory, not a file.", p, full)
		}
	}
	return ""
}
