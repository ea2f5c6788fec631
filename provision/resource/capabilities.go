package resource

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/linuxcap"
	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/captrust"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// capabilities: an ELF binary carries exactly the given file capabilities.
//
// The traps it guards against (see shared/domain.md): setcap on a symlink fails and on a script
// does nothing; a file with capabilities must never be world-executable; a nosuid mount makes exec
// ignore them; a filesystem without xattrs cannot hold them; getcap's text differs between libcap
// versions, so sets are compared as bit masks, never as text.
type capabilities struct {
	base
	path    string
	caps    []string
	flags   string
	setcap  string
	follow  bool
	want    linuxcap.Set
	capText string // what setcap gets: the spec's own words, "cap_a,cap_b=ep"
	memo    Memo
}

// capabilitiesKind is the capabilities type: its schema (what validate checks) beside its implementation.
var capabilitiesKind = Kind{New: newCapabilities, Schema: &spec.ResourceSchema{
	Type: "capabilities",
	Doc:  "A binary carries exactly the given file capabilities, set with setcap and verified with setcap -v.",
	Attrs: []spec.AttrSchema{
		{Name: "path", Type: cty.String, Required: true, Check: text(hostPath("path")), Doc: "The ELF binary. Scripts are refused: file capabilities do nothing on them."},
		{Name: "caps", Type: cty.List(cty.String), Required: true, Check: each(checkCapName), Doc: `Capability names such as ["cap_perfmon", "cap_sys_ptrace", "cap_syslog"].`},
		{Name: "flags", Type: cty.String, Default: cty.StringVal("ep"), Check: text(spec.CheckCapFlags), Doc: `Capability flags: "ep", "eip", "p"...`},
		{Name: "setcap", Type: cty.String, Default: cty.StringVal("setcap"), Doc: "The setcap binary to use, e.g. one built by the libcap module."},
		{Name: "follow_symlinks", Type: cty.Bool, Default: cty.False, Doc: "Allow path to be a symlink and set capabilities on its target."},
	},
}}

// checkCapName checks how a spec names a capability: lowercase, as getcap prints it, from the
// one table (linuxcap), or its number.
func checkCapName(s string) error {
	if !linuxcap.IsSpecName(s) {
		return fmt.Errorf("%q is not a capability name: use lowercase names such as \"cap_perfmon\" (or a number such as \"38\").", s)
	}
	return nil
}

func newCapabilities(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	c := &capabilities{base: base{r}}
	var err error
	c.path, _, err = a.str("path")
	e.add(err)
	c.caps, err = a.list("caps")
	e.add(err)
	c.flags, err = a.strOr("flags", "ep")
	e.add(err)
	c.setcap, err = a.strOr("setcap", "setcap")
	e.add(err)
	if strings.Contains(c.setcap, "/") {
		e.add(spec.CheckHostPath("setcap", c.setcap))
	} else if c.setcap != "setcap" {
		e.add(fmt.Errorf("setcap %q must be \"setcap\" or an absolute path", c.setcap))
	}
	c.follow, err = a.boolean("follow_symlinks", false)
	e.add(err)
	if err := e.err(); err != nil {
		return nil, err
	}
	c.want, err = linuxcap.NewSet(c.caps, c.flags)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(c.caps))
	for i, n := range c.caps {
		names[i] = strings.ToLower(strings.TrimSpace(n))
	}
	if len(names) > 0 {
		c.capText = strings.Join(names, ",") + "=" + strings.ToLower(c.flags)
	}
	return c, nil
}

type capState struct {
	exists    bool
	symlink   bool
	real      string
	kind      string
	mode      uint32
	magic     string // 7f454c46 (ELF), 2321 (#!), other, or "" (empty or unreadable)
	current   linuxcap.Set
	known     bool // current was read (getcap ran)
	verified  bool // setcap -v said the set matches (used when getcap is missing)
	setcapOK  bool
	mountPt   string
	mountOpts string
	fsType    string
	trust     captrust.Report // owners and modes of the path, its directories, its library path
}

