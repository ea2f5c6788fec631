package hcl

import (
	"fmt"
	"regexp"
	"sort"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/perfprov/perfprov/spec"
)

var (
	hostNameRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	dnsLabelRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	numericDots = regexp.MustCompile(`^[0-9.]+$`)
)

var hostSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "address"}, {Name: "port"}, {Name: "user"}, {Name: "groups"}, {Name: "vars"}},
	Blocks:     []hcl2.BlockHeaderSchema{{Type: "connection"}},
}

var groupSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "hosts"}, {Name: "vars"}},
	Blocks:     []hcl2.BlockHeaderSchema{{Type: "connection"}},
}

// staticValue evaluates an expression of the root spec that must be known when the spec loads
// (host, group, connection and rollout settings, hosts lists) and converts it to ty. It returns
// a null value when the expression is nil.
func (s *Spec) staticValue(m *module, expr hcl2.Expression, ty cty.Type, what string) (cty.Value, hcl2.Diagnostics) {
	if expr == nil {
		return cty.NullVal(ty), nil
	}
	_, diags := refs(m, expr, scope{static: true, what: what})
	if diags.HasErrors() {
		return cty.NullVal(ty), diags
	}
	val, d := expr.Value(s.staticCtx(m, expr))
	if d.HasErrors() {
		return cty.NullVal(ty), d
	}
	val, _ = val.UnmarkDeep()
	if !val.IsWhollyKnown() {
		if len(expr.Variables()) == 0 {
			// Only an expression that failed to parse is unknown without references: its
			// syntax error is already reported.
			return cty.NullVal(ty), nil
		}
		return cty.NullVal(ty), hcl2.Diagnostics{errorDiag(rangePtr(expr.Range()), "Value not known when the spec loads",
			fmt.Sprintf("%s must be known when the spec loads; it cannot depend on host facts, resources or modules.", what))}
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		return cty.NullVal(ty), hcl2.Diagnostics{errorDiag(rangePtr(expr.Range()), "Incorrect attribute value type",
			fmt.Sprintf("%s must be %s: %s.", what, friendlyType(ty), err))}
	}
	return conv, nil
}

func friendlyType(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "a string"
	case ty == cty.Number:
		return "a number"
	case ty == cty.Bool:
		return "true or false"
	case ty.IsListType() && ty.ElementType() == cty.String:
		return "a list of strings"
	case ty.IsMapType() && ty.ElementType() == cty.String:
		return "a map of strings"
	}
	return ty.FriendlyName()
}

// static attribute helpers: each returns ok=false when the attribute is absent or wrong.

func (s *Spec) attrString(a *hcl2.Attribute, what string) (string, bool, hcl2.Diagnostics) {
	if a == nil {
		return "", false, nil
	}
	v, d := s.staticValue(s.state.root, a.Expr, cty.String, what)
	if d.HasErrors() || v.IsNull() {
		return "", false, d
	}
	return v.AsString(), true, d
}

func (s *Spec) attrInt(a *hcl2.Attribute, what string) (int, bool, hcl2.Diagnostics) {
	if a == nil {
		return 0, false, nil
	}
	v, d := s.staticValue(s.state.root, a.Expr, cty.Number, what)
	if d.HasErrors() || v.IsNull() {
		return 0, false, d
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false, hcl2.Diagnostics{errorDiag(rangePtr(a.Expr.Range()), "Invalid number", what+" must be a whole number.")}
	}
	i, acc := bf.Int64()
	if acc != 0 || i > 1<<31 || i < -(1<<31) {
		return 0, false, hcl2.Diagnostics{errorDiag(rangePtr(a.Expr.Range()), "Invalid number", what+" is out of range.")}
	}
	return int(i), true, nil
}

func (s *Spec) attrStrings(a *hcl2.Attribute, what string) ([]string, bool, hcl2.Diagnostics) {
	if a == nil {
		return nil, false, nil
	}
	v, d := s.staticValue(s.state.root, a.Expr, cty.List(cty.String), what)
	if d.HasErrors() || v.IsNull() {
		return nil, false, d
	}
	var out []string
	for i, e := range v.AsValueSlice() {
		if e.IsNull() {
			return nil, false, hcl2.Diagnostics{errorDiag(elementRange(a.Expr, i), "Invalid value", what+" cannot contain null.")}
		}
		out = append(out, e.AsString())
	}
	return out, true, nil
}

