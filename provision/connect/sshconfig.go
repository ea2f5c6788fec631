package connect

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
)

// The ssh_config reader: OpenSSH's rules (readconf.c), for the keywords perfprov uses. A host's
// options are read in one pass over the files, in order, and each option keeps the first value
// it is given (IdentityFile adds up instead). Host and Match lines decide which lines apply; a
// Match is evaluated when it is reached, against what has been set so far (its HostName, its
// User), so that the result is the one `ssh -G` prints. Include reads other files in place.

// configFile is one top-level ssh_config file.
type configFile struct {
	path string
	// user: a user's file (~/.ssh/config or -F's): Include may start with ~, and relative
	// Include paths are under ~/.ssh; a system file's are under /etc/ssh.
	user bool
	// checkPerm: refuse the file when others may write it, as ssh does for ~/.ssh/config (and
	// for every included file): such a file could make perfprov run a ProxyCommand of theirs.
	checkPerm bool
	// required: a missing file is an error (a path given explicitly).
	required bool
}

// sshConfig is the ssh_config files of one resolver, parsed once each.
type sshConfig struct {
	files     []configFile
	home      string
	localUser string
	parsed    map[string][]configLine
}

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH: how deep Include may nest.
const maxIncludeDepth = 16

// configLine is one non-empty line of a file: its keyword (lower case), the text after the
// keyword and its separator, and that text split into arguments as OpenSSH splits them.
type configLine struct {
	file    string
	num     int
	keyword string
	rest    string
	args    []string
}

func (l configLine) errorf(format string, args ...any) error {
	return fmt.Errorf("ssh config %s:%d: %s", l.file, l.num, fmt.Sprintf(format, args...))
}

// hostOptions is what the files say for one host.
type hostOptions struct {
	alias string // the name as given (OpenSSH's original host)
	final bool   // the second pass that Match final asks for
	// values holds, per keyword, the arguments of the first line that set it.
	values        map[string][]string
	identityFiles []string
	// wantFinal: a Match final was read, or CanonicalizeHostname is on: ssh reads the files
	// again, with Host lines matching the resolved host name.
	wantFinal bool
}

