// Package funcs is the function table of spec expressions: go-cty's standard library, the
// conversions, and perfprov's own (file, templatefile, sha256, filesha256, shellquote, try, can).
// File functions read through the ReadFile the loader gives, so that a module reads its own files
// (on disk or embedded) and nothing else decides where they are.
package funcs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/perfprov/perfprov/internal/shell"
)

// stdFunctions returns the go-cty standard library functions available in every expression
// (a fresh map: each module's table is its own).
func stdFunctions() map[string]function.Function {
	return map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"index":           stdlib.IndexFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
	}
}

// Names lists every function a spec may call, sorted (for documentation and tests).
func Names() []string {
	table := Table(nil)
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadFile reads a file a function names, relative to the calling module's directory.
type ReadFile func(path string) ([]byte, error)

// Table returns the function table for expressions of a module whose files read reads.
func Table(read ReadFile) map[string]function.Function {
	out := stdFunctions()
	for _, t := range []struct {
		name string
		ty   cty.Type
	}{{"tostring", cty.String}, {"tonumber", cty.Number}, {"tobool", cty.Bool},
		{"tolist", cty.List(cty.DynamicPseudoType)}, {"toset", cty.Set(cty.DynamicPseudoType)},
		{"tomap", cty.Map(cty.DynamicPseudoType)}} {
		out[t.name] = stdlib.MakeToFunc(t.ty)
	}
	out["length"] = lengthFunc()
	out["try"] = tryfunc.TryFunc
	out["can"] = tryfunc.CanFunc
	out["sha256"] = function.New(&function.Spec{
		Description: "sha256 of a string, as lowercase hex.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			sum := sha256.Sum256([]byte(args[0].AsString()))
			return cty.StringVal(hex.EncodeToString(sum[:])), nil
		},
	})
	// shellquote is perfprov's one quoting helper (internal/shell), offered to specs: a value
	// interpolated into run, unless, only_if or commands goes through it.
	out["shellquote"] = function.New(&function.Spec{
		Description: "A string as one POSIX shell word that the shell reads back as exactly that string.",
		Params:      []function.Parameter{{Name: "str", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(shell.Quote(args[0].AsString())), nil
		},
	})
	addFileFuncs(out, read)
	return out
}

// addFileFuncs adds the functions that read the module's files.
func addFileFuncs(out map[string]function.Function, read ReadFile) {
	out["file"] = fileFunc(read, "The content of a file, relative to the module's directory.",
		func(b []byte) cty.Value { return cty.StringVal(string(b)) })
	out["filesha256"] = fileFunc(read, "sha256 of a file's content, relative to the module's directory.",
		func(b []byte) cty.Value {
			sum := sha256.Sum256(b)
			return cty.StringVal(hex.EncodeToString(sum[:]))
		})
	out["templatefile"] = function.New(&function.Spec{
		Description: "Renders a template file with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			b, err := read(p)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read template: %w", err)
			}
			vars := args[1]
			if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
				return cty.NilVal, fmt.Errorf("vars must be an object or a map, not %s", vars.Type().FriendlyName())
			}
			if !vars.IsWhollyKnown() {
				return cty.UnknownVal(cty.String), nil
			}
			expr, diags := hclsyntax.ParseTemplate(b, p, hcl2.Pos{Line: 1, Column: 1, Byte: 0})
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("template %s: %s", p, DiagnosticsText(diags))
			}
			ctx := &hcl2.EvalContext{Variables: map[string]cty.Value{}, Functions: stdFunctions()}
			if !vars.IsNull() {
				for it := vars.ElementIterator(); it.Next(); {
					k, v := it.Element()
					ctx.Variables[k.AsString()] = v
				}
			}
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("template %s: %s", p, DiagnosticsText(diags))
			}
			if val.IsNull() {
				return cty.NilVal, fmt.Errorf("template %s produced null", p)
			}
			return val, nil
		},
	})
}

// DiagnosticsText is diagnostics' errors as one line, "file:line,col: summary: detail; ...":
// how an error inside an expression (a template, a validation condition) is quoted in the
// diagnostic about the expression.
func DiagnosticsText(diags hcl2.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl2.DiagError {
			continue
		}
		s := d.Summary
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d,%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
		}
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// lengthFunc is length for collections and, as in Terraform, strings (in characters).
func lengthFunc() function.Function {
	return function.New(&function.Spec{
		Description: "The number of elements of a collection, or of characters of a string.",
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowUnknown: true,
			AllowDynamicType: true, AllowMarked: true}},
		Type: function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, marks := args[0].Unmark()
			if v.Type() == cty.String {
				r, err := stdlib.Strlen(v)
				return r.WithMarks(marks), err
			}
			r, err := stdlib.Length(v)
			return r.WithMarks(marks), err
		},
	})
}

// fileFunc is a function of one path argument that reads the file and returns of(content).
func fileFunc(read ReadFile, desc string, of func([]byte) cty.Value) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			b, err := read(args[0].AsString())
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot read file: %w", err)
			}
			return of(b), nil
		},
	})
}