func (s *Spec) attrObject(a *hcl2.Attribute, what string) (cty.Value, hcl2.Diagnostics) {
	if a == nil {
		return cty.EmptyObjectVal, nil
	}
	v, d := s.staticValue(s.state.root, a.Expr, cty.DynamicPseudoType, what)
	if d.HasErrors() || v.IsNull() {
		return cty.EmptyObjectVal, d
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return cty.EmptyObjectVal, hcl2.Diagnostics{errorDiag(rangePtr(a.Expr.Range()), "Incorrect attribute value type",
			fmt.Sprintf("%s must be an object, such as { role = \"db\" }, not %s.", what, ty.FriendlyName()))}
	}
	attrs := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		attrs[k.AsString()] = e
	}
	return cty.ObjectVal(attrs), nil
}

// elementRange returns the source range of the i-th element of a list literal, or the whole
// expression's range.
func elementRange(expr hcl2.Expression, i int) *hcl2.Range {
	if tc, ok := expr.(*hclsyntax.TupleConsExpr); ok && i >= 0 && i < len(tc.Exprs) {
		return rangePtr(tc.Exprs[i].Range())
	}
	return rangePtr(expr.Range())
}

// decodeHostsAndGroups builds Spec.Hosts and Spec.Groups with membership, vars and connection
// settings resolved (top level < groups in declaration order < host).
// hostsDecoder decodes the host, group and top-level connection blocks, then resolves each
// host's groups, connection settings and vars (top level, then groups in order, then the host).
type hostsDecoder struct {
	s      *Spec
	diags  hcl2.Diagnostics
	top    connSettings
	groups []*groupInfo
	hosts  []*hostInfo
	member map[string]map[string]bool // group -> host
}

type groupInfo struct {
	g         *spec.Group
	conn      connSettings
	hostsAttr *hcl2.Attribute
	hosts     []string
}

type hostInfo struct {
	h          *spec.Host
	b          *hcl2.Block
	content    *hcl2.BodyContent
	conn       connSettings
	user       *string
	port       *int
	address    *hcl2.Attribute
	groupsAttr *hcl2.Attribute
	vars       cty.Value
}

func (s *Spec) decodeHostsAndGroups(raw *rawRoot) hcl2.Diagnostics {
	s.state.hostIdx = map[string]*spec.Host{}
	s.state.groupIdx = map[string]*spec.Group{}
	d := &hostsDecoder{s: s, member: map[string]map[string]bool{}}
	d.decodeTopConnection(raw.connections)
	for _, b := range raw.groups {
		d.decodeGroup(b)
	}
	for _, b := range raw.hosts {
		d.decodeHost(b)
	}
	d.addGroupsHosts()
	for _, gi := range d.groups {
		for _, hi := range d.hosts {
			if d.member[gi.g.Name][hi.h.Name] {
				gi.g.Hosts = append(gi.g.Hosts, hi.h.Name)
			}
		}
	}
	for _, hi := range d.hosts {
		d.resolveHost(hi)
	}
	return d.diags
}

func (d *hostsDecoder) add(diags ...*hcl2.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *hostsDecoder) addMember(group, host string) {
	if d.member[group] == nil {
		d.member[group] = map[string]bool{}
	}
	d.member[group][host] = true
}

func (d *hostsDecoder) decodeTopConnection(blocks []*hcl2.Block) {
	for i, b := range blocks {
		if i > 0 {
			d.add(errorDiag(rangePtr(b.DefRange), "Duplicate connection block",
				fmt.Sprintf("The top-level connection defaults were already set at %s:%d; merge the two blocks.", blocks[0].DefRange.Filename, blocks[0].DefRange.Start.Line)))
			continue
		}
		cs, diags := d.s.decodeConnection(b)
		d.add(diags...)
		d.top = cs
	}
}

// decodeConnectionBlocks decodes the one connection block a host or group may have.
func (d *hostsDecoder) decodeConnectionBlocks(blocks []*hcl2.Block, kind, name string) connSettings {
	var out connSettings
	for i, cb := range blocks {
		if i > 0 {
			d.add(errorDiag(rangePtr(cb.DefRange), "Duplicate connection block", fmt.Sprintf("%s %q already has a connection block.", kind, name)))
			continue
		}
		cs, diags := d.s.decodeConnection(cb)
		d.add(diags...)
		out = cs
	}
	return out
}

