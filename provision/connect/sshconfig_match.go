package connect

import "strings"

// Host and Match, as OpenSSH evaluates them (readconf.c, match.c).

// matchHostLine: a Host line applies when one of its patterns matches the name and no negated
// one does. The match is case-sensitive, against the name as given.
func matchHostLine(name string, patterns []string) bool {
	active := false
	for _, p := range patterns {
		negated := strings.HasPrefix(p, "!")
		if negated {
			p = p[1:]
		}
		if matchPattern(name, p) {
			if negated {
				return false
			}
			active = true
		}
	}
	return active
}

// match evaluates a Match line against what has been set so far: every criterion must hold.
// Criteria perfprov cannot evaluate (exec runs a command, localnetwork reads the interfaces)
// are an error only where they would decide: after a criterion that failed, OpenSSH does not
// run an exec either.
func (c *sshConfig) match(l configLine, o *hostOptions, never bool) (bool, error) {
	rest := l.rest
	result := true
	attributes := 0
	for {
		attr, r, ok := strdelim(rest)
		if !ok || attr == "" || attr[0] == '#' {
			break
		}
		rest = r
		name, negate := attr, strings.HasPrefix(attr, "!")
		if negate {
			name = name[1:]
		}
		kind := strings.ToLower(name)
		if kind == "all" {
			// "all" stands alone (OpenSSH counts only the attributes before it past one).
			if next, _, ok := strdelim(rest); attributes > 1 || (ok && next != "" && next[0] != '#') {
				return false, l.errorf("%q cannot be combined with other Match attributes", attr)
			}
			return result && !negate, nil
		}
		attributes++
		if kind == "canonical" || kind == "final" {
			if kind == "final" {
				o.wantFinal = true
			}
			if o.final == negate {
				result = false
			}
			continue
		}
		arg, r, ok := strdelim(rest)
		if !ok || arg == "" || arg[0] == '#' {
			return false, l.errorf("missing Match criteria for %s", name)
		}
		rest = r
		var m bool
		switch kind {
		case "host":
			m = matchPatternList(o.hostName(), arg, true)
		case "originalhost":
			m = matchPatternList(strings.ToLower(o.alias), arg, true)
		case "user":
			m = matchPatternList(o.user(c.localUser), arg, false)
		case "localuser":
			m = matchPatternList(c.localUser, arg, false)
		case "tagged":
			m = matchPatternList(o.get("tag"), arg, false)
		case "exec", "localnetwork":
			if !result || never {
				continue
			}
			return false, l.errorf("Match %s is not supported by perfprov (it would decide whether this block applies to %s); use Match host, originalhost, user or localuser, or set the value in the spec's connection block", name, o.alias)
		default:
			return false, l.errorf("unsupported Match attribute %s", name)
		}
		if m == negate {
			result = false
		}
	}
	if attributes == 0 {
		return false, l.errorf("one or more attributes required for Match")
	}
	return result, nil
}

// user is the login user so far: User, or the local user.
func (o *hostOptions) user(local string) string {
	if u := o.get("user"); u != "" {
		return u
	}
	return local
}

// matchPatternList matches s against a comma-separated list of patterns, as OpenSSH's
// match_pattern_list: a negated pattern that matches refuses the whole list. lower: the
// patterns are lower-cased (s already is), for host names.
func matchPatternList(s, list string, lower bool) bool {
	positive := false
	for _, p := range strings.Split(list, ",") {
		negated := strings.HasPrefix(p, "!")
		if negated {
			p = p[1:]
		}
		if lower {
			p = strings.ToLower(p)
		}
		if matchPattern(s, p) {
			if negated {
				return false
			}
			positive = true
		}
	}
	return positive
}

// matchPattern is OpenSSH's match_pattern: "*" matches any run of characters, "?" one, all else
// itself. Iterative, so that a pattern of many stars costs len(s)*len(p) and not an exponential.
func matchPattern(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
