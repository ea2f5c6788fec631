package resource

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// sysctl: a kernel parameter has the value at runtime and in a persistent drop-in.
//
// The drop-in may be shared by several sysctl resources, so each one edits only its own key's
// line. A drop-in that sorts before another file setting the same key loses at boot; that is
// reported as an error naming the winning file instead of being silently ineffective.
type sysctl struct {
	base
	name        string // dotted form
	value       string // normalised: fields joined by one space
	persist     bool
	persistFile string
}

// sysctlKind is the sysctl type: its schema (what validate checks) beside its implementation.
var sysctlKind = Kind{New: newSysctl, Schema: &spec.ResourceSchema{
	Type: "sysctl",
	Doc:  "A kernel parameter has the value at runtime (read back to verify) and in a persistent drop-in.",
	Attrs: []spec.AttrSchema{
		{Name: "name", Type: cty.String, Required: true, Check: text(spec.CheckSysctlName), Doc: `Parameter name, such as "kernel.perf_event_paranoid".`},
		{Name: "value", Type: cty.String, Required: true, Doc: "Value; numbers are accepted and compared as text after trimming."},
		{Name: "persist", Type: cty.Bool, Default: cty.True, Doc: "Also write the value to persist_file."},
		{Name: "persist_file", Type: cty.String, Default: cty.StringVal(spec.DefaultSysctlFile), Check: text(hostPath("persist_file")), Doc: "Drop-in file; its name must sort after the distribution's files (Debian links /etc/sysctl.conf as 99-sysctl.conf)."},
	},
}}

// sysctlDirs are read in this order at boot (systemd-sysctl and procps sysctl --system); files
// of the same name in earlier directories hide later ones.
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

func newSysctl(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	s := &sysctl{base: base{r}}
	var err error
	name, _, err := a.str("name")
	e.add(err)
	s.name = normSysctlKey(name)
	v, _, err := a.str("value")
	e.add(err)
	s.value = normSysctlValue(v)
	if s.value == "" || strings.ContainsAny(v, "\n\x00") {
		e.add(fmt.Errorf("sysctl value %q must be a non-empty single line", v))
	}
	s.persist, err = a.boolean("persist", true)
	e.add(err)
	s.persistFile, err = a.strOr("persist_file", spec.DefaultSysctlFile)
	e.add(err)
	if s.persist {
		if !strings.HasSuffix(s.persistFile, ".conf") {
			e.add(fmt.Errorf("persist_file %q must end in .conf (other names are not read at boot)", s.persistFile))
		}
	}
	return s, e.err()
}

// normSysctlKey writes a key with dots: "kernel/perf_event_paranoid" -> "kernel.perf_event_paranoid".
// In the slash form, a dot belongs to a component (net/ipv4/conf/eth0.1/...); it becomes a slash
// in the dotted form's /proc path only where it was a separator, which this keeps simple by
// refusing nothing and mapping '/' to '.'.
func normSysctlKey(k string) string { return strings.ReplaceAll(strings.TrimSpace(k), "/", ".") }

func normSysctlValue(v string) string { return strings.Join(strings.Fields(v), " ") }

func (s *sysctl) procPath() string { return "/proc/sys/" + strings.ReplaceAll(s.name, ".", "/") }

type sysctlState struct {
	runtime     string
	hasRuntime  bool
	fileExists  bool
	fileLines   []string // the drop-in's lines
	otherValues []sysctlSetting
}

