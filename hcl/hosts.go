package hcl

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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

var connectionSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "type"}, {Name: "user"}, {Name: "port"}, {Name: "identity_files"}, {Name: "password_env"},
	{Name: "known_hosts"}, {Name: "host_key_checking"}, {Name: "jump"}, {Name: "become"},
	{Name: "become_password_env"}, {Name: "timeout"}, {Name: "keepalive"}, {Name: "persist"},
}}

var rolloutSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "parallel"}, {Name: "batch"}, {Name: "max_fail_percentage"},
}}

var benchmarkSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "hosts"}, {Name: "run_as", Required: true}, {Name: "perf"}, {Name: "events"},
	{Name: "require_hardware_counters"}, {Name: "tolerance"}, {Name: "repeat"},
}}

// enumValues are the allowed values of connection attributes that are enumerations.
var enumValues = map[string][]string{
	"type":              spec.ConnTypes,
	"host_key_checking": spec.HostKeyCheckings,
	"become":            spec.Becomes,
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

// connSettings is one connection block (or host attributes): nil fields are not set there.
type connSettings struct {
	typ, user, passwordEnv, knownHosts, hostKeyChecking, become, becomePasswordEnv *string
	port                                                                           *int
	identityFiles, jump                                                            []string
	identitySet, jumpSet                                                           bool
	timeout, keepalive, persist                                                    *time.Duration
}

func (s *Spec) decodeConnection(b *hcl2.Block) (connSettings, hcl2.Diagnostics) {
	var cs connSettings
	content, diags := b.Body.Content(connectionSchema)
	dir := filepath.Dir(b.DefRange.Filename)
	strAttr := func(name string, dst **string) {
		a := content.Attributes[name]
		v, ok, d := s.attrString(a, "connection "+name)
		diags = append(diags, d...)
		if !ok {
			return
		}
		if allowed := enumValues[name]; allowed != nil && !contains(allowed, v) {
			diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid connection "+name,
				fmt.Sprintf("connection %s must be one of %s, not %q.%s", name, quoteList(allowed), v, didYouMean(v, allowed))))
			return
		}
		if strings.HasSuffix(name, "_env") && !spec.ValidEnvName(v) {
			diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid environment variable name",
				fmt.Sprintf("connection %s names the environment variable that holds the secret (for example \"DEPLOY_PASSWORD\"), not the secret itself; %q is not a valid variable name.", name, redactShort(v))))
			return
		}
		if name == "user" && !spec.ValidLoginName(v) {
			diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid user name",
				fmt.Sprintf("%q is not a valid login name: use lowercase letters, digits, '_' and '-', starting with a letter or '_'.", v)))
			return
		}
		if name == "known_hosts" {
			v = resolveLocalPath(dir, v)
		}
		*dst = &v
	}
	strAttr("type", &cs.typ)
	strAttr("user", &cs.user)
	strAttr("password_env", &cs.passwordEnv)
	strAttr("known_hosts", &cs.knownHosts)
	strAttr("host_key_checking", &cs.hostKeyChecking)
	strAttr("become", &cs.become)
	strAttr("become_password_env", &cs.becomePasswordEnv)
	if a := content.Attributes["port"]; a != nil {
		var d hcl2.Diagnostics
		cs.port, d = s.attrPort(a, "connection port")
		diags = append(diags, d...)
	}
	if a := content.Attributes["identity_files"]; a != nil {
		l, ok, d := s.attrStrings(a, "connection identity_files")
		diags = append(diags, d...)
		if ok {
			for i := range l {
				l[i] = resolveLocalPath(dir, l[i])
			}
			cs.identityFiles, cs.identitySet = l, true
		}
	}
	if a := content.Attributes["jump"]; a != nil {
		l, ok, d := s.attrStrings(a, "connection jump")
		diags = append(diags, d...)
		if ok {
			for i, j := range l {
				if err := validJump(j); err != nil {
					diags = append(diags, errorDiag(elementRange(a.Expr, i), "Invalid jump host", err.Error()))
					ok = false
				}
			}
			if ok {
				cs.jump, cs.jumpSet = l, true
			}
		}
	}
	for _, name := range []string{"timeout", "keepalive", "persist"} {
		a := content.Attributes[name]
		v, ok, d := s.attrString(a, "connection "+name)
		diags = append(diags, d...)
		if !ok {
			continue
		}
		if name == "persist" {
			dur, err := time.ParseDuration(v)
			switch {
			case err != nil || dur < 0:
				diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid duration",
					fmt.Sprintf("connection persist is how long the connection stays open for the next run: a duration such as \"60s\" or \"10m\", or \"0\" to close it with the run; not %q.", v)))
				continue
			case dur == 0:
				dur = -1 // Connection.Persist: < 0 is off, 0 the default
			}
			cs.persist = &dur
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil || dur <= 0 {
			diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid duration",
				fmt.Sprintf("connection %s must be a positive duration such as \"10s\" or \"1m30s\", not %q.", name, v)))
			continue
		}
		if name == "timeout" {
			cs.timeout = &dur
		} else {
			cs.keepalive = &dur
		}
	}
	return cs, diags
}

