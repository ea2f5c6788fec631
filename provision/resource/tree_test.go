package resource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// tarGz makes a .tar.gz whose entries sit under top/.
func tarGz(t *testing.T, top string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: top + "/" + name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestSourceUnpacksOnceAndReplacesOnChange(t *testing.T) {
	dir := t.TempDir()
	env := &Env{HostSourceCache: filepath.Join(dir, "hostcache"), CacheDir: filepath.Join(dir, "cache")}
	archive := filepath.Join(dir, "libcap-2.66.tar.gz")
	os.WriteFile(archive, tarGz(t, "libcap-2.66", map[string]string{"Makefile": "all:\n", "README": "v1\n"}), 0o644)
	dest := filepath.Join(dir, "src", "libcap")
	m := mkres("source", "libcap", map[string]cty.Value{"path": s("libcap-2.66.tar.gz"), "dest": s(dest)})
	m.Dir = dir
	c := &localConn{}
	r := mustNew(t, m, env)
	if d := converge(t, c, r, nil); d.Action != Create {
		t.Errorf("first: %v", d.Action)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "README")); string(b) != "v1\n" {
		t.Fatalf("README %q (strip_components 1)", b)
	}
	// A file made in the tree (a build output) survives a run with the same archive.
	os.WriteFile(filepath.Join(dest, "built.o"), nil, 0o644)
	converge(t, c, r, nil)
	if _, err := os.Stat(filepath.Join(dest, "built.o")); err != nil {
		t.Error("an unchanged source must not be unpacked again")
	}
	// A new archive replaces the tree.
	os.WriteFile(archive, tarGz(t, "libcap-2.66", map[string]string{"README": "v2\n"}), 0o644)
	r = mustNew(t, m, env)
	if d := converge(t, c, r, nil); d.Action != Update || changeAttrs(d) != "sha256" {
		t.Errorf("second: %+v", d)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "README")); string(b) != "v2\n" {
		t.Errorf("README %q after change", b)
	}
	if _, err := os.Stat(filepath.Join(dest, "built.o")); err == nil {
		t.Error("the old tree must be gone")
	}
	if ents, _ := os.ReadDir(filepath.Dir(dest)); len(ents) != 1 {
		t.Errorf("leftovers beside dest: %v", ents)
	}
}

func TestDownloaderVerifiesAndCaches(t *testing.T) {
	body := tarGz(t, "x", map[string]string{"a": "b"})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(body)
	}))
	defer srv.Close()
	d := &Downloader{}
	cache := t.TempDir()
	for i := 0; i < 2; i++ {
		p, err := d.Fetch(context.Background(), srv.URL+"/x.tar.gz", shaHex(body), cache)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
			t.Fatal("cached file differs")
		}
	}
	if hits.Load() != 1 {
		t.Errorf("downloaded %d times, want once", hits.Load())
	}
	_, err := d.Fetch(context.Background(), srv.URL+"/x.tar.gz", strings.Repeat("0", 64), cache)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("wrong sha: %v", err)
	}
	if _, err := New(mkres("source", "s", map[string]cty.Value{"url": s(srv.URL), "dest": s("/x")}), &Env{CacheDir: cache}); err == nil {
		t.Error("url without sha256 accepted")
	}
}

const goodPatch = `--- a/hello.c
+++ b/hello.c
@@ -1,3 +1,3 @@
 int main(void) {
-	return 1;
+	return 0;
 }
`

const badPatch = `--- a/hello.c
+++ b/hello.c
@@ -1,3 +1,3 @@
 int main(void) {
-	return 7;
+	return 8;
 }
`

