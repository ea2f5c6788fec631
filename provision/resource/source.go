package resource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// source: an archive (a controller file, or a URL with a mandatory sha256 downloaded once into
// the controller's cache) is unpacked into dest. The host keeps the archive under
// hostSourceCache by sha256, so it is uploaded once; dest carries a stamp with the archive's
// sha256 and is replaced (unpacked beside it, then swapped) only when that changes.
type source struct {
	base
	local string // the archive on the controller
	sha   string
	dest  string
	strip int64
	comp  string // tar flag: -z, -J, -j, --zstd
	cache string // the host's archive cache directory
}

// sourceKind is the source type: its schema (what validate checks) beside its implementation.
var sourceKind = Kind{New: newSource, Schema: &spec.ResourceSchema{
	Type: "source",
	Doc:  "A source archive is unpacked into a directory; replaced only when the archive's sha256 changes.",
	Attrs: []spec.AttrSchema{
		{Name: "path", Type: cty.String, Doc: "An archive on the controller, relative to the spec file."},
		{Name: "url", Type: cty.String, Doc: "An archive URL, downloaded once on the controller into a cache."},
		{Name: "sha256", Type: cty.String, Check: text(spec.CheckSHA256), RequiredWith: "url", RequiredWhy: "a download is only used when its sha256 matches", Doc: "The archive's sha256; required with url."},
		{Name: "dest", Type: cty.String, Required: true, Check: text(hostPath("dest")), Doc: "Directory on the host to unpack into."},
		{Name: "strip_components", Type: cty.Number, Default: cty.NumberIntVal(1), Check: wholeNumber("strip_components"), Doc: "Leading path components to strip when unpacking."},
	},
	OneOf: [][]string{{"path", "url"}},
}}

// hostSourceCache is where hosts keep uploaded archives.
const hostSourceCache = "/var/cache/perfprov/sources"

// sourceStamp is the file in dest that records the sha256 of the archive it came from.
const sourceStamp = ".perfprov-source.sha256"

func newSource(r *spec.Resource, env *Env) (Resource, error) {
	a := attrs{r}
	var e errs
	s := &source{base: base{r}, cache: hostSourceCache}
	if env.HostSourceCache != "" {
		s.cache = env.HostSourceCache
	}
	p, hasPath, err := a.str("path")
	e.add(err)
	url, hasURL, err := a.str("url")
	e.add(err)
	sum, hasSum, err := a.str("sha256")
	e.add(err)
	sum = strings.ToLower(sum)
	s.dest, _, err = a.str("dest")
	e.add(err)
	if s.dest == "/" {
		e.add(fmt.Errorf("dest must not be /"))
	}
	s.strip, _, err = a.integer("strip_components")
	e.add(err)
	if s.strip < 0 {
		e.add(fmt.Errorf("strip_components must not be negative"))
	}
	switch {
	case hasPath && hasURL:
		e.add(fmt.Errorf("set path or url, not both"))
	case !hasPath && !hasURL:
		e.add(fmt.Errorf("set path or url"))
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	if hasPath {
		s.local = p
		if !filepath.IsAbs(p) {
			s.local = filepath.Join(r.Dir, p)
		}
		got, err := fileSHA256(s.local)
		if err != nil {
			return nil, fmt.Errorf("path: %w", err)
		}
		if hasSum && got != sum {
			return nil, fmt.Errorf("%s has sha256 %s, not the %s the spec gives", s.local, got, sum)
		}
		s.sha = got
	} else {
		d := env.Downloader
		if d == nil {
			d = defaultDownloader
		}
		s.local, err = d.Fetch(context.Background(), url, sum, env.cacheDir())
		if err != nil {
			return nil, err
		}
		s.sha = sum
	}
	s.comp, err = compressionFlag(s.local)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// compressionFlag tells tar how the archive is compressed, from its first bytes.
func compressionFlag(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 6)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "-z", nil
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "-J", nil
	case bytes.HasPrefix(head, []byte("BZh")):
		return "-j", nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "--zstd", nil
	}
	return "", fmt.Errorf("%s is not a tar.gz, tar.xz, tar.bz2 or tar.zst archive", p)
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e *Env) cacheDir() string {
	if e.CacheDir != "" {
		return e.CacheDir
	}
	return DefaultCacheDir()
}

// DefaultCacheDir is $XDG_CACHE_HOME/perfprov, or ~/.cache/perfprov.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "perfprov")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "perfprov")
	}
	return filepath.Join(os.TempDir(), "perfprov-cache")
}

// Downloader fetches archives into the controller's cache, once per sha256 even when many hosts
// ask at the same time, and keeps only files whose sha256 matches.
type Downloader struct {
	Client *http.Client
	mu     sync.Mutex
	locks  map[string]*sync.Mutex
}

var defaultDownloader = &Downloader{}