// attrPort reads a TCP port (1 to 65535); nil when it is missing or wrong (with a diagnostic).
func (s *Spec) attrPort(a *hcl2.Attribute, what string) (*int, hcl2.Diagnostics) {
	p, ok, diags := s.attrInt(a, what)
	if !ok {
		return nil, diags
	}
	if p < 1 || p > 65535 {
		return nil, append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid port", fmt.Sprintf("Port %d is out of range: a port is 1 to 65535.", p)))
	}
	return &p, diags
}

func redactShort(s string) string {
	if len(s) > 24 {
		return s[:8] + "..."
	}
	return s
}

// resolveLocalPath makes a relative controller path relative to the spec file's directory; "~"
// paths are left for the connection to expand.
func resolveLocalPath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	return filepath.Join(dir, p)
}

// setOver copies a setting that was given over the one below it.
func setOver[T ~string](dst *T, v *string) {
	if v != nil {
		*dst = T(*v)
	}
}

// applySettings lays cs over c: what cs sets wins (top level, then group, then host).
func applySettings(c *spec.Connection, cs connSettings) {
	setOver(&c.Type, cs.typ)
	setOver(&c.User, cs.user)
	setOver(&c.PasswordEnv, cs.passwordEnv)
	setOver(&c.KnownHosts, cs.knownHosts)
	setOver(&c.HostKeyChecking, cs.hostKeyChecking)
	setOver(&c.Become, cs.become)
	setOver(&c.BecomePasswordEnv, cs.becomePasswordEnv)
	if cs.port != nil {
		c.Port = *cs.port
	}
	if cs.identitySet {
		c.IdentityFiles = append([]string(nil), cs.identityFiles...)
	}
	if cs.jumpSet {
		c.Jump = append([]string(nil), cs.jump...)
	}
	if cs.timeout != nil {
		c.Timeout = *cs.timeout
	}
	if cs.keepalive != nil {
		c.Keepalive = *cs.keepalive
	}
	if cs.persist != nil {
		c.Persist = *cs.persist
	}
}

// validAddress checks an address to connect to: an IP address or a DNS name.
func validAddress(a string) error {
	if a == "" {
		return fmt.Errorf("the address is empty")
	}
	if net.ParseIP(a) != nil {
		return nil
	}
	if strings.ContainsAny(a, " \t\n/@") {
		return fmt.Errorf("%q is not an IP address or DNS name (no spaces, '/' or '@'; set the login user with user)", a)
	}
	if h, p, err := net.SplitHostPort(a); err == nil {
		return fmt.Errorf("%q includes a port: write address = %q and port = %s", a, h, p)
	}
	if numericDots.MatchString(a) {
		return fmt.Errorf("%q is not a valid IPv4 address", a)
	}
	if len(a) > 253 {
		return fmt.Errorf("the DNS name is longer than 253 characters")
	}
	for _, l := range strings.Split(strings.TrimSuffix(a, "."), ".") {
		if !dnsLabelRe.MatchString(l) {
			return fmt.Errorf("%q is not an IP address or valid DNS name (label %q)", a, l)
		}
	}
	return nil
}

// validJump checks one ProxyJump hop: [user@]host[:port], where host may be a spec host name.
func validJump(j string) error {
	rest := j
	if u, h, ok := strings.Cut(j, "@"); ok {
		if !spec.ValidLoginName(u) {
			return fmt.Errorf("jump host %q: %q is not a valid user name", j, u)
		}
		rest = h
	}
	host := rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host = h
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("jump host %q: port %q is not 1 to 65535", j, p)
		}
	}
	if hostNameRe.MatchString(host) || validAddress(host) == nil {
		return nil
	}
	return fmt.Errorf("jump host %q is not of the form [user@]host[:port]", j)
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

func (s *Spec) decodeBenchmarks(blocks []*hcl2.Block) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
	seen := map[string]*benchmarkDecl{}
	for _, b := range blocks {
		name := b.Labels[0]
		content, d := b.Body.Content(benchmarkSchema)
		diags = append(diags, d...)
		diags = append(diags, checkIdentifier("benchmark", name, b.LabelRanges[0])...)
		bd := &benchmarkDecl{name: name, body: map[string]*hcl2.Attribute{}, declRange: b.DefRange, allHosts: true}
		for n, a := range content.Attributes {
			if n == "hosts" {
				bd.hostsExpr = a.Expr
				continue
			}
			bd.body[n] = a
			_, d := refs(s.state.root, a.Expr, scope{})
			diags = append(diags, d...)
		}
		if prev := seen[name]; prev != nil {
			diags = append(diags, duplicate("benchmark", name, prev.declRange, b.LabelRanges[0]))
			continue
		}
		seen[name] = bd
		s.state.benchmarks = append(s.state.benchmarks, bd)
	}
	return diags
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
