package resource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// patch: patch files from the controller are applied to a tree in order, once each. dir keeps a
// stamp of the applied patches' sha256s; a patch whose reverse applies cleanly is already there
// (it is stamped, not applied twice); a patch is dry-run first, so one that does not apply fails
// with patch's own report and leaves the tree as it was.
type patch struct {
	base
	dir     string
	strip   int64
	patches []patchFile
}

type patchFile struct {
	name    string
	content []byte
	sha     string
}

const patchStamp = ".perfprov-patches"

// patchKind is the patch type: its schema (what validate checks) beside its implementation.
var patchKind = Kind{New: newPatch, Schema: &spec.ResourceSchema{
	Type: "patch",
	Doc:  "Patch files are applied to a source tree in order, once each; a patch that does not apply leaves the tree as it was.",
	Attrs: []spec.AttrSchema{
		{Name: "dir", Type: cty.String, Required: true, Check: text(hostPath("dir")), Doc: "The source tree on the host."},
		{Name: "patches", Type: cty.List(cty.String), Required: true, LocalFiles: true, Doc: "Patch files on the controller, relative to the spec file, applied in order."},
		{Name: "strip", Type: cty.Number, Default: cty.NumberIntVal(1), Check: wholeNumber("strip"), Doc: "Leading path components to strip (patch -pN)."},
	},
}}

func newPatch(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	p := &patch{base: base{r}}
	var err error
	p.dir, _, err = a.str("dir")
	e.add(err)
	p.strip, _, err = a.integer("strip")
	e.add(err)
	if p.strip < 0 {
		e.add(fmt.Errorf("strip must not be negative"))
	}
	files, err := a.list("patches")
	e.add(err)
	for _, f := range files {
		lp := f
		if !filepath.IsAbs(lp) {
			lp = filepath.Join(r.Dir, lp)
		}
		b, err := os.ReadFile(lp)
		if err != nil {
			e.add(fmt.Errorf("patches: %w", err))
			continue
		}
		sum := sha256.Sum256(b)
		p.patches = append(p.patches, patchFile{name: filepath.Base(f), content: b, sha: hex.EncodeToString(sum[:])})
	}
	return p, e.err()
}

func (p *patch) ReadScript() string {
	return fmt.Sprintf(`d=%s
if [ -d "$d" ]; then echo dir=1; fi
if [ -f "$d/%s" ]; then sed 's/^/applied=/' "$d/%s"; fi
`, shell.Quote(p.dir), patchStamp, patchStamp)
}

type patchState struct {
	dir     bool
	applied map[string]bool
}

func (p *patch) Parse(s Section) (State, error) {
	st := patchState{applied: map[string]bool{}}
	for _, line := range strings.Split(string(s.Stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "dir":
			st.dir = true
		case "applied":
			if f := strings.Fields(v); len(f) > 0 {
				st.applied[f[0]] = true
			}
		}
	}
	return st, nil
}

func (p *patch) missing(st patchState) []patchFile {
	var out []patchFile
	for _, f := range p.patches {
		if !st.applied[f.sha] {
			out = append(out, f)
		}
	}
	return out
}

func (p *patch) Diff(x State) (*Diff, error) {
	st := x.(patchState)
	if !st.dir {
		return nil, notReady("%s does not exist", p.dir)
	}
	miss := p.missing(st)
	if len(miss) == 0 {
		return &Diff{}, nil
	}
	var names []string
	for _, f := range miss {
		names = append(names, f.name+" ("+short(f.sha)+")")
	}
	return &Diff{Action: Update, Changes: []Change{{Attr: "patches", Old: fmt.Sprintf("%d of %d applied", len(p.patches)-len(miss), len(p.patches)), New: "apply " + strings.Join(names, ", ")}}}, nil
}

func (p *patch) Apply(ctx context.Context, t *Target, x State, _ *Diff) error {
	for _, f := range p.missing(x.(patchState)) {
		// The patch comes on stdin into a private temp file: a reverse dry run says it is already
		// applied; else a dry run must succeed before the real run touches the tree.
		script := fmt.Sprintf(`d=%s; n=%s; sha=%s; strip=%d
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
cat > "$t"
if patch -d "$d" -p"$strip" -R --dry-run -s -f < "$t" >/dev/null 2>&1; then
  echo "already applied: $n"
elif out=$(patch -d "$d" -p"$strip" -N --dry-run -f < "$t" 2>&1); then
  patch -d "$d" -p"$strip" -N -f -s --no-backup-if-mismatch < "$t" || exit 1
else
  printf '%%s does not apply to %%s:\n%%s\n' "$n" "$d" "$out" >&2
  exit 3
fi
printf '%%s %%s\n' "$sha" "$n" >> "$d/%s"
`, shell.Quote(p.dir), shell.Quote(f.name), f.sha, p.strip, patchStamp)
		res, err := t.Conn.Run(ctx, transport.Command{Script: script, Stdin: bytes.NewReader(f.content), Privileged: true})
		if err != nil {
			return fmt.Errorf("patch %s: %w", f.name, err)
		}
		if !res.OK() {
			return fmt.Errorf("patch %s does not apply to %s (tree left as it was): %s", f.name, p.dir, strings.TrimSpace(string(res.Stderr)))
		}
	}
	return nil
}

func (p *patch) Fingerprint() string {
	parts := []string{"patch", p.dir, fmt.Sprint(p.strip)}
	for _, f := range p.patches {
		parts = append(parts, f.sha)
	}
	return Fingerprint(parts...)
}
