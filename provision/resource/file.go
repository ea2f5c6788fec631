package resource

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/prelude"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// file: a file has the given content (from the spec or a controller file), owner, group and mode.
// The content is uploaded to a temporary file beside the target, given its owner and mode, and
// renamed over the target: readers see the old file or the new one, never a mix, and never the
// new content with a wider mode than the final one.
type file struct {
	base
	path      string
	content   []byte
	sha       string
	sensitive bool
	own       ownership
	memo      Memo
}

// fileKind is the file type: its schema (what validate checks) beside its implementation.
var fileKind = Kind{New: newFile, Schema: &spec.ResourceSchema{
	Type: "file",
	Doc:  "A file has the given content, uploaded atomically; skipped when its sha256 already matches.",
	Attrs: []spec.AttrSchema{
		{Name: "path", Type: cty.String, Required: true, Check: text(hostPath("path")), Doc: "Absolute path on the host."},
		{Name: "content", Type: cty.String, Doc: "The file's content."},
		{Name: "source", Type: cty.String, LocalFiles: true, Doc: "A file on the controller, relative to the spec file, whose content is uploaded."},
		{Name: "owner", Type: cty.String, Check: text(loginName("user")), Doc: "Owner user name (default root)."},
		{Name: "group", Type: cty.String, Check: text(loginName("group")), Doc: "Group name (default root)."},
		{Name: "mode", Type: cty.String, Default: cty.StringVal("0644"), Check: text(spec.CheckMode), Doc: "Octal mode."},
	},
	OneOf: [][]string{{"content", "source"}},
}}

func newFile(r *spec.Resource, _ *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	f := &file{base: base{r}}
	var err error
	f.path, _, err = a.str("path")
	e.add(err)
	content, hasContent, err := a.str("content")
	e.add(err)
	src, hasSource, err := a.str("source")
	e.add(err)
	switch {
	case hasContent && hasSource:
		e.add(fmt.Errorf("set content or source, not both"))
	case hasContent:
		f.content = []byte(content)
	case hasSource:
		p := src
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.Dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			e.add(fmt.Errorf("source: %w", err))
		}
		f.content = b
	default:
		e.add(fmt.Errorf("set content or source"))
	}
	sum := sha256.Sum256(f.content)
	f.sha = hex.EncodeToString(sum[:])
	f.sensitive = r.Sensitive["content"] || r.Sensitive["source"]
	f.own, err = readOwnership(a, "root", "root", "0644")
	e.add(err)
	return f, e.err()
}

type fileState struct {
	pathState
	sha string
}

// ReadsInShell reports that the read snippet may run in the batch's own shell (InShellReader).
func (f *file) ReadsInShell() bool { return true }

// ReadScript hashes the content only when the file changed since a read that hashed it (Memo):
// sha256sum is the one process of a file's read, on every run.
func (f *file) ReadScript() string {
	return statSnippet(f.path) + "if [ -f \"$p\" ]; then\n" +
		memoScript(f.memo, `_h=$(sha256sum < "$p") && printf 'sha256=%s\n' "$_h"`, "") + "fi\n"
}

func (f *file) Prelude() prelude.Plan { return prelude.Plan{Stat: []string{f.path}} }

// MemoKey: a file's hash is remembered, unless its content is sensitive.
func (f *file) MemoKey() string {
	if f.sensitive {
		return ""
	}
	return "file " + f.path
}

func (f *file) UseMemo(m Memo) { f.memo = m }

// KeepMemo keeps a hash that sha256sum printed.
func (f *file) KeepMemo(lines []string) bool {
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "sha256=") {
		return false
	}
	sha, _, _ := strings.Cut(strings.TrimPrefix(lines[0], "sha256="), " ") // "HASH  -"
	return spec.CheckSHA256(sha) == nil
}

func (f *file) Parse(s Section) (State, error) {
	m := kv(s.Stdout)
	ps, err := parsePathState(m)
	sha, _, _ := strings.Cut(strings.TrimSpace(m["sha256"]), " ") // "HASH  -"
	return fileState{pathState: ps, sha: sha}, err
}

func (f *file) Diff(st State) (*Diff, error) {
	fs := st.(fileState)
	if fs.exists && fs.kind != "regular file" && fs.kind != "regular empty file" {
		return nil, fmt.Errorf("%s exists and is a %s, not a regular file; remove it first", f.path, fs.kind)
	}
	var ch []Change
	if !fs.exists || fs.sha != f.sha {
		c := Change{Attr: "content", New: "sha256:" + short(f.sha), Sensitive: f.sensitive}
		if fs.exists {
			c.Old = "sha256:" + short(fs.sha)
		}
		ch = append(ch, c)
	}
	ch = append(ch, f.own.diff(fs.pathState)...)
	switch {
	case !fs.exists:
		return &Diff{Action: Create, Changes: ch}, nil
	case len(ch) == 0:
		return &Diff{}, nil
	default:
		return &Diff{Action: Update, Changes: ch}, nil
	}
}

func (f *file) Apply(ctx context.Context, t *Target, st State, _ *Diff) error {
	fs := st.(fileState)
	if fs.exists && fs.sha == f.sha {
		script := "set -e\n" + f.own.script(f.path, fs.pathState)
		_, err := run(ctx, t, transport.Command{Script: script}, "file "+f.path)
		return err
	}
	if !fs.exists {
		// Like install -D: a new file's missing parent directories are created, root-owned 0755
		// (a directory resource declares them when they need another owner or mode).
		dir := path.Dir(f.path)
		script := fmt.Sprintf("[ -d %[1]s ] || mkdir -p -m 0755 -- %[1]s", shell.Quote(dir))
		if _, err := run(ctx, t, transport.Command{Script: script}, "file "+f.path); err != nil {
			return err
		}
	}
	tmp := tempBeside(f.path)
	// Uploaded private; it gets its final owner and mode before it takes the target's name.
	if err := t.Conn.Upload(ctx, tmp, t.withProgress(bytes.NewReader(f.content), int64(len(f.content))), 0o600); err != nil {
		return fmt.Errorf("upload %s: %w", f.path, err)
	}
	// Owner and group unknown (whoever uploaded it): the script sets both.
	tmpState := pathState{exists: true, kind: "regular file", mode: 0o600}
	script := "set -e\n" + fmt.Sprintf("trap 'rm -f -- %s' EXIT\n", shell.Quote(tmp)) +
		f.own.script(tmp, tmpState) +
		fmt.Sprintf("mv -f -- %s %s\ntrap - EXIT\n", shell.Quote(tmp), shell.Quote(f.path))
	_, err := run(ctx, t, transport.Command{Script: script}, "file "+f.path)
	return err
}

func (f *file) Fingerprint() string {
	return Fingerprint("file", f.path, f.sha, f.own.owner, f.own.group, fmtMode(f.own.mode))
}

// tempBeside returns a fresh hidden name in the same directory as p, so that rename is atomic.
func tempBeside(p string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(p), ".perfprov-"+strings.TrimPrefix(path.Base(p), ".")+"."+hex.EncodeToString(b[:])+".tmp")
}

// short abbreviates a hash for people.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
