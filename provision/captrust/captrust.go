// Package captrust decides whether a binary may carry file capabilities: only when no user but
// root can change what runs with them.
//
// File capabilities belong to an inode, and exec honours them for whoever runs it. So whoever can
// swap the file (write it, or rename another file over it in a directory they can write) or the
// libraries it loads (an RPATH/RUNPATH directory they can write) gets the capabilities. The rule,
// applied to the binary, every directory above it, the directories its RPATH/RUNPATH names (and
// every directory above those) and the setcap that root runs on it: owned by root, and writable
// by neither group nor others. A sticky bit does not help: in a sticky world-writable directory
// any user may still create the name a path will have.
//
// The facts come from the host in one read (Script), and are judged here (Parse, Report.Check),
// so that the capabilities resource and the benchmark's checks refuse the same things.
package captrust

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUntrusted marks a refusal: a path that a user other than root could change. The engine
// refuses the whole host then, before any change.
var ErrUntrusted = errors.New("untrusted path")

// Error is a refusal, in words, naming the path and its owner and mode.
type Error struct{ msg string }

func (e *Error) Error() string        { return e.msg }
func (e *Error) Is(target error) bool { return target == ErrUntrusted }

func untrusted(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// Script is POSIX sh that prints what Check judges, for the binary at the real path in $_ct_r and
// the tool in $_ct_x that root runs on it (an absolute setcap path; "" for none): ELFScript, then
// ChainScript. It changes nothing, may run in a batch's own shell (it restores IFS and set -f,
// and never exits), and needs only stat, readlink, od and awk. Lines:
//
//	ct=ROLE UID USER MODE PATH   ROLE bin (the binary, then each directory above it), tool, rpath
//	ct_magic=HEX                 what the file starts with: 7f454c46 (ELF), 2321 (#!) or other
//	ct_elf=ok                    the file has an ELF header
//	ct_rpath=TEXT, ct_runpath=TEXT  DT_RPATH and DT_RUNPATH (control characters as '?', then ct_ctl=1)
//	ct_dynbad=1                  a dynamic section whose string table maps to no loaded segment
const Script = ELFScript + ChainScript

// ELFScript prints what the ELF header of $_ct_r says (the ct_magic, ct_elf, ct_rpath, ct_runpath,
// ct_ctl and ct_dynbad lines) and leaves them in $_ct_dyn: one awk, which reads the bytes with od.
// It depends on the file's content alone (a caller may remember it: resource.Memo).
const ELFScript = `_ct_dyn=$(PP_F="$_ct_r" LC_ALL=C awk '` + elfDynAwk + `' 2>/dev/null)
[ -z "$_ct_dyn" ] || printf '%s\n' "$_ct_dyn"
`

// ChainScript prints the ct= lines: of $_ct_r and every directory above it, of $_ct_x and the
// directories above its real path, and of the library directories that the ct_rpath and
// ct_runpath lines of $_ct_dyn name. When $_ct_pre is set, $_ct_r is a real path whose
// directories a batched read's prelude stat'ed already (package prelude): they are found there
// with its _pp_find, a function of builtins, and no stat runs for them.
const ChainScript = `_ct_oifs=$IFS; IFS='
'; set -f
_ct_l=; _ct_p=$_ct_r
while :; do _ct_l="$_ct_l$_ct_p
"; case $_ct_p in /|[!/]*) break;; esac; _ct_p=${_ct_p%/*}; [ -n "$_ct_p" ] || _ct_p=/; done
_ct_out=; _ct_ok=
if [ -n "${_ct_pre-}" ]; then
  _ct_ok=1
  for _ct_p in $_ct_l; do
    if ! _pp_find "$_ct_p"; then _ct_ok=; break; fi
    _ct_out="${_ct_out}ct=bin $_u $_o $_m $_ct_p
"
  done
fi
if [ -n "$_ct_ok" ]; then printf '%s' "$_ct_out"; else stat -c 'ct=bin %u %U %a %n' -- $_ct_l 2>/dev/null; fi
_ct_l=
case $_ct_x in /*) _ct_p=$(readlink -f -- "$_ct_x" 2>/dev/null) && while :; do _ct_l="$_ct_l$_ct_p
"; case $_ct_p in /|[!/]*) break;; esac; _ct_p=${_ct_p%/*}; [ -n "$_ct_p" ] || _ct_p=/; done;; esac
[ -z "$_ct_l" ] || stat -c 'ct=tool %u %U %a %n' -- $_ct_l 2>/dev/null
_ct_l=
for _ct_d in $_ct_dyn; do
  case $_ct_d in ct_rpath=* | ct_runpath=*) ;; *) continue;; esac
  IFS=:
  for _ct_e in ${_ct_d#*=}; do
    case $_ct_e in /*) ;; *) continue;; esac
    case $_ct_e in *'$'*) continue;; esac
    while [ ! -e "$_ct_e" ] && [ "$_ct_e" != / ]; do _ct_e=${_ct_e%/*}; [ -n "$_ct_e" ] || _ct_e=/; done
    _ct_p=$(readlink -f -- "$_ct_e" 2>/dev/null) || continue
    while :; do _ct_l="$_ct_l$_ct_p
"; case $_ct_p in /|[!/]*) break;; esac; _ct_p=${_ct_p%/*}; [ -n "$_ct_p" ] || _ct_p=/; done
  done
  IFS='
'
done
[ -z "$_ct_l" ] || stat -c 'ct=rpath %u %U %a %n' -- $_ct_l 2>/dev/null
IFS=$_ct_oifs; set +f
`

// elfDynAwk prints the DT_RPATH and DT_RUNPATH strings of the ELF file $PP_F (32 or 64 bit, either
// byte order), reading only the header, the program headers, the dynamic segment and the strings
// with od: readelf is often not installed on hosts. No single quote may appear in it.
const elfDynAwk = `function rd(off, len,   cmd, line, nf, f, i, n) {
  cmd = "od -An -v -tu1 -j " off " -N " len " -- \"$PP_F\""
  n = 0
  while ((cmd | getline line) > 0) { nf = split(line, f, " "); for (i = 1; i <= nf; i++) b[n++] = f[i] + 0 }
  close(cmd)
  return n
}
function num(o, len,   v, i) {
  v = 0
  if (le) { for (i = len - 1; i >= 0; i--) v = v * 256 + b[o + i] } else { for (i = 0; i < len; i++) v = v * 256 + b[o + i] }
  return v
}
function str(off,   n, i, s, c) {
  n = rd(off, 4096); s = ""
  for (i = 0; i < n && b[i] != 0; i++) { c = b[i]; if (c < 32 || c == 127) { ctl = 1; c = 63 }; s = s sprintf("%c", c) }
  return s
}
BEGIN {
  if (ENVIRON["PP_F"] == "" || (n = rd(0, 64)) == 0) exit
  if (b[0] == 127 && b[1] == 69 && b[2] == 76 && b[3] == 70) print "ct_magic=7f454c46"
  else if (b[0] == 35 && n > 1 && b[1] == 33) print "ct_magic=2321"
  else print "ct_magic=other"
  if (n < 52 || b[0] != 127 || b[1] != 69 || b[2] != 76 || b[3] != 70) exit
  c64 = (b[4] == 2); le = (b[5] == 1)
  if (c64) { phoff = num(32, 8); phes = num(54, 2); phn = num(56, 2) } else { phoff = num(28, 4); phes = num(42, 2); phn = num(44, 2) }
  print "ct_elf=ok"
  if (phn < 1 || phn > 512 || phes < (c64 ? 56 : 32)) exit
  if (rd(phoff, phn * phes) < phn * phes) exit
  nl = 0; dsz = 0
  for (i = 0; i < phn; i++) {
    o = i * phes; t = num(o, 4)
    if (c64) { off = num(o + 8, 8); va = num(o + 16, 8); fs = num(o + 32, 8) } else { off = num(o + 4, 4); va = num(o + 8, 4); fs = num(o + 16, 4) }
    if (t == 2) { doff = off; dsz = fs }
    if (t == 1) { lo[nl] = off; lv[nl] = va; lf[nl] = fs; nl++ }
  }
  if (dsz == 0) exit
  if (dsz > 65536) dsz = 65536
  es = c64 ? 16 : 8; ws = c64 ? 8 : 4
  n = rd(doff, dsz); nr = 0; strtab = -1
  for (o = 0; o + es <= n; o += es) {
    tag = num(o, ws); val = num(o + ws, ws)
    if (tag == 0) break
    if (tag == 5) strtab = val
    else if (tag == 15 || tag == 29) { kind[nr] = tag; idx[nr] = val; nr++ }
  }
  if (nr == 0) exit
  sto = -1
  for (i = 0; i < nl; i++) if (strtab >= lv[i] && strtab < lv[i] + lf[i]) sto = strtab - lv[i] + lo[i]
  if (sto < 0) { print "ct_dynbad=1"; exit }
  for (i = 0; i < nr; i++) { s = str(sto + idx[i]); print (kind[i] == 15 ? "ct_rpath=" : "ct_runpath=") s }
  if (ctl) print "ct_ctl=1"
}`

// Entry is one path as the host's stat saw it.
type Entry struct {
	Role string // "bin" (the binary or a directory above it), "tool" or "rpath"
	UID  int
	User string
	Mode uint32 // permission bits with setuid, setgid and sticky (stat %a)
	Path string
}

// Report is what Script printed.
type Report struct {
	Entries []Entry
	ELF     bool     // an ELF header was read
	RPath   []string // DT_RPATH strings (each a colon-separated list)
	RunPath []string // DT_RUNPATH strings
	Control bool     // an RPATH/RUNPATH held control characters
	DynBad  bool     // the dynamic section could not be mapped
}

// Parse reads Script's lines out of out (other lines are ignored).
func Parse(out []byte) Report {
	var r Report
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "ct":
			if e, ok := parseEntry(v); ok {
				r.Entries = append(r.Entries, e)
			}
		case "ct_elf":
			r.ELF = true
		case "ct_rpath":
			r.RPath = append(r.RPath, v)
		case "ct_runpath":
			r.RunPath = append(r.RunPath, v)
		case "ct_ctl":
			r.Control = true
		case "ct_dynbad":
			r.DynBad = true
		}
	}
	return r
}