// The read costs what it starts: a process start is milliseconds on a small host, and the read
// runs on every host of every run. So the real path comes from cd -P (a builtin) unless the path
// itself is a symlink (only readlink -f follows those), the getcap lookup is a loop over PATH in
// the shell, and in a batch the stat of the path and of every directory above it, and the mount
// that holds it, come from the batch's prelude (package prelude). What depends on the file alone
// (getcap, and its first bytes and ELF header, which one awk reads with od) is remembered by its
// fingerprint (Memo): a file unchanged since a read that did that work is not read again.

// mountAwk prints the mount point, options and filesystem type of the mount that holds $PP_R:
// the longest mount point that is a prefix of it (the last one listed wins: it is mounted on top).
const mountAwk = `PP_R="$r" awk 'BEGIN { p = ENVIRON["PP_R"] }
  { m=$5; gsub(/\\040/, " ", m); pre=(m=="/") ? "/" : m "/";
  if (index(p "/", pre)==1 && length(m)>=bl) { bl=length(m); mp=m; mo=$6; for(i=7;$i!="-";i++); ft=$(i+1) } }
  END { print "mountpoint=" mp; print "mountopts=" mo; print "fstype=" ft }' /proc/self/mountinfo`

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (c *capabilities) ReadsInShell() bool { return true }

func (c *capabilities) ReadScript() string {
	work := `if [ -n "$gc" ]; then _gco=$("$gc" "$r") && printf 'getcap=%s\n' "$_gco"; fi
_ct_r=$r
` + captrust.ELFScript
	return fmt.Sprintf(`p=%s; sc=%s; want=%s
_f=; _ct_pre=; _ct_dyn=
if command -v "$sc" >/dev/null 2>&1; then echo setcap_ok=1; fi
if [ -L "$p" ]; then echo symlink=1; fi
if [ -e "$p" ]; then
  echo exists=1
  if [ -L "$p" ]; then r=$(readlink -f -- "$p"); else r=$p; d=${p%%/*}; cd -P "${d:-/}" 2>/dev/null && r=${PWD%%/}/${p##*/}; fi
  printf 'real=%%s\n' "$r"
%s  [ "$r" = "$p" ] && [ -n "${_pp_stat+x}" ] && _ct_pre=1
%s  if [ -n "$_mh" ]; then printf 'mountpoint=%%s\nmountopts=%%s\nfstype=%%s\n' "$_mp" "$_mo" "$_mt"; else %s; fi
  gc=
  case $sc in */*) [ -x "${sc%%/*}/getcap" ] && gc="${sc%%/*}/getcap";; esac
  if [ -z "$gc" ]; then
    set -f; oifs=$IFS; IFS=:
    for d in $PATH:/usr/sbin:/sbin; do case $d in /*) [ -f "$d/getcap" ] && [ -x "$d/getcap" ] && gc=$d/getcap && break;; esac; done
    IFS=$oifs; set +f
  fi
  if [ -f "$r" ]; then
%s  fi
  if [ -z "$gc" ] && [ -n "$want" ] && "$sc" -v "$want" "$r" >/dev/null 2>&1; then echo verified=1; fi
  _ct_r=$r; _ct_x=$sc
%selse echo exists=0; fi
`, shell.Quote(c.path), shell.Quote(c.setcap), shell.Quote(c.capText),
		// stat -L of the path is that of its real path.
		prelude.StatLookup(`printf 'kind=%s\nmode=%s\n' "$_k" "$_m"`, `stat -L -c 'kind=%F
mode=%a' -- "$r"`), prelude.Mount, mountAwk, memoScript(c.memo, work, `_ct_dyn=$_pp_memo`), captrust.ChainScript)
}

// Prelude: the path, every directory above it (captrust's chain) and its mount.
func (c *capabilities) Prelude() prelude.Plan {
	p := prelude.Plan{Mounts: []string{c.path}}
	for d := c.path; ; d = path.Dir(d) {
		p.Stat = append(p.Stat, d)
		if d == "/" {
			return p
		}
	}
}