func TestPatchOnceAndFailureLeavesTree(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Skip("patch not installed")
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	os.Mkdir(tree, 0o755)
	orig := "int main(void) {\n\treturn 1;\n}\n"
	os.WriteFile(filepath.Join(tree, "hello.c"), []byte(orig), 0o644)
	os.WriteFile(filepath.Join(dir, "good.patch"), []byte(goodPatch), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.patch"), []byte(badPatch), 0o644)
	c := &localConn{}
	mk := func(patches ...string) Resource {
		m := mkres("patch", "p", map[string]cty.Value{"dir": s(tree), "patches": list(patches...)})
		m.Dir = dir
		return mustNew(t, m, nil)
	}
	good := mk("good.patch")
	converge(t, c, good, nil)
	want := "int main(void) {\n\treturn 0;\n}\n"
	if b, _ := os.ReadFile(filepath.Join(tree, "hello.c")); string(b) != want {
		t.Fatalf("after patch: %q", b)
	}
	// Stamp lost (tree patched by hand): the reverse dry run sees it applied; not applied twice.
	os.Remove(filepath.Join(tree, patchStamp))
	converge(t, c, good, nil)
	if b, _ := os.ReadFile(filepath.Join(tree, "hello.c")); string(b) != want {
		t.Fatalf("patched twice: %q", b)
	}
	// A patch that does not apply fails with patch's words and leaves the tree as it was.
	bad := mk("good.patch", "bad.patch")
	st, d, err := diffLocal(t, c, bad)
	if err != nil || d.InSync() {
		t.Fatalf("bad plan: %+v %v", d, err)
	}
	err = bad.Apply(context.Background(), &Target{Conn: c}, st, d)
	if err == nil || !strings.Contains(err.Error(), "bad.patch does not apply") || !strings.Contains(err.Error(), "FAILED") {
		t.Fatalf("bad patch: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "hello.c")); string(b) != want {
		t.Errorf("tree changed by a failed patch: %q", b)
	}
	ents, _ := os.ReadDir(tree)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".rej") || strings.HasSuffix(e.Name(), ".orig") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestBuildStampAndFailureLog(t *testing.T) {
	dir := t.TempDir()
	c := &localConn{}
	deps := map[string]string{"source.libcap": "sha-1"}
	env := &Env{DepFingerprint: func(a string) string { return deps[a] }}
	mk := func(cmds []string, envv map[string]cty.Value) Resource {
		attrs := map[string]cty.Value{"dir": s(dir), "commands": list(cmds...), "artifacts": list("out/bin")}
		if envv != nil {
			attrs["env"] = cty.MapVal(envv)
		}
		m := mkres("build", "b", attrs)
		m.DependsOn = []string{"source.libcap"}
		return mustNew(t, m, env)
	}
	cmds := []string{"mkdir -p out", "echo \"$FLAVOUR\" > out/bin"}
	b := mk(cmds, map[string]cty.Value{"FLAVOUR": s("plain")})
	converge(t, c, b, nil)
	if got, _ := os.ReadFile(filepath.Join(dir, "out/bin")); string(got) != "plain\n" {
		t.Fatalf("artifact %q", got)
	}
	converge(t, c, b, nil) // in sync: no rebuild
	// A changed env, a changed dependency, a missing artifact: each rebuilds.
	b = mk(cmds, map[string]cty.Value{"FLAVOUR": s("fancy")})
	if d := converge(t, c, b, nil); changeAttrs(d) != "inputs" {
		t.Errorf("env change: %+v", d)
	}
	deps["source.libcap"] = "sha-2"
	b = mk(cmds, map[string]cty.Value{"FLAVOUR": s("fancy")})
	if d := converge(t, c, b, nil); changeAttrs(d) != "inputs" {
		t.Errorf("dependency change: %+v", d)
	}
	os.Remove(filepath.Join(dir, "out/bin"))
	if d := converge(t, c, b, nil); changeAttrs(d) != "artifacts" {
		t.Errorf("missing artifact: %+v", d)
	}
	// Failure: the last lines come back, the log is kept on the host and copied locally.
	var many []string
	for i := 0; i < 60; i++ {
		many = append(many, "echo line"+string(rune('A'+i%26)))
	}
	fail := mk(append(many, "echo the-cause >&2; exit 2"), nil)
	st, d, _ := diffLocal(t, c, fail)
	logs := t.TempDir()
	err := fail.Apply(context.Background(), &Target{Conn: c, LogDir: logs}, st, d)
	if err == nil || !strings.Contains(err.Error(), "the-cause") || !strings.Contains(err.Error(), "exit 2") {
		t.Fatalf("failed build: %v", err)
	}
	if n := strings.Count(err.Error(), "\n"); n > 42 {
		t.Errorf("error shows %d lines, want the last 40", n)
	}
	if b, err := os.ReadFile(filepath.Join(logs, "build.b.log")); err != nil || !strings.Contains(string(b), "lineA") {
		t.Errorf("local log: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, buildStamp)); err == nil {
		t.Error("a failed build must not leave a stamp")
	}
}