func parseEntry(v string) (Entry, bool) {
	f := strings.SplitN(v, " ", 5)
	if len(f) != 5 {
		return Entry{}, false
	}
	uid, err1 := strconv.Atoi(f[1])
	mode, err2 := strconv.ParseUint(f[3], 8, 32)
	if err1 != nil || err2 != nil {
		return Entry{}, false
	}
	return Entry{Role: f[0], UID: uid, User: f[2], Mode: uint32(mode), Path: f[4]}, true
}

// Check refuses the binary bin (its real path) when a user other than root could change it, a
// directory above it, a library directory it names, or the tool root runs on it. A nil error means
// every path was seen and passed.
func (r Report) Check(bin string) error {
	seenBin := false
	for _, e := range r.Entries {
		if e.Role == "bin" && e.Path == bin {
			seenBin = true
		}
		if err := e.check(bin); err != nil {
			return err
		}
	}
	if !seenBin {
		return fmt.Errorf("could not stat %s and the directories above it to check their owners", bin)
	}
	if !r.ELF {
		return fmt.Errorf("could not read the ELF header of %s (od and awk read it)", bin)
	}
	return r.checkLibraryPaths(bin)
}

func (e Entry) check(bin string) error {
	owner := e.User
	if owner == "" || owner == "UNKNOWN" {
		owner = "uid " + strconv.Itoa(e.UID)
	}
	var who string
	switch {
	case e.Role == "bin" && e.Path == bin:
		who = "the binary " + e.Path
	case e.Role == "bin":
		who = e.Path + " (a directory above " + bin + ")"
	case e.Role == "tool":
		who = e.Path + " (the setcap root runs, or a directory above it)"
	default:
		who = e.Path + " (a library directory " + bin + " names in its RPATH/RUNPATH, or one above it)"
	}
	mode := fmt.Sprintf("%04o", e.Mode)
	switch {
	case e.UID != 0:
		return untrusted("%s is owned by %s (mode %s), not root: %s could swap what runs with capabilities; make it root-owned and not writable by group or others, or install the binary elsewhere", who, owner, mode, owner)
	case e.Mode&0o022 != 0 && e.Mode&0o1000 != 0:
		return untrusted("%s is writable by %s (mode %s; the sticky bit still lets any user create names there): a binary with capabilities needs a path only root can change; install it elsewhere", who, writers(e.Mode), mode)
	case e.Mode&0o022 != 0:
		return untrusted("%s is writable by %s (mode %s): they could swap what runs with capabilities; remove the write bits (chmod go-w) or install the binary elsewhere", who, writers(e.Mode), mode)
	}
	return nil
}

