// Package distro tells distributions apart the way their packages differ: which package manager
// a host uses and which family's package names apply (the perf and libcap packages are named per
// family in the built-in modules). A host is placed by its os-release ID, then by each ID_LIKE in
// order, so that a derivative perfprov has never heard of (Rocky, Linux Mint, Pop!_OS, Manjaro...)
// is treated as what it says it is like.
//
// The same decision is made twice: in Go, from the facts, and in shell, by the package resource's
// read (which runs before and without the facts, see DetectScript). Both come from Families.
package distro

import (
	"fmt"
	"slices"
	"strings"
)

// Family is a group of distributions that share a package manager and package names.
type Family struct {
	// Name is the family's key: the value of host.facts.os_family.
	Name string
	// IDs are the os-release IDs that stand for the family, as ID or in ID_LIKE. Derivatives are
	// deliberately absent: their ID_LIKE names one of these.
	IDs []string
	// Managers are the family's package managers, preferred first (facts' names: apt, not
	// apt-get). The first one the host has is used.
	Managers []string
}

// Families are the families perfprov knows, in no particular order (an ID is in one family).
// Ubuntu is a family of its own: its perf package is per kernel (linux-tools-RELEASE).
var Families = []Family{
	{Name: "debian", IDs: []string{"debian", "raspbian"}, Managers: []string{"apt"}},
	{Name: "ubuntu", IDs: []string{"ubuntu"}, Managers: []string{"apt"}},
	// RHEL 8 and later, Fedora 22 and later use dnf (yum is a link to it there); CentOS 7,
	// Amazon Linux 2 and Oracle Linux 7 have only yum.
	{Name: "fedora", IDs: []string{"fedora", "rhel", "centos"}, Managers: []string{"dnf", "yum"}},
	{Name: "suse", IDs: []string{"suse", "opensuse", "sles"}, Managers: []string{"zypper"}},
	{Name: "alpine", IDs: []string{"alpine"}, Managers: []string{"apk"}},
	{Name: "arch", IDs: []string{"arch"}, Managers: []string{"pacman"}},
}

// Managers are the package managers perfprov drives, in the order a host without a known family
// is searched (the order of the facts script). Commands are ManagerCommand's.
var Managers = []string{"apt", "dnf", "yum", "zypper", "apk", "pacman"}

// ManagerCommand is the command whose presence on PATH means the manager is there.
func ManagerCommand(manager string) string {
	if manager == "apt" {
		return "apt-get"
	}
	return manager
}

// Lookup returns the family of a host with os-release ID id and ID_LIKE like: the first of id,
// then like in order, that a family names.
func Lookup(id string, like []string) (Family, bool) {
	for _, x := range append([]string{id}, like...) {
		for _, f := range Families {
			if x != "" && slices.Contains(f.IDs, x) {
				return f, true
			}
		}
	}
	return Family{}, false
}

// Manager picks the package manager among present (the managers found on the host): the first of
// the family's own that is present, else the first present in Managers' order; "" when none is.
func Manager(f Family, present []string) string {
	for _, m := range f.Managers {
		if slices.Contains(present, m) {
			return m
		}
	}
	for _, m := range Managers {
		if slices.Contains(present, m) {
			return m
		}
	}
	return ""
}

// OSRelease is what perfprov reads from os-release.
type OSRelease struct {
	ID, VersionID, PrettyName string
	IDLike                    []string
}

// ParseOSRelease reads the lines of an os-release file: shell-style assignments whose values may
// be quoted ('...' or "..." with backslash escapes), comments and blank lines ignored.
func ParseOSRelease(lines []string) OSRelease {
	var r OSRelease
	for _, l := range lines {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		v = unquote(v)
		switch k {
		case "ID":
			r.ID = v
		case "ID_LIKE":
			r.IDLike = strings.Fields(v)
		case "VERSION_ID":
			r.VersionID = v
		case "PRETTY_NAME":
			r.PrettyName = v
		}
	}
	if r.IDLike == nil {
		r.IDLike = []string{}
	}
	return r
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// OSReleaseFiles are where os-release is read, the first readable one wins (os-release(5)).
var OSReleaseFiles = []string{"/etc/os-release", "/usr/lib/os-release"}

// DetectScript is POSIX sh that sets pm to the package manager Manager would choose, unless pm is
// already set: it reads ID and ID_LIKE from the first readable of files (OSReleaseFiles) with the
// shell's own read (no process), picks the family's managers, and looks for their commands. It
// uses the variables _osr, _l, _id, _like, _c, _i and _m. The file names must be plain paths
// (they are not quoted).
func DetectScript(files ...string) string {
	var cases strings.Builder
	for _, f := range Families {
		var cands []string
		for _, m := range f.Managers {
			cands = append(cands, ManagerCommand(m)+":"+m)
		}
		fmt.Fprintf(&cases, "\t\t%s) _c=%q ;;\n", strings.Join(f.IDs, "|"), strings.Join(cands, " "))
	}
	var all []string
	for _, m := range Managers {
		all = append(all, ManagerCommand(m)+":"+m)
	}
	return `if [ -z "$pm" ]; then
	_id= _like= _c= _osr=
	for _osr in ` + strings.Join(files, " ") + `; do [ -r "$_osr" ] && break; _osr=; done
	if [ -n "$_osr" ]; then
		while IFS= read -r _l || [ -n "$_l" ]; do
			case $_l in ID=*) _id=${_l#ID=} ;; ID_LIKE=*) _like=${_l#ID_LIKE=} ;; esac
		done <"$_osr"
	fi
	# Quotes around the values; ID_LIKE's words are split by the for.
	_id=${_id#[\"\']} _id=${_id%[\"\']} _like=${_like#[\"\']} _like=${_like%[\"\']}
	for _i in $_id $_like; do
		case $_i in
` + cases.String() + `		esac
		[ -n "$_c" ] && break
	done
	for _m in $_c ` + strings.Join(all, " ") + `; do
		if command -v "${_m%%:*}" >/dev/null 2>&1; then pm=${_m#*:}; break; fi
	done
fi
`
}
