package connect

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// What Include needs of the file system, as OpenSSH gets it from glob(3) and fstat(2).

// tilde expands a leading ~ or ~user as glob's GLOB_TILDE: ~ is the home directory (HomeDir, or
// $HOME); an unknown ~user is left as written, and so matches nothing.
func (c *sshConfig) tilde(p string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	if name == "" {
		if c.home == "" {
			return "", fmt.Errorf("no home directory for ~")
		}
		return filepath.Join(c.home, rest), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return p, nil
	}
	return filepath.Join(u.HomeDir, rest), nil
}

// glob returns the files an absolute pattern matches, sorted, as glob(3) does: "*", "?" and
// "[...]" (also "[!...]") match within one path element, and a name starting with "." is
// matched only by a pattern element that starts with ".". A pattern without any of them is
// returned as it is (a missing file is then skipped by the reader).
func glob(pattern string) ([]string, error) {
	if !filepath.IsAbs(pattern) {
		return nil, fmt.Errorf("pattern %q is not an absolute path", pattern)
	}
	paths := []string{"/"}
	for _, elem := range strings.Split(strings.Trim(pattern, "/"), "/") {
		if elem == "" {
			continue
		}
		if !strings.ContainsAny(elem, "*?[") {
			for i := range paths {
				paths[i] = filepath.Join(paths[i], elem)
			}
			continue
		}
		goPattern := strings.ReplaceAll(elem, "[!", "[^")
		var next []string
		for _, dir := range paths {
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue // as glob(3): an unreadable directory matches nothing
			}
			for _, e := range entries {
				n := e.Name()
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(elem, ".") {
					continue
				}
				ok, err := filepath.Match(goPattern, n)
				if err != nil {
					ok = n == elem // a pattern glob(3) reads literally (an unclosed "[")
				}
				if ok {
					next = append(next, filepath.Join(dir, n))
				}
			}
		}
		paths = next
	}
	sort.Strings(paths) // glob(3) in the C collation ssh runs with: byte order
	return paths, nil
}

// securePermissions refuses a file that someone other than its reader (or root) could have
// written, as ssh refuses ~/.ssh/config and included files ("Bad owner or permissions"): the
// file names commands perfprov runs (ProxyCommand). Group-writable is allowed only for the
// owner's own group (Debian's user private groups).
func securePermissions(f *os.File, path string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ssh config: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	uid := os.Getuid()
	bad := ""
	switch mode := st.Mode().Perm(); {
	case int(sys.Uid) != uid && sys.Uid != 0:
		bad = fmt.Sprintf("it is owned by uid %d, not by you (uid %d) or root", sys.Uid, uid)
	case mode&0o002 != 0:
		bad = fmt.Sprintf("it is writable by everyone (mode %04o)", mode)
	case mode&0o020 != 0 && !privateGroup(sys.Uid, sys.Gid):
		bad = fmt.Sprintf("it is writable by its group (mode %04o), which is not the owner's own", mode)
	}
	if bad != "" {
		return fmt.Errorf("ssh config %s: bad owner or permissions: %s (ssh refuses it too; chmod go-w %s)", path, bad, path)
	}
	return nil
}

// privateGroup says whether gid is uid's primary group of the same name.
func privateGroup(uid, gid uint32) bool {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil || u.Gid != strconv.FormatUint(uint64(gid), 10) {
		return false
	}
	g, err := user.LookupGroupId(u.Gid)
	return err == nil && g.Name == u.Username
}
