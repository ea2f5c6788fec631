package spec

import (
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// AttrSchema describes one attribute of a resource type.
type AttrSchema struct {
	Name     string
	Type     cty.Type
	Required bool
	// Default is the value of an optional attribute that is not set (cty.NilVal: null).
	Default cty.Value
	// DefaultsToName: an unset attribute takes the resource's name (user and group names).
	DefaultsToName bool
	Sensitive      bool
	Doc            string
	// Check is the attribute's rule beyond its type, or nil. It is given a known, non-null value
	// (list elements may be unknown: it skips them) and returns an error whose message is a
	// sentence. The loader runs it on values known at load time, the resource on every value
	// before it reaches a host: one rule for both.
	Check func(v cty.Value) error
	// RequiredWith names an attribute that, when set, makes this one required too; RequiredWhy
	// says why, as a clause ("a download is only used when its sha256 matches").
	RequiredWith string
	RequiredWhy  string
	// LocalFiles: the value names controller files (one path or a list), relative to the
	// declaring file's directory, that must exist when the spec loads.
	LocalFiles bool
}

// ResourceSchema describes one resource type: its attributes and what it does.
type ResourceSchema struct {
	Type  string
	Doc   string
	Attrs []AttrSchema
	// OneOf lists groups of attributes of which exactly one must be set (for example content or source).
	OneOf [][]string
}

// Attr returns the schema of the named attribute, or nil.
func (s *ResourceSchema) Attr(name string) *AttrSchema {
	for i := range s.Attrs {
		if s.Attrs[i].Name == name {
			return &s.Attrs[i]
		}
	}
	return nil
}

// Schemas is a catalogue of resource types by name: what the loader accepts in resource blocks.
// provision/resource holds the one catalogue, with each type's implementation.
type Schemas map[string]*ResourceSchema

// Names returns the catalogue's type names, sorted.
func (c Schemas) Names() []string {
	out := make([]string, 0, len(c))
	for n := range c {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MetaArguments are accepted by every resource block and are not resource attributes.
var MetaArguments = []string{"hosts", "depends_on", "for_each", "count"}
