package hcl

import (
	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// usage is the tree of names an expression reads below one root (local, var, resource...): the
// evaluation context then holds those values only, not every value of the module.
type usage struct {
	whole    bool // the expression reads the value as a whole (local, local[var.k], resource.file)
	children map[string]*usage
}

// usedBy collects the traversals of expr by root name. A nil expression uses everything.
func usedBy(expr hcl2.Expression) *usage {
	u := &usage{children: map[string]*usage{}}
	if expr == nil {
		u.whole = true
		return u
	}
	for _, tr := range expr.Variables() {
		cur := u
		for i, step := range tr {
			name, ok := stepName(step)
			if !ok || i > 2 {
				break
			}
			next := cur.children[name]
			if next == nil {
				next = &usage{children: map[string]*usage{}}
				cur.children[name] = next
			}
			cur = next
		}
		// The last name taken is read whole: what follows (a dynamic index, a splat, deeper
		// attributes) is found in its value.
		cur.whole = true
	}
	return u
}

// stepName is the name a traversal step selects: root, attribute, or literal string index.
func stepName(step hcl2.Traverser) (string, bool) {
	switch s := step.(type) {
	case hcl2.TraverseRoot:
		return s.Name, true
	case hcl2.TraverseAttr:
		return s.Name, true
	case hcl2.TraverseIndex:
		if s.Key.IsKnown() && !s.Key.IsNull() && s.Key.Type() == cty.String {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// child is the usage below name; a whole usage makes every child whole.
func (u *usage) child(name string) *usage {
	if u == nil {
		return nil
	}
	if u.whole {
		return u
	}
	return u.children[name]
}

// uses reports whether name is read at all.
func (u *usage) uses(name string) bool {
	return u != nil && (u.whole || u.children[name] != nil)
}
