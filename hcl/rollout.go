package hcl

import (
	"fmt"
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/spec"
)

// The rollout block: how many hosts change at once.

var rolloutSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "parallel"}, {Name: "batch"}, {Name: "max_fail_percentage"},
}}

func (s *Spec) decodeRollout(blocks []*hcl2.Block) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	s.Rollout = spec.Rollout{Parallel: 20, MaxFailPercentage: 100}
	for i, b := range blocks {
		if i > 0 {
			diags = append(diags, errorDiag(rangePtr(b.DefRange), "Duplicate rollout block",
				fmt.Sprintf("A rollout block was already declared at %s:%d; a spec has one.", blocks[0].DefRange.Filename, blocks[0].DefRange.Start.Line)))
			continue
		}
		content, d := b.Body.Content(rolloutSchema)
		diags = append(diags, d...)
		if a := content.Attributes["parallel"]; a != nil {
			p, ok, d := s.attrInt(a, "rollout parallel")
			diags = append(diags, d...)
			if ok && p < 1 {
				diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid rollout parallel", "parallel must be at least 1."))
			} else if ok {
				s.Rollout.Parallel = p
			}
		}
		if a := content.Attributes["batch"]; a != nil {
			v, d := s.staticValue(s.state.root, a.Expr, cty.DynamicPseudoType, "rollout batch")
			diags = append(diags, d...)
			if !d.HasErrors() && !v.IsNull() {
				diags = append(diags, s.setBatch(v, a.Expr.Range())...)
			}
		}
		if a := content.Attributes["max_fail_percentage"]; a != nil {
			v, d := s.staticValue(s.state.root, a.Expr, cty.Number, "rollout max_fail_percentage")
			diags = append(diags, d...)
			if !d.HasErrors() && !v.IsNull() {
				f, _ := v.AsBigFloat().Float64()
				if f < 0 || f > 100 {
					diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid max_fail_percentage", "max_fail_percentage is a percentage from 0 to 100."))
				} else {
					s.Rollout.MaxFailPercentage = f
				}
			}
		}
	}
	return diags
}

func (s *Spec) setBatch(v cty.Value, rng hcl2.Range) hcl2.Diagnostics {
	bad := hcl2.Diagnostics{errorDiag(&rng, "Invalid rollout batch",
		`batch is a number of hosts (at least 1) or a percentage of the targeted hosts such as "25%".`)}
	if v.Type() == cty.String {
		t := strings.TrimSpace(v.AsString())
		if strings.HasSuffix(t, "%") {
			f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(t, "%")), 64)
			if err != nil || f <= 0 || f > 100 {
				return bad
			}
			s.Rollout.BatchPercent = f
			return nil
		}
	}
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() {
		return bad
	}
	bf := nv.AsBigFloat()
	n, _ := bf.Int64()
	if !bf.IsInt() || n < 1 || n > 1<<31 {
		return bad
	}
	s.Rollout.BatchSize = int(n)
	return nil
}
