package hcl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/perfprov/perfprov/spec"
)

// limitName is one name -limit gives, and where it came from: the command line (file "") or
// line line of an @FILE, so that an unknown one is reported where it is written.
type limitName struct {
	name, file string
	line       int
}

func (n limitName) String() string {
	if n.file == "" {
		return fmt.Sprintf("%q", n.name)
	}
	return fmt.Sprintf("%q (%s:%d)", n.name, n.file, n.line)
}

// limitNames expands -limit's entries: a name as it is, @FILE as the names in FILE (Ansible's
// retry files: one name a line; blank lines and # comments are ignored; relative to the working
// directory). A file that names nothing is an error rather than no limit at all, which would
// select every host: a retry of "nothing failed" must not touch the whole fleet.
func limitNames(limit []string) ([]limitName, error) {
	var out []limitName
	for _, n := range limit {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case strings.HasPrefix(n, "@"):
			names, err := readLimitFile(n[1:])
			if err != nil {
				return nil, err
			}
			out = append(out, names...)
		default:
			out = append(out, limitName{name: n})
		}
	}
	return out, nil
}

// readLimitFile reads the names of one @FILE.
func readLimitFile(path string) ([]limitName, error) {
	if path == "" {
		return nil, errors.New("-limit @: name a file after the @ (for example @.perfprov/failed)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-limit @%s: %w", path, err)
	}
	var out []limitName
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		// No host or group name holds '#' or a space: what follows a '#' is a comment.
		text, _, _ := strings.Cut(sc.Text(), "#")
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		if strings.HasPrefix(text, "@") {
			return nil, fmt.Errorf("-limit @%s:%d: %q: a file cannot include another (@FILE is for the command line)", path, line, text)
		}
		out = append(out, limitName{name: text, file: path, line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("-limit @%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-limit @%s: the file names no host or group (only blank lines and comments)", path)
	}
	return out, nil
}

// limit resolves -limit's host and group names (and @FILEs) to hosts, in declaration order. No
// entry at all is every host; every name must exist.
func (s *Spec) limit(limit []string) ([]*spec.Host, error) {
	names, err := limitNames(limit)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return append([]*spec.Host(nil), s.Hosts...), nil
	}
	want := map[string]bool{}
	var unknown []limitName
	for _, n := range names {
		found := false
		for _, h := range s.Hosts {
			if h.Name == n.name {
				want[n.name] = true
				found = true
			}
		}
		for _, g := range s.Groups {
			if g.Name == n.name {
				for _, h := range g.Hosts {
					want[h] = true
				}
				found = true
			}
		}
		if !found {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, s.unknownLimit(unknown)
	}
	var out []*spec.Host
	for _, h := range s.Hosts {
		if want[h.Name] {
			out = append(out, h)
		}
	}
	return out, nil
}

// unknownLimit is the error for names -limit gives that the spec does not declare: each with where
// it was written, the closest known name, and the names that exist.
func (s *Spec) unknownLimit(unknown []limitName) error {
	var names []string
	for _, h := range s.Hosts {
		names = append(names, h.Name)
	}
	for _, g := range s.Groups {
		names = append(names, g.Name)
	}
	list := make([]string, len(unknown))
	for i, u := range unknown {
		list[i] = u.String()
	}
	msg := "-limit: no host or group named " + strings.Join(list, ", ") + "."
	msg += didYouMean(unknown[0].name, names)
	if len(names) == 0 {
		msg += " The spec declares no hosts or groups."
	} else {
		msg += " Known names: " + strings.Join(names, ", ") + "."
	}
	return errors.New(msg)
}