// MemoKey: what getcap and the ELF header say of the file is remembered.
func (c *capabilities) MemoKey() string { return "capabilities " + c.path }

func (c *capabilities) UseMemo(m Memo) { c.memo = m }

// KeepMemo keeps what getcap said (it was found and ran) and what the file starts with, its ELF
// header read when it is one.
func (c *capabilities) KeepMemo(lines []string) bool {
	has := func(p string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, p) })
	}
	return has("getcap=") && (has("ct_magic=") && !has("ct_magic=7f454c46") || has("ct_elf=ok"))
}

func (c *capabilities) Parse(s Section) (State, error) {
	m := kv(s.Stdout)
	st := capState{
		exists: m["exists"] == "1", symlink: m["symlink"] == "1", real: m["real"], kind: m["kind"],
		magic: m["ct_magic"], setcapOK: m["setcap_ok"] == "1", verified: m["verified"] == "1",
		mountPt: m["mountpoint"], mountOpts: m["mountopts"], fsType: m["fstype"],
		trust: captrust.Parse(s.Stdout),
	}
	if !st.exists {
		return st, nil
	}
	mode, err := strconv.ParseUint(m["mode"], 8, 32)
	if err != nil {
		return st, fmt.Errorf("unreadable mode %q", m["mode"])
	}
	st.mode = uint32(mode)
	if g, ok := m["getcap"]; ok {
		st.current, err = ParseGetcap(g, st.real)
		if err != nil {
			return st, err
		}
		st.known = true
	}
	return st, nil
}

