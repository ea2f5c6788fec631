package hcl

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/spec"
)

// The connection block (top level, group, host) and the settings it lays over the ones below.

var connectionSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
	{Name: "type"}, {Name: "user"}, {Name: "port"}, {Name: "identity_files"}, {Name: "password_env"},
	{Name: "known_hosts"}, {Name: "host_key_checking"}, {Name: "jump"}, {Name: "become"},
	{Name: "become_password_env"}, {Name: "timeout"}, {Name: "keepalive"}, {Name: "persist"},
	{Name: "proxy_command"},
}}

// enumValues are the allowed values of connection attributes that are enumerations.
var enumValues = map[string][]string{
	"type":              spec.ConnTypes,
	"host_key_checking": spec.HostKeyCheckings,
	"become":            spec.Becomes,
}

// connSettings is one connection block (or host attributes): nil fields are not set there.
type connSettings struct {
	typ, user, passwordEnv, knownHosts, hostKeyChecking, become, becomePasswordEnv *string
	proxyCommand                                                                   *string
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
		if name == "proxy_command" {
			if err := spec.CheckProxyCommand(v); err != nil {
				diags = append(diags, errorDiag(rangePtr(a.Expr.Range()), "Invalid proxy command", err.Error()))
				return
			}
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
	strAttr("proxy_command", &cs.proxyCommand)
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
	if pc, j := content.Attributes["proxy_command"], content.Attributes["jump"]; pc != nil && j != nil {
		diags = append(diags, errorDiag(rangePtr(pc.Expr.Range()), "Conflicting connection settings",
			"jump and proxy_command exclude each other, as ProxyJump and ProxyCommand do in ssh_config: set one of them in this block."))
		cs.proxyCommand, cs.jump, cs.jumpSet = nil, nil, false
	}
	diags = append(diags, s.decodeDurations(content, &cs)...)
	return cs, diags
}

// decodeDurations reads the connection's timeout, keepalive and persist.
func (s *Spec) decodeDurations(content *hcl2.BodyContent, cs *connSettings) hcl2.Diagnostics {
	var diags hcl2.Diagnostics
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
	return diags
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
	// jump and proxy_command exclude each other: the one set at the nearer level wins.
	if cs.jumpSet {
		c.Jump = append([]string(nil), cs.jump...)
		c.ProxyCommand = ""
	}
	if cs.proxyCommand != nil {
		c.ProxyCommand = *cs.proxyCommand
		c.Jump = nil
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