func (d *hostsDecoder) decodeGroup(b *hcl2.Block) {
	s, st := d.s, d.s.state
	name := b.Labels[0]
	content, diags := b.Body.Content(groupSchema)
	d.add(diags...)
	if !hostNameRe.MatchString(name) {
		d.add(errorDiag(rangePtr(b.LabelRanges[0]), "Invalid group name",
			fmt.Sprintf("%q is not a valid group name: use letters, digits, '.', '_' and '-'.", name)))
	}
	gi := &groupInfo{g: &spec.Group{Name: name, Range: b.DefRange}, hostsAttr: content.Attributes["hosts"]}
	hs, _, diags := s.attrStrings(gi.hostsAttr, "A group's hosts")
	d.add(diags...)
	gi.hosts = hs
	vars, diags := s.attrObject(content.Attributes["vars"], "A group's vars")
	d.add(diags...)
	gi.g.Vars = vars
	gi.conn = d.decodeConnectionBlocks(content.Blocks, "Group", name)
	if prev := st.groupIdx[name]; prev != nil {
		d.add(duplicate("group", name, prev.Range, b.LabelRanges[0]))
		return
	}
	st.groupIdx[name] = gi.g
	d.groups = append(d.groups, gi)
	s.Groups = append(s.Groups, gi.g)
}

func (d *hostsDecoder) groupNames() []string {
	var names []string
	for _, g := range d.groups {
		names = append(names, g.g.Name)
	}
	return names
}

func (d *hostsDecoder) decodeHost(b *hcl2.Block) {
	s, st := d.s, d.s.state
	name := b.Labels[0]
	content, diags := b.Body.Content(hostSchema)
	d.add(diags...)
	if !hostNameRe.MatchString(name) {
		d.add(errorDiag(rangePtr(b.LabelRanges[0]), "Invalid host name",
			fmt.Sprintf("%q is not a valid host name: use letters, digits, '.', '_' and '-', starting with a letter or digit.", name)))
	}
	hi := &hostInfo{h: &spec.Host{Name: name, Range: b.DefRange}, b: b, content: content, address: content.Attributes["address"], groupsAttr: content.Attributes["groups"]}
	if addr, ok, diags := s.attrString(hi.address, "A host's address"); ok {
		hi.h.Address = addr
	} else {
		d.add(diags...)
	}
	if u, ok, diags := s.attrString(content.Attributes["user"], "A host's user"); ok {
		if !spec.ValidLoginName(u) {
			d.add(errorDiag(rangePtr(content.Attributes["user"].Expr.Range()), "Invalid user name", fmt.Sprintf("%q is not a valid login name.", u)))
		} else {
			hi.user = &u
		}
	} else {
		d.add(diags...)
	}
	if a := content.Attributes["port"]; a != nil {
		var diags hcl2.Diagnostics
		hi.port, diags = s.attrPort(a, "A host's port")
		d.add(diags...)
	}
	vars, diags := s.attrObject(content.Attributes["vars"], "A host's vars")
	d.add(diags...)
	hi.vars = vars
	hi.conn = d.decodeConnectionBlocks(content.Blocks, "Host", name)
	gs, _, diags := s.attrStrings(hi.groupsAttr, "A host's groups")
	d.add(diags...)
	for i, g := range gs {
		if st.groupIdx[g] == nil {
			d.add(errorDiag(elementRange(hi.groupsAttr.Expr, i), "Undeclared group",
				fmt.Sprintf("Host %q names the group %q, which is not declared.%s Declare it with group \"%s\" {}.", name, g, didYouMean(g, d.groupNames()), g)))
			continue
		}
		d.addMember(g, name)
	}
	if prev := st.hostIdx[name]; prev != nil {
		d.add(duplicate("host", name, prev.Range, b.LabelRanges[0]))
		return
	}
	if g := st.groupIdx[name]; g != nil {
		d.add(errorDiag(rangePtr(b.LabelRanges[0]), "Host and group share a name",
			fmt.Sprintf("%q is both a host and a group (declared at %s:%d), so hosts lists and -limit would be ambiguous. Rename one.", name, g.Range.Filename, g.Range.Start.Line)))
	}
	st.hostIdx[name] = hi.h
	d.hosts = append(d.hosts, hi)
	s.Hosts = append(s.Hosts, hi.h)
}

// addGroupsHosts adds the members a group's own hosts list names (membership is the union of
// the group's list and the hosts' groups).
func (d *hostsDecoder) addGroupsHosts() {
	var hostNames []string
	for _, h := range d.hosts {
		hostNames = append(hostNames, h.h.Name)
	}
	for _, gi := range d.groups {
		for i, hn := range gi.hosts {
			if d.s.state.hostIdx[hn] == nil {
				d.add(errorDiag(elementRange(gi.hostsAttr.Expr, i), "Undeclared host",
					fmt.Sprintf("Group %q lists the host %q, which is not declared.%s", gi.g.Name, hn, didYouMean(hn, hostNames))))
				continue
			}
			d.addMember(gi.g.Name, hn)
		}
	}
}

