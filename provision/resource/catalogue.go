package resource

import (
	"errors"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/spec"
)

// Kind is one resource type: the schema the loader checks a resource block against, and the
// constructor that prepares an evaluated resource for the engine. Both live in the type's file.
type Kind struct {
	Schema *spec.ResourceSchema
	New    func(r *spec.Resource, env *Env) (Resource, error)
}

// kinds is the catalogue: every resource type there is. A type is added here and in its own
// file, nowhere else (the README's reference table is checked against Schemas by a test).
var kinds = []Kind{
	groupKind, userKind, directoryKind, fileKind, permissionsKind, sysctlKind,
	capabilitiesKind, packageKind, sourceKind, patchKind, buildKind, commandKind,
}

// Schemas returns the catalogue's schemas by type name, for the loader.
func Schemas() spec.Schemas {
	out := spec.Schemas{}
	for _, k := range kinds {
		out[k.Schema.Type] = k.Schema
	}
	return out
}

// Types returns the names of the resource types, sorted.
func Types() []string { return Schemas().Names() }

// New prepares r for planning: checks its attributes by the schema's rules (the same the loader
// applied to the values it knew), decodes them and does the controller-side work its type needs.
func New(r *spec.Resource, env *Env) (Resource, error) {
	for _, k := range kinds {
		if k.Schema.Type != r.Type {
			continue
		}
		if env == nil {
			env = &Env{}
		}
		if err := checkAttrs(k.Schema, r); err != nil {
			return nil, err
		}
		// Errors do not repeat the address: the engine reports them under it.
		return k.New(r, env)
	}
	return nil, fmt.Errorf("%s: resource type %q is not implemented", r.Addr, r.Type)
}

// checkAttrs runs each attribute's rule on its value, all of them, so that every problem shows.
func checkAttrs(rs *spec.ResourceSchema, r *spec.Resource) error {
	var problems errs
	set := func(name string) bool {
		v, ok := r.Attrs[name]
		return ok && v != cty.NilVal && !v.IsNull()
	}
	for _, as := range rs.Attrs {
		if as.RequiredWith != "" && set(as.RequiredWith) && !set(as.Name) {
			problems.add(fmt.Errorf("%s needs %s: %s", as.RequiredWith, as.Name, as.RequiredWhy))
		}
	}
	for _, as := range rs.Attrs {
		v, ok := r.Attrs[as.Name]
		if as.DefaultsToName && (!ok || v == cty.NilVal || v.IsNull()) {
			v, ok = cty.StringVal(r.Name), true
		}
		if as.Check == nil || !ok || v == cty.NilVal || v.IsNull() || !v.IsWhollyKnown() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if err := as.Check(v); err != nil {
			if r.Sensitive[as.Name] || as.Sensitive {
				err = fmt.Errorf("the %s attribute has an invalid (sensitive) value", as.Name)
			}
			problems.add(err)
		}
	}
	return problems.err()
}

// The adapters below turn the rules of package spec (on strings) into attribute checks.

// text applies rule to a string value.
func text(rule func(string) error) func(cty.Value) error {
	return func(v cty.Value) error {
		if v.Type() != cty.String {
			return nil
		}
		return rule(v.AsString())
	}
}

// each applies rule to every known element of a list of strings.
func each(rule func(string) error) func(cty.Value) error {
	return func(v cty.Value) error {
		if !v.CanIterateElements() {
			return nil
		}
		for _, e := range v.AsValueSlice() {
			if e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
				if err := rule(e.AsString()); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// nonEmpty is each, for a list that must have an element.
func nonEmpty(empty string, rule func(string) error) func(cty.Value) error {
	elems := each(rule)
	return func(v cty.Value) error {
		if v.CanIterateElements() && v.LengthInt() == 0 {
			return errors.New(empty)
		}
		return elems(v)
	}
}

func loginName(kind string) func(string) error {
	return func(s string) error { return spec.CheckLoginName(kind, s) }
}

func hostPath(attr string) func(string) error {
	return func(s string) error { return spec.CheckHostPath(attr, s) }
}

func wholeNumber(attr string) func(cty.Value) error {
	return func(v cty.Value) error {
		if v.Type() != cty.Number {
			return nil
		}
		return spec.CheckWholeNumber(attr, v)
	}
}

// envNames checks the keys of an environment map.
func envNames(v cty.Value) error {
	if !v.CanIterateElements() {
		return nil
	}
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		if k.Type() == cty.String && !spec.ValidEnvName(k.AsString()) {
			return fmt.Errorf("%q is not a valid environment variable name.", k.AsString())
		}
	}
	return nil
}