// Fetch returns the cached file for sha, downloading url when it is not cached yet.
func (d *Downloader) Fetch(ctx context.Context, url, sha, cacheDir string) (string, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return "", fmt.Errorf("url %q: only http and https are supported", url)
	}
	d.mu.Lock()
	if d.locks == nil {
		d.locks = map[string]*sync.Mutex{}
	}
	l := d.locks[sha]
	if l == nil {
		l = &sync.Mutex{}
		d.locks[sha] = l
	}
	d.mu.Unlock()
	l.Lock()
	defer l.Unlock()

	dir := filepath.Join(cacheDir, "sources")
	dst := filepath.Join(dir, sha)
	if got, err := fileSHA256(dst); err == nil && got == sha {
		return dst, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	client := d.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("download %s: %s", url, resp.Status)
	}
	tmp, err := os.CreateTemp(dir, ".download-*")
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return "", fmt.Errorf("download %s: sha256 is %s, want %s: refusing to use it", url, got, sha)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return dst, nil
}

func (s *source) ReadScript() string {
	return fmt.Sprintf(`d=%s
if [ -d "$d" ]; then echo dest=1; fi
if [ -f "$d/%s" ]; then printf 'stamp=%%s\n' "$(head -c 64 "$d/%s")"; fi
`, shell.Quote(s.dest), sourceStamp, sourceStamp)
}

type sourceState struct {
	dest  bool
	stamp string
}

func (s *source) Parse(sec Section) (State, error) {
	m := kv(sec.Stdout)
	return sourceState{dest: m["dest"] == "1", stamp: m["stamp"]}, nil
}

func (s *source) Diff(x State) (*Diff, error) {
	st := x.(sourceState)
	if st.stamp == s.sha {
		return &Diff{}, nil
	}
	c := Change{Attr: "sha256", Old: short(st.stamp), New: short(s.sha)}
	if !st.dest {
		return &Diff{Action: Create, Changes: []Change{{Attr: "dest", New: s.dest}, c}}, nil
	}
	if st.stamp == "" {
		c.Old = "(no stamp: unknown content)"
	}
	return &Diff{Action: Update, Changes: []Change{c}}, nil
}

func (s *source) hostArchive() string { return s.cache + "/" + s.sha + ".tar" }

func (s *source) Apply(ctx context.Context, t *Target, _ State, _ *Diff) error {
	archive := s.hostArchive()
	res, err := run(ctx, t, transport.Command{Script: fmt.Sprintf(
		"f=%s; if [ -f \"$f\" ] && [ \"$(sha256sum < \"$f\" | cut -c1-64)\" = %s ]; then echo have=1; else mkdir -p -m 0700 %s; fi",
		shell.Quote(archive), s.sha, shell.Quote(s.cache))}, "check "+archive)
	if err != nil {
		return err
	}
	if !strings.Contains(string(res.Stdout), "have=1") {
		f, err := os.Open(s.local)
		if err != nil {
			return err
		}
		var size int64
		if fi, serr := f.Stat(); serr == nil {
			size = fi.Size()
		}
		err = t.Conn.Upload(ctx, archive, t.withProgress(f, size), 0o600)
		f.Close()
		if err != nil {
			return fmt.Errorf("upload %s: %w", archive, err)
		}
	}
	// Unpack beside dest, stamp, then swap: dest is the old tree or the new one, never half of each.
	// Owners and set-id bits from the archive are not restored: an archive cannot plant a
	// set-uid binary on the host.
	script := fmt.Sprintf(`set -e
d=%s; f=%s
parent=$(dirname -- "$d"); mkdir -p -- "$parent"
# What a run killed mid-unpack left (runs on a host are serialised by its lock).
rm -rf -- "$parent"/.perfprov-src.* "$parent"/.perfprov-old.*
tmp=$(mktemp -d "$parent/.perfprov-src.XXXXXX")
old=
trap 'rm -rf -- "$tmp"' EXIT
[ "$(sha256sum < "$f" | cut -c1-64)" = %s ] || { echo "$f: sha256 mismatch" >&2; exit 1; }
tar -x %s --no-same-owner --no-same-permissions --strip-components=%d -C "$tmp" -f "$f" || {
  s=$?; [ "$(df -Pk -- "$parent" | awk 'NR==2 {print $4}')" = 0 ] && echo "no space left on device: the filesystem of $parent is full" >&2
  exit $s; }
printf '%%s\n' %s > "$tmp/%s"
chmod 0755 "$tmp"
if [ -e "$d" ]; then old="$parent/.perfprov-old.$$"; mv -- "$d" "$old"; fi
mv -- "$tmp" "$d"
trap - EXIT
if [ -n "$old" ]; then rm -rf -- "$old"; fi
`, shell.Quote(s.dest), shell.Quote(archive), s.sha, s.comp, s.strip, s.sha, sourceStamp)
	_, err = run(ctx, t, transport.Command{Script: script, Timeout: 30 * time.Minute}, "unpack into "+s.dest)
	return err
}

func (s *source) Fingerprint() string {
	return Fingerprint("source", s.dest, s.sha, fmt.Sprint(s.strip))
}