// resolveHost lays the connection settings and vars over each other for one host and checks
// its address.
func (d *hostsDecoder) resolveHost(hi *hostInfo) {
	h := hi.h
	h.Conn = spec.Connection{Type: spec.ConnSSH} // HostKeyChecking stays "" unless set: ~/.ssh/config may then decide, else strict
	applySettings(&h.Conn, d.top)
	vars := map[string]cty.Value{}
	for _, gi := range d.groups {
		if !d.member[gi.g.Name][h.Name] {
			continue
		}
		h.Groups = append(h.Groups, gi.g.Name)
		applySettings(&h.Conn, gi.conn)
		for it := gi.g.Vars.ElementIterator(); it.Next(); {
			k, v := it.Element()
			vars[k.AsString()] = v
		}
	}
	applySettings(&h.Conn, hi.conn)
	if hi.user != nil {
		h.Conn.User = *hi.user
	}
	if hi.port != nil {
		h.Conn.Port = *hi.port
	}
	h.Port = h.Conn.Port
	for it := hi.vars.ElementIterator(); it.Next(); {
		k, v := it.Element()
		vars[k.AsString()] = v
	}
	h.Vars = cty.ObjectVal(vars)
	sort.Strings(h.Groups)
	switch {
	case hi.address == nil && h.Conn.Type != spec.ConnLocal:
		d.add(errorDiag(rangePtr(hi.b.DefRange), "Missing required argument",
			fmt.Sprintf("Host %q needs an address (an IP address or DNS name), unless its connection type is \"local\".", h.Name)))
	case hi.address != nil && h.Address != "":
		if err := validAddress(h.Address); err != nil {
			d.add(errorDiag(rangePtr(hi.address.Expr.Range()), "Invalid address", fmt.Sprintf("Host %q: %s.", h.Name, err)))
		}
	case hi.address != nil && h.Conn.Type != spec.ConnLocal:
		d.add(errorDiag(rangePtr(hi.address.Expr.Range()), "Invalid address", fmt.Sprintf("Host %q: the address is empty.", h.Name)))
	}
}

// resolveHosts evaluates a hosts meta-argument into host names (nil, true: every host).
func (s *Spec) resolveHosts(m *module, expr hcl2.Expression, what string) ([]string, bool, hcl2.Diagnostics) {
	if expr == nil {
		return nil, true, nil
	}
	v, diags := s.staticValue(m, expr, cty.List(cty.String), what)
	if diags.HasErrors() || v.IsNull() {
		return nil, true, diags
	}
	var known []string
	for _, h := range s.Hosts {
		known = append(known, h.Name)
	}
	for _, g := range s.Groups {
		known = append(known, g.Name)
	}
	set := map[string]bool{}
	for i, e := range v.AsValueSlice() {
		if e.IsNull() {
			continue
		}
		n := e.AsString()
		if h := s.state.hostIdx[n]; h != nil {
			set[n] = true
			continue
		}
		if g := s.state.groupIdx[n]; g != nil {
			for _, hn := range g.Hosts {
				set[hn] = true
			}
			continue
		}
		diags = append(diags, errorDiag(elementRange(expr, i), "Unknown host or group",
			fmt.Sprintf("%s names %q, which is neither a declared host nor a group.%s", what, n, didYouMean(n, known))))
	}
	var out []string
	for _, h := range s.Hosts {
		if set[h.Name] {
			out = append(out, h.Name)
		}
	}
	return out, false, diags
}

// resolveTargets resolves the hosts lists of resources, module calls and benchmarks.
func (s *Spec) resolveTargets() hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	var walk func(m *module)
	walk = func(m *module) {
		for _, r := range m.resources {
			hs, all, d := s.resolveHosts(m, r.hostsExpr, fmt.Sprintf("The hosts of resource %s", r.addr()))
			diags = append(diags, d...)
			r.hosts, r.allHosts = hs, all
		}
		for _, c := range m.calls {
			hs, all, d := s.resolveHosts(m, c.hostsExpr, fmt.Sprintf("The hosts of module %q", c.name))
			diags = append(diags, d...)
			c.hosts, c.allHosts = hs, all
			if c.child != nil {
				walk(c.child)
			}
		}
	}
	walk(s.state.root)
	for _, b := range s.state.benchmarks {
		hs, all, d := s.resolveHosts(s.state.root, b.hostsExpr, fmt.Sprintf("The hosts of benchmark %q", b.name))
		diags = append(diags, d...)
		b.hosts, b.allHosts = hs, all
	}
	return diags
}