func writers(mode uint32) string {
	switch {
	case mode&0o022 == 0o022:
		return "group and others"
	case mode&0o020 != 0:
		return "its group"
	default:
		return "others"
	}
}

// checkLibraryPaths refuses RPATH/RUNPATH entries the loader would resolve against something a
// user controls: $ORIGIN (the binary's directory, wherever a hard link of it is), a relative or
// empty entry (the current directory).
func (r Report) checkLibraryPaths(bin string) error {
	if r.Control {
		return untrusted("%s has an RPATH/RUNPATH with control characters: refusing a binary whose library path cannot be read plainly", bin)
	}
	if r.DynBad {
		return untrusted("%s has a dynamic section perfprov cannot map: refusing to give capabilities to a binary whose library path it cannot read", bin)
	}
	for _, list := range [][]string{r.RPath, r.RunPath} {
		for _, s := range list {
			for _, e := range strings.Split(s, ":") {
				switch {
				case strings.Contains(e, "$"):
					return untrusted("%s has RPATH/RUNPATH %q: %s is a loader token; with capabilities the library path must name fixed root-owned directories; relink without it", bin, s, e)
				case !strings.HasPrefix(e, "/"):
					return untrusted("%s has RPATH/RUNPATH %q with the relative entry %q: the loader would look in the current directory of whoever runs it; relink with absolute root-owned directories", bin, s, e)
				}
			}
		}
	}
	return nil
}