// sysctlSetting is one assignment of the key in some file.
type sysctlSetting struct {
	file, value string
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (s *sysctl) ReadsInShell() bool { return true }

// ReadScript reads the runtime value whole (the shell's read takes a byte at a time, and
// /proc/sys numbers answer only the first read: "32768" would read as "3") and, with persist,
// the lines of other files that mention the key, as FILE:LINE (grep -F's output): the file whose
// name sorts last wins at boot. Both come from the batch's prelude (package prelude), found with
// builtins; without it, one awk reads them.
func (s *sysctl) ReadScript() string {
	last := s.name[strings.LastIndex(s.name, ".")+1:]
	var b strings.Builder
	fmt.Fprintf(&b, "f=%s; pf=%s\n", shell.Quote(s.procPath()), shell.Quote(s.persistFile))
	b.WriteString(`if [ -f "$pf" ]; then echo file_exists=1; while IFS= read -r l || [ -n "$l" ]; do printf 'line=%s\n' "$l"; done < "$pf"; fi
rt=; [ -r "$f" ] && rt=1
set --
`)
	files := ""
	if s.persist {
		files = "/etc/sysctl.conf " + strings.Join(globs(sysctlDirs), " ")
		// Only readable files: mawk gives up at the first one it cannot open.
		fmt.Fprintf(&b, "for x in %s; do [ -f \"$x\" ] && [ -r \"$x\" ] && set -- \"$@\" \"$x\"; done\n", files)
	}
	// A file name the prelude's lines cannot hold (a tab, a newline) is read by the awk.
	b.WriteString(`_sx=${_pp_fx+x}
for x; do case $x in *'	'* | *'
'*) _sx= ;; esac; done
if [ -n "$_sx" ]; then
`)
	b.WriteString(`if [ -n "$rt" ]; then
` + prelude.FirstLine(s.procPath(), "", "_rt") + `printf 'runtime=%s\n' "$_rt"; fi
`)
	if s.persist {
		fmt.Fprintf(&b, `echo others:
for x; do
_pp_o=$IFS; IFS='
'; set -f
for _pp_l in $_pp_fx; do case $_pp_l in "x=$x	"*%s*) printf '%%s:%%s\n' "$x" "${_pp_l#"x=$x	"}" ;; esac; done
IFS=$_pp_o; set +f
done
`, shell.Quote(last))
	}
	others := ""
	if s.persist {
		others = `print "others:" }
  index($0, ENVIRON["PP_K"]) { print FILENAME ":" $0`
	}
	fmt.Fprintf(&b, `else
[ $# -gt 0 ] || set -- /dev/null
PP_F="$f" PP_RT="$rt" PP_K=%s awk 'BEGIN { if (ENVIRON["PP_RT"] != "") { v = ""; if ((getline v < ENVIRON["PP_F"]) < 0) v = ""; print "runtime=" v }
  %s }' "$@"
fi
`, shell.Quote(last), others)
	return b.String()
}

// Prelude: the runtime value, and with persist the lines of the files read at boot that mention
// the key (the parse keeps those that set it).
func (s *sysctl) Prelude() prelude.Plan {
	p := prelude.Plan{Files: []prelude.File{{Path: s.procPath()}}}
	if s.persist {
		last := s.name[strings.LastIndex(s.name, ".")+1:]
		p.Files = append(p.Files, prelude.File{Path: "/etc/sysctl.conf", Needle: last})
		for _, d := range sysctlDirs {
			p.Files = append(p.Files, prelude.File{Path: d, Suffix: ".conf", Needle: last})
		}
	}
	return p
}

func globs(dirs []string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = shell.Quote(d) + "/*.conf"
	}
	return out
}

func (s *sysctl) Parse(sec Section) (State, error) {
	var st sysctlState
	others := false
	for _, line := range strings.Split(string(sec.Stdout), "\n") {
		if others {
			file, assign, ok := strings.Cut(line, ":")
			if !ok || file == s.persistFile {
				continue
			}
			if key, val, ok := parseSysctlLine(assign); ok && key == s.name {
				st.otherValues = append(st.otherValues, sysctlSetting{file: file, value: val})
			}
			continue
		}
		if line == "others:" {
			others = true
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch k {
		case "runtime":
			st.runtime, st.hasRuntime = normSysctlValue(v), true
		case "file_exists":
			st.fileExists = true
		case "line":
			st.fileLines = append(st.fileLines, v)
		}
	}
	return st, nil
}

// parseSysctlLine reads "key = value" (also "-key = value", which ignores errors).
func parseSysctlLine(line string) (key, value string, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' || line[0] == ';' {
		return "", "", false
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", false
	}
	k = strings.TrimPrefix(strings.TrimSpace(k), "-")
	return normSysctlKey(k), normSysctlValue(v), true
}

// persistedValue is the value the drop-in assigns to the key ("" if none; the last one wins).
func (s *sysctl) persistedValue(lines []string) string {
	val := ""
	for _, l := range lines {
		if k, v, ok := parseSysctlLine(l); ok && k == s.name {
			val = v
		}
	}
	return val
}

// editedContent returns the drop-in with this key set: the first assignment is rewritten, later
// ones dropped, other lines kept; the key is appended when absent.
func (s *sysctl) editedContent(lines []string) []byte {
	var b bytes.Buffer
	done := false
	for _, l := range lines {
		if k, _, ok := parseSysctlLine(l); ok && k == s.name {
			if !done {
				fmt.Fprintf(&b, "%s = %s\n", s.name, s.value)
				done = true
			}
			continue
		}
		b.WriteString(l + "\n")
	}
	if !done {
		if b.Len() == 0 {
			b.WriteString("# Managed by perfprov: one line per sysctl resource.\n")
		}
		fmt.Fprintf(&b, "%s = %s\n", s.name, s.value)
	}
	return b.Bytes()
}