// get is the first argument of keyword's first value, or "".
func (o *hostOptions) get(keyword string) string {
	if v := o.values[keyword]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (o *hostOptions) isSet(keyword string) bool { _, ok := o.values[keyword]; return ok }

// hostName is the host to connect to so far: HostName with %h expanded, or the alias; in
// lower case, as ssh uses it.
func (o *hostOptions) hostName() string {
	if o.final {
		return o.get("hostname")
	}
	h := o.get("hostname")
	if h == "" {
		return strings.ToLower(o.alias)
	}
	return strings.ToLower(strings.NewReplacer("%%", "%", "%h", o.alias).Replace(h))
}

// lookup reads the options for alias. preset holds values given before the files are read,
// as OpenSSH's command line (-l, -p, -J, -o): they win over the files', and Match user sees
// the preset user.
func (c *sshConfig) lookup(alias string, preset map[string][]string) (*hostOptions, error) {
	o := &hostOptions{alias: alias, values: map[string][]string{}}
	for k, v := range preset {
		o.values[k] = v
	}
	if err := c.pass(o); err != nil {
		return nil, err
	}
	if o.wantFinal {
		// Like ssh: the host name as resolved is fixed, then every file is read again.
		o.values["hostname"] = []string{o.hostName()}
		o.final = true
		if err := c.pass(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (c *sshConfig) pass(o *hostOptions) error {
	for _, f := range c.files {
		active := true
		err := c.read(f.path, f, o, &active, 0, false, f.checkPerm)
		if errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// read applies the lines of one file to o. active is the state of the enclosing Host or Match
// block (an included file starts in its includer's); never: the Include is inside a block that
// does not apply, so no Host or Match in the file applies either (OpenSSH's SSHCONF_NEVERMATCH).
func (c *sshConfig) read(path string, f configFile, o *hostOptions, active *bool, depth int, never, checkPerm bool) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("ssh config %s: Include nested more than %d deep (does a file include itself?)", path, maxIncludeDepth)
	}
	lines, err := c.parse(path, checkPerm)
	if err != nil {
		return err
	}
	for _, l := range lines {
		switch l.keyword {
		case "host":
			*active = !never && matchHostLine(o.subject(), l.args)
		case "match":
			m, err := c.match(l, o, never)
			if err != nil {
				return err
			}
			*active = !never && m
		case "include":
			if err := c.include(l, f, o, active, depth, never); err != nil {
				return err
			}
		default:
			if err := o.set(l, *active); err != nil {
				return err
			}
		}
	}
	return nil
}

// subject is the name Host lines match: the name as given, and in the final pass the host
// name it resolved to (ssh.c replaces its host with the resolved one before that pass).
func (o *hostOptions) subject() string {
	if o.final {
		return o.get("hostname")
	}
	return o.alias
}

// include reads the files an Include line names, in place, as OpenSSH does: each argument is a
// glob; relative ones are under ~/.ssh (a user's file) or /etc/ssh (a system file); a glob
// that matches nothing is no error.
func (c *sshConfig) include(l configLine, f configFile, o *hostOptions, active *bool, depth int, never bool) error {
	for _, arg := range l.args {
		if strings.HasPrefix(arg, "~") && !f.user {
			return l.errorf("bad include path %s: a system file's Include may not use ~", arg)
		}
		pattern := arg
		if !strings.HasPrefix(arg, "/") && !strings.HasPrefix(arg, "~") {
			if f.user {
				pattern = "~/.ssh/" + arg
			} else {
				pattern = "/etc/ssh/" + arg
			}
		}
		pattern, err := c.tilde(pattern)
		if err != nil {
			return l.errorf("Include %s: %v", arg, err)
		}
		paths, err := glob(pattern)
		if err != nil {
			return l.errorf("Include %s: %v", arg, err)
		}
		outer := *active
		for _, p := range paths {
			err := c.read(p, f, o, active, depth+1, never || !outer, true)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			*active = outer // a Host or Match in the included file ends with it
		}
	}
	return nil
}

// set records one option line, if its block applies and the option has no value yet.
func (o *hostOptions) set(l configLine, active bool) error {
	if len(l.args) == 0 {
		return l.errorf("missing argument after %s", l.keyword)
	}
	switch l.keyword {
	case "port":
		// ssh refuses a bad port wherever it is, applying or not.
		if _, err := parsePort(l.args[0]); err != nil {
			return l.errorf("Bad port %q", l.args[0])
		}
	case "canonicalizehostname":
		if active && !o.isSet(l.keyword) && (strings.EqualFold(l.args[0], "yes") || strings.EqualFold(l.args[0], "always")) {
			o.wantFinal = true
		}
	}
	if !active {
		return nil
	}
	switch l.keyword {
	case "identityfile":
		for _, f := range o.identityFiles {
			if f == l.args[0] {
				return nil // ssh skips a duplicate
			}
		}
		o.identityFiles = append(o.identityFiles, l.args[0])
		return nil
	case "proxycommand", "proxyjump":
		// ProxyCommand and ProxyJump exclude each other: whichever comes first wins, and
		// "none" counts as set.
		if o.isSet("proxycommand") || o.isSet("proxyjump") {
			return nil
		}
		// Both take the rest of the line (ProxyCommand is given to the shell as written).
		o.values[l.keyword] = []string{strings.TrimLeft(l.rest, " \t=")}
		return nil
	case "localcommand", "remotecommand", "knownhostscommand":
		return nil
	}
	if !o.isSet(l.keyword) {
		o.values[l.keyword] = l.args
	}
	return nil
}

// parsePort reads a port as OpenSSH's a2port: 1 to 65535, or a service name.
func parsePort(s string) (int, error) {
	n, err := net.LookupPort("tcp", s)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("port %q", s)
	}
	return n, nil
}

// parse splits a file into lines (once per resolver).
func (c *sshConfig) parse(path string, checkPerm bool) ([]configLine, error) {
	if lines, ok := c.parsed[path]; ok {
		return lines, nil
	}
	// Look before opening: opening a FIFO or a terminal a glob matched would block or worse.
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	} else if st.IsDir() {
		return nil, nil // ssh reads nothing from a directory a glob matched
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("ssh config %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	if checkPerm {
		if err := securePermissions(f, path); err != nil {
			return nil, err
		}
	}
	data, err := readAllLimited(f, path)
	if err != nil {
		return nil, err
	}
	var lines []configLine
	for i, text := range strings.Split(string(data), "\n") {
		l, ok, err := splitLine(path, i+1, text)
		if err != nil {
			return nil, err
		}
		if ok {
			lines = append(lines, l)
		}
	}
	if c.parsed == nil {
		c.parsed = map[string][]configLine{}
	}
	c.parsed[path] = lines
	return lines, nil
}

// maxConfigSize bounds what is read of one file: an Include of a huge file (a device, a log) is
// a mistake, not a configuration.
const maxConfigSize = 4 << 20

func readAllLimited(f *os.File, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("ssh config %s: larger than %d bytes", path, maxConfigSize)
	}
	return data, nil
}

// splitLine reads one line as process_config_line does: trailing white space off, the keyword
// (which may be followed by "="), then the arguments; blank lines and comments are skipped.
func splitLine(file string, num int, text string) (configLine, bool, error) {
	text = strings.TrimRight(text, " \t\r\n\f")
	kw, rest, ok := strdelim(text)
	if ok && kw == "" {
		kw, rest, ok = strdelim(rest)
	}
	if !ok || kw == "" || kw[0] == '#' {
		return configLine{}, false, nil
	}
	l := configLine{file: file, num: num, keyword: strings.ToLower(kw), rest: strings.TrimLeft(rest, " \t\r\n")}
	if l.rest == "" {
		return l, false, l.errorf("no argument after keyword %q", kw)
	}
	args, err := argvSplit(l.rest)
	if err != nil {
		return l, false, l.errorf("invalid quotes")
	}
	l.args = args
	return l, true, nil
}

const whitespace = " \t\r\n"

// strdelim returns the next token of s, as OpenSSH's strdelim: tokens end at white space or a
// single "=", and a double quote opens a part that ends at the next double quote. ok is false
// when nothing is left or a quote is not closed.
func strdelim(s string) (tok, rest string, ok bool) {
	i := strings.IndexAny(s, whitespace+`"=`)
	if i < 0 {
		return s, "", s != ""
	}
	if s[i] == '"' {
		t := s[:i] + s[i+1:]
		j := strings.IndexByte(t[i:], '"')
		if j < 0 {
			return "", "", false
		}
		return t[:i+j], strings.TrimLeft(t[i+j+1:], whitespace), true
	}
	equals := s[i] == '='
	tok, rest = s[:i], strings.TrimLeft(s[i+1:], whitespace)
	if !equals && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], whitespace)
	}
	return tok, rest, true
}

// argvSplit splits s into arguments as OpenSSH's argv_split: white space separates, single or
// double quotes group, a backslash escapes a quote, a backslash or (outside quotes) a space,
// and an unquoted # at the start of an argument ends the line.
func argvSplit(s string) ([]string, error) {
	var args []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var arg strings.Builder
		var quote byte
		for ; i < len(s); i++ {
			ch := s[i]
			switch {
			case ch == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
				continue
			case quote == 0 && (ch == ' ' || ch == '\t'):
			case quote == 0 && (ch == '"' || ch == '\''):
				quote = ch
				continue
			case quote != 0 && ch == quote:
				quote = 0
				continue
			default:
				arg.WriteByte(ch)
				continue
			}
			break
		}
		if quote != 0 {
			return nil, errors.New("unterminated quote")
		}
		args = append(args, arg.String())
	}
	return args, nil
}
