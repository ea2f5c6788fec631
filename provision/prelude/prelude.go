// Package prelude is what a host's batched read learns once for all of its resources, in two
// processes at most: one stat of every path they name and one awk for every file line they need.
// Both land in variables of the script's own shell, which the resources' read snippets look up
// with shell builtins: on a host where a process start costs milliseconds, processes are most of
// a no-op run. When the facts script runs first in the same shell (facts.GatherThen), it takes
// this work into its own stat and awk, and a read after it starts neither (Script checks).
//
// The variables, for the lookups below (nothing else reads them):
//
//	_pp_stat  two lines per path that exists: the path, then StatFields of it (stat -L)
//	_pp_fx    x=PATH<TAB>LINE for every line wanted (File), xm=PATH<TAB>POINT<TAB>OPTIONS<TAB>FSTYPE
//	          for the mount that holds each of Plan.Mounts; unset when the awk did not succeed,
//	          so that no lookup takes a missing line for an answer
//	_pp_pre   the Token of the plan both were made for, set by the facts script and taken by the
//	          prelude that follows it
//
// Lookups loop over lines with case, never ${v#*pattern} on a long value: dash matches that
// pattern against every prefix in turn (half a second for 20 KB).
package prelude

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
)

// StatFormat is stat -c's format: the path on a line of its own (no spec path holds a newline,
// and none is taken for a line of fields, which never starts with '/'), then its fields.
const StatFormat = "%n\n" + StatFields

// StatFields are kind|owner|group|uid|gid|mode|fingerprint, the fingerprint being
// dev:inode:size:mtime:ctime: any write to the file, and any change of its mode, owner or
// extended attributes (file capabilities), gives it a new ctime.
const StatFields = "%F|%U|%G|%u|%g|%a|%d:%i:%s:%Y:%Z"

// File asks for the lines of a file that hold Needle ("": every line).
type File struct {
	Path string `json:"path"`
	// Suffix, when set, makes Path a directory: the files are every Path/*Suffix.
	Suffix string `json:"suffix,omitempty"`
	Needle string `json:"needle,omitempty"`
}

// Plan is what one read's prelude learns.
type Plan struct {
	Stat   []string `json:"stat,omitempty"`   // paths to stat
	Files  []File   `json:"files,omitempty"`  // lines to read
	Mounts []string `json:"mounts,omitempty"` // paths whose mount to find
}

// Add merges o into p, each path and file once.
func (p *Plan) Add(o Plan) {
	for _, s := range o.Stat {
		if !slices.Contains(p.Stat, s) {
			p.Stat = append(p.Stat, s)
		}
	}
	for _, f := range o.Files {
		if !slices.Contains(p.Files, f) {
			p.Files = append(p.Files, f)
		}
	}
	for _, m := range o.Mounts {
		if !slices.Contains(p.Mounts, m) {
			p.Mounts = append(p.Mounts, m)
		}
	}
}

// Empty reports whether the plan learns nothing.
func (p Plan) Empty() bool { return len(p.Stat) == 0 && len(p.Files) == 0 && len(p.Mounts) == 0 }

// Equal reports whether two plans learn the same.
func (p Plan) Equal(o Plan) bool {
	return slices.Equal(p.Stat, o.Stat) && slices.Equal(p.Files, o.Files) && slices.Equal(p.Mounts, o.Mounts)
}