// check refuses the states where capabilities cannot work or would be unsafe.
func (c *capabilities) check(st capState) error {
	switch {
	case !st.exists:
		return notReady("%s does not exist", c.path)
	case st.symlink && !c.follow:
		return fmt.Errorf("%s is a symlink to %s: setcap refuses symlinks; point path at the real binary (or set follow_symlinks = true to set them on the target)", c.path, st.real)
	case st.kind != "regular file":
		return fmt.Errorf("%s is a %s, not a regular file", st.real, st.kind)
	case st.magic == "" || strings.HasPrefix(st.magic, "2321"):
		return notReady("%s is a script (it starts with #!): file capabilities do nothing on scripts; point path at the ELF binary the script runs (for example a copy in a dedicated directory)", st.real)
	case st.magic != "7f454c46":
		return notReady("%s is not an ELF binary: file capabilities only work on ELF executables", st.real)
	case st.fsType == "ramfs":
		return fmt.Errorf("%s is on a ramfs filesystem, which has no extended attributes: it cannot carry file capabilities; install the binary on a disk filesystem", st.real)
	case hasOpt(st.mountOpts, "nosuid") && !c.want.Empty():
		return fmt.Errorf("%s is on a nosuid mount (%s, options %s): setcap would succeed but exec ignores file capabilities there; install the binary on a filesystem mounted without nosuid", st.real, st.mountPt, st.mountOpts)
	}
	// Before the mode: a binary a user could swap is refused, not restricted and then given
	// capabilities (the engine refuses the host before any change).
	if !c.want.Empty() {
		if err := st.trust.Check(st.real); err != nil {
			return err
		}
	}
	switch {
	case st.mode&0o001 != 0 && !c.want.Empty():
		return notReady("%s is executable by everyone (mode %s): a binary with capabilities must never be world-executable; restrict it first (a permissions resource before this one, e.g. mode 0750 with a group, as the perf_users module does)", st.real, fmtMode(st.mode))
	case !st.setcapOK:
		return notReady("setcap binary %s not found on the host", c.setcap)
	}
	return nil
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

func (c *capabilities) inSync(st capState) bool {
	if st.known {
		return st.current == c.want
	}
	if c.want.Empty() {
		return false
	}
	return st.verified
}

func (c *capabilities) Diff(s State) (*Diff, error) {
	st := s.(capState)
	if err := c.check(st); err != nil {
		return nil, err
	}
	if c.inSync(st) {
		return &Diff{}, nil
	}
	old := "(unknown: no getcap)"
	if st.known {
		old = st.current.String()
	}
	d := &Diff{Action: Update, Changes: []Change{{Attr: "caps", Old: old, New: c.want.String()}}}
	switch {
	case c.want.Empty():
		d.Action = Delete
	case st.known && st.current.Empty():
		d.Action = Create
	}
	return d, nil
}

func (c *capabilities) Apply(ctx context.Context, t *Target, s State, d *Diff) error {
	return applyScript(ctx, t, c, s, d, "setcap "+s.(capState).real)
}

func (c *capabilities) ApplyScript(s State, _ *Diff) (string, bool) {
	st := s.(capState)
	var set string
	if c.want.Empty() {
		set = `"$sc" -r "$r"`
	} else {
		// The mode is checked again right before setcap: no instant with caps on a world-executable file.
		// So are its owner and write bits (the read checked the directories above it, which only
		// root can change). A set that does not verify is removed again, never left half right.
		set = `case $(stat -L -c %a -- "$r") in *[1357]) echo "$r is executable by everyone: restrict it first" >&2; exit 3;; esac
case $(stat -L -c '%u %a' -- "$r") in "0 "*[2367]? | "0 "*[2367]) echo "$r is writable by group or others: refusing to give it capabilities" >&2; exit 3;; "0 "*) ;; *) echo "$r is not owned by root: refusing to give it capabilities" >&2; exit 3;; esac
"$sc" "$want" "$r"
"$sc" -v "$want" "$r" || { "$sc" -r "$r"; exit 1; }`
	}
	return fmt.Sprintf("set -e\nr=%s; sc=%s; want=%s\n%s\n", shell.Quote(st.real), shell.Quote(c.setcap), shell.Quote(c.capText), set), true
}

func (c *capabilities) ApplyOutcome(s State, res *transport.Result) error {
	st := s.(capState)
	if res.OK() {
		return nil
	}
	out := string(res.Stderr) + string(res.Stdout)
	switch {
	case strings.Contains(out, "Operation not supported"):
		return fmt.Errorf("setcap %s: the filesystem (%s on %s) does not support extended attributes, so it cannot carry file capabilities; install the binary on one that does", st.real, st.fsType, st.mountPt)
	case strings.Contains(out, "differs"):
		return fmt.Errorf("setcap -v %s: capabilities differ after setcap: %s", st.real, lastLines(res.Stdout, res.Stderr))
	case strings.Contains(out, "nvalid argument") || strings.Contains(out, "nable to parse") || strings.Contains(out, "fatal error"):
		return fmt.Errorf("setcap %s %q failed: %s (a libcap older than 2.36 does not know cap_perfmon: use its number 38 or a newer setcap)", st.real, c.capText, lastLines(res.Stderr, res.Stdout))
	}
	return fmt.Errorf("setcap %s failed (exit %d): %s", st.real, res.ExitStatus, lastLines(res.Stderr, res.Stdout))
}

func (c *capabilities) Fingerprint() string {
	return Fingerprint("capabilities", c.path, c.want.String())
}

// Revert removes the capabilities this run set, when the host failed after they were set (the
// end-to-end check included): a host is never left with capabilities on a binary a check
// rejected. The engine calls it; an empty set has nothing to revert.
func (c *capabilities) Revert(ctx context.Context, t *Target, s State) error {
	st := s.(capState)
	if c.want.Empty() || st.real == "" {
		return nil
	}
	script := fmt.Sprintf("r=%s; sc=%s\n\"$sc\" -r \"$r\"\n", shell.Quote(st.real), shell.Quote(c.setcap))
	if _, err := run(ctx, t, transport.Command{Script: script}, "setcap -r "+st.real); err != nil {
		return err
	}
	return nil
}