// overriddenBy returns the file that wins over the drop-in at boot with another value, if any.
func (s *sysctl) overriddenBy(st sysctlState) *sysctlSetting {
	mine := path.Base(s.persistFile)
	type cand struct {
		sysctlSetting
		base string
	}
	var later []cand
	for _, o := range st.otherValues {
		b := path.Base(o.file)
		if o.file == "/etc/sysctl.conf" {
			b = "\xff" // procps reads it after every drop-in
		}
		if b > mine || (b == mine && o.file != s.persistFile) {
			later = append(later, cand{o, b})
		}
	}
	sort.SliceStable(later, func(i, j int) bool { return later[i].base < later[j].base })
	if len(later) == 0 {
		return nil
	}
	w := later[len(later)-1]
	if w.value == s.value {
		return nil
	}
	return &w.sysctlSetting
}

func (s *sysctl) Diff(x State) (*Diff, error) {
	st := x.(sysctlState)
	if !st.hasRuntime {
		return nil, fmt.Errorf("kernel parameter %s does not exist on this host (no %s)", s.name, s.procPath())
	}
	if s.persist {
		if w := s.overriddenBy(st); w != nil {
			return nil, fmt.Errorf("%s sets %s = %s and is read after %s at boot, so it would win; use a persist_file whose name sorts after it, or remove it there", w.file, s.name, w.value, s.persistFile)
		}
	}
	var ch []Change
	if st.runtime != s.value {
		ch = append(ch, Change{Attr: "value", Old: st.runtime, New: s.value})
	}
	if s.persist {
		if old := s.persistedValue(st.fileLines); old != s.value {
			ch = append(ch, Change{Attr: "persist_file", Old: old, New: s.persistFile + ": " + s.name + " = " + s.value})
		}
	}
	if len(ch) == 0 {
		return &Diff{}, nil
	}
	return &Diff{Action: Update, Changes: ch}, nil
}

// ApplyScript is the runtime write alone, when the drop-in already assigns the value (or the
// resource persists nothing): an edit of the drop-in reads it again first, since another sysctl
// of the host may share the file, and so is more than one script.
func (s *sysctl) ApplyScript(x State, _ *Diff) (string, bool) {
	st := x.(sysctlState)
	if st.runtime == s.value || s.persist && s.persistedValue(st.fileLines) != s.value {
		return "", false
	}
	return s.runtimeScript(), true
}

func (s *sysctl) ApplyOutcome(_ State, res *transport.Result) error {
	return exitOutcome(res, "sysctl "+s.name)
}

func (s *sysctl) runtimeScript() string {
	return fmt.Sprintf("printf '%%s\\n' %s > %s\n", shell.Quote(s.value), shell.Quote(s.procPath()))
}

func (s *sysctl) Apply(ctx context.Context, t *Target, x State, _ *Diff) error {
	st := x.(sysctlState)
	if st.runtime != s.value {
		if _, err := run(ctx, t, transport.Command{Script: s.runtimeScript()}, "sysctl "+s.name); err != nil {
			return err
		}
	}
	if !s.persist {
		return nil
	}
	// Read the drop-in again: another sysctl resource of this host may have edited it since the
	// batched read.
	res, err := run(ctx, t, transport.Command{Script: fmt.Sprintf("pf=%s; if [ -f \"$pf\" ]; then cat \"$pf\"; fi", shell.Quote(s.persistFile))}, "read "+s.persistFile)
	if err != nil {
		return err
	}
	text := strings.TrimSuffix(string(res.Stdout), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	if s.persistedValue(lines) == s.value {
		return nil
	}
	return writeRootFile(ctx, t, s.persistFile, s.editedContent(lines), 0o644, "root", "root")
}

// writeRootFile uploads content beside p, sets owner and mode, and renames it over p. The parent
// directory is created when missing.
func writeRootFile(ctx context.Context, t *Target, p string, content []byte, mode uint32, owner, group string) error {
	if _, err := run(ctx, t, transport.Command{Script: "mkdir -p -- " + shell.Quote(path.Dir(p))}, "mkdir "+path.Dir(p)); err != nil {
		return err
	}
	tmp := tempBeside(p)
	if err := t.Conn.Upload(ctx, tmp, bytes.NewReader(content), 0o600); err != nil {
		return fmt.Errorf("upload %s: %w", p, err)
	}
	own := ownership{owner: owner, group: group, mode: mode, hasMode: true}
	script := fmt.Sprintf("set -e\ntrap 'rm -f -- %s' EXIT\n%smv -f -- %s %s\ntrap - EXIT\n", shell.Quote(tmp),
		own.script(tmp, pathState{exists: true, mode: 0o600}), shell.Quote(tmp), shell.Quote(p))
	_, err := run(ctx, t, transport.Command{Script: script}, "write "+p)
	return err
}

func (s *sysctl) Fingerprint() string {
	return Fingerprint("sysctl", s.name, s.value, s.persistFile)
}