// Token names the plan: the facts script sets _pp_pre to it once it has done the plan's work.
func (p Plan) Token() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Script is the prelude of a batched read: the stat and the awk of the plan, unless the facts
// script did them in this shell already. "" for an empty plan.
func Script(p Plan) string {
	if p.Empty() {
		return ""
	}
	var b strings.Builder
	b.WriteString(Funcs)
	b.WriteString("if [ \"${_pp_pre-}\" != " + p.Token() + " ]; then\nunset _pp_stat _pp_fx\n")
	if len(p.Stat) > 0 {
		b.WriteString("_pp_stat=$(stat -L -c " + shell.Quote(StatFormat) + " -- " + shell.Join(p.Stat...) + " 2>/dev/null)\n")
	}
	if len(p.Files) > 0 || len(p.Mounts) > 0 {
		b.WriteString(FileList(p))
		b.WriteString("if [ -r /proc/self/mountinfo ]; then _pp_xl=\"${_pp_xl}/proc/self/mountinfo\n\"; fi\n")
		b.WriteString(`_pp_o=$IFS; IFS='
'; set -f
set -- $_pp_xl
IFS=$_pp_o; set +f
`)
		b.WriteString("if command -v awk >/dev/null 2>&1 && _pp_x=$(" + AwkEnv + " awk '\nBEGIN {\n" + AwkBegin + "\n}\n" + AwkRules + "\nEND {\n" + AwkEnd + "\n}' \"$@\" </dev/null 2>/dev/null); then _pp_fx=$_pp_x; fi\n")
	}
	// The token is taken: a later prelude in this shell (after changes) does its work again.
	b.WriteString("fi\nunset _pp_pre\n")
	return b.String()
}

// FileList is shell that gathers the plan's readable files, each once, into _pp_xl (a path a
// line) and what to keep of each into _pp_xn (PATH<TAB>NEEDLE lines), and the paths of the plan's
// mounts into _pp_xm. A name with a tab or a newline is left out (the lines could not hold it).
func FileList(p Plan) string {
	var b strings.Builder
	b.WriteString(`_pp_xl=; _pp_xn=; _pp_xm=
_pp_xa() {
case $1 in *'	'* | *'
'*) return 0 ;; esac
[ -f "$1" ] && [ -r "$1" ] || return 0
_pp_xn="$_pp_xn$1	$2
"
case "
$_pp_xl" in *"
$1
"*) ;; *) _pp_xl="$_pp_xl$1
" ;; esac
}
`)
	for _, f := range p.Files {
		word := shell.Quote(f.Path)
		if f.Suffix != "" {
			word += "/*" + shell.Quote(f.Suffix)
		}
		b.WriteString("for _pp_f in " + word + "; do _pp_xa \"$_pp_f\" " + shell.Quote(f.Needle) + "; done\n")
	}
	if len(p.Mounts) > 0 {
		b.WriteString("_pp_xm=" + shell.Quote(strings.Join(p.Mounts, "\n")) + "\n")
	}
	return b.String()
}

// AwkEnv passes FileList's variables to the awk (its program reads them from ENVIRON).
const AwkEnv = `PP_XN="$_pp_xn" PP_XM="$_pp_xm"`

// AwkBegin, AwkRules and AwkEnd are the parts of an awk program (POSIX awk: mawk, gawk, busybox)
// that print what a plan asks for, to be placed in its BEGIN block, first among its rules, and
// in its END block; no single quote is in them, and their names all start with x. The lines
// wanted print as they are read, the mounts at the end, then x.end=1 (facts.GatherThen cuts
// there).
const (
	AwkBegin = `	xn = split(ENVIRON["PP_XN"], xl, "\n")
	for (i = 1; i <= xn; i++) {
		if ((j = index(xl[i], "\t")) == 0) continue
		xp = substr(xl[i], 1, j - 1)
		xc[xp]++
		xk[xp, xc[xp]] = substr(xl[i], j + 1)
	}
	xmn = split(ENVIRON["PP_XM"], xmp, "\n")`
	AwkRules = `FILENAME in xc {
	for (i = 1; i <= xc[FILENAME]; i++) if (xk[FILENAME, i] == "" || index($0, xk[FILENAME, i])) { print "x=" FILENAME "\t" $0; break }
}
xmn && FILENAME == "/proc/self/mountinfo" {
	# The mount holding a path: the longest mount point that holds it; the last one listed
	# wins, being mounted on top. Spaces in mount points are written \040.
	m = $5; gsub(/\\040/, " ", m); pre = (m == "/") ? "/" : m "/"
	for (i = 1; i <= xmn; i++) {
		if ((xmp[i] == m || index(xmp[i] "/", pre) == 1) && length(m) >= xbl[i]) {
			for (j = 7; j < NF && $j != "-"; j++);
			if ($j != "-") continue
			xbl[i] = length(m); xpt[i] = m; xop[i] = $6; xft[i] = $(j + 1)
		}
	}
}`
	AwkEnd = `	for (i = 1; i <= xmn; i++) if (xbl[i]) print "xm=" xmp[i] "\t" xpt[i] "\t" xop[i] "\t" xft[i]
	print "x.end=1"`
)

// Funcs are the shell functions that the lookups call: Script defines them, before its work,
// so that a batch has them whether the facts script did that work or not. They keep IFS and the
// -f option as they were; each returns 0 when it found what it looks for.
//
//	_pp_find PATH      $_k (kind), $_o (owner), $_g (group), $_u (uid), $_i (gid), $_m (mode)
//	                   and $_f (fingerprint) from PATH's line of _pp_stat (not for an odd line)
//	_pp_x1 KEY PREFIX  $_pp_v: the first line of _pp_fx that starts with "KEY<TAB>PREFIX",
//	                   less "KEY<TAB>" (KEY is x=PATH or xm=PATH)
const Funcs = `_pp_find() {
_pp_h=; _f=; _pp_n=; _pp_o=$IFS; IFS='
'; _pp_F=; case $- in *f*) _pp_F=1 ;; esac; set -f
for _pp_l in ${_pp_stat-}; do
if [ -n "$_pp_n" ]; then _pp_h=$_pp_l; break; fi
[ "$_pp_l" = "$1" ] && _pp_n=1
done
IFS=$_pp_o; [ -n "$_pp_F" ] || set +f
[ -n "$_pp_h" ] || return 1
IFS='|' read -r _k _o _g _u _i _m _f <<_PP_STAT_EOF_
$_pp_h
_PP_STAT_EOF_
case "$_u|$_i|$_m|$_f" in *[!0-9:\|]* | *'||'* | '|'* | *'|') _f=; return 1 ;; esac
}
_pp_x1() {
_pp_h=; _pp_o=$IFS; IFS='
'; _pp_F=; case $- in *f*) _pp_F=1 ;; esac; set -f
for _pp_l in ${_pp_fx-}; do case $_pp_l in "$1	$2"*) _pp_v=${_pp_l#"$1	"}; _pp_h=1; break ;; esac; done
IFS=$_pp_o; [ -n "$_pp_F" ] || set +f
[ -n "$_pp_h" ]
}
`

// Have is a shell test: the prelude read the plan's files (its lines are there to look up).
const Have = `[ -n "${_pp_fx+x}" ]`

// StatLookup is shell that finds "$p" (a path the plan stats) in _pp_stat and runs print with
// its fields (see Funcs); where there is no prelude, or it has no line for $p (or an odd one), it
// runs fallback, which prints the same without the fingerprint ($_f is then empty). It ends with
// a newline.
func StatLookup(print, fallback string) string {
	return `_f=
if [ -n "${_pp_stat+x}" ] && _pp_find "$p"; then ` + print + `
else ` + fallback + `
fi
`
}

// FirstLine is shell that sets the variable named v to the first line of path (as File asked
// for it) that starts with prefix; v is empty when there is none, or no prelude (Have tells).
func FirstLine(path, prefix, v string) string {
	return v + "=\n" + Have + " && _pp_x1 " + shell.Quote("x="+path) + " " + shell.Quote(prefix) + " && " + v + "=$_pp_v\n"
}

// Mount is shell that sets $_mp, $_mo and $_mt to the mount point, options and filesystem type
// of the mount holding "$r", a path of Plan.Mounts, and $_mh to 1, when the prelude found it.
const Mount = `_mh=; _mp=; _mo=; _mt=
if ` + Have + ` && _pp_x1 "xm=$r" ''; then _mh=1; IFS='	' read -r _mp _mo _mt <<_PP_MOUNT_EOF_
$_pp_v
_PP_MOUNT_EOF_
fi
`
