package main

// How people get perfprov: `go install MODULE/cmd/perfprov@latest` from the module path, and
// `go build` in a git clone; `perfprov version` then says which one it is. Both are run for real
// on a copy of this working tree, with no network: the module is served from a file:// proxy
// holding its zip, and the dependencies from the module cache's own download directory.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	buildversion "github.com/perfprov/perfprov/internal/version"
)

func TestInstallAndVersion(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("builds perfprov twice")
	}
	src := copyTree(t)
	t.Run("go install MODULE/cmd/perfprov@latest", func(t *testing.T) {
		const v = "v0.99.0"
		proxy := t.TempDir()
		dir := filepath.Join(proxy, buildversion.Module, "@v")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		zf, err := os.Create(filepath.Join(dir, v+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		if err := modzip.CreateFromDir(zf, module.Version{Path: buildversion.Module, Version: v}, src); err != nil {
			t.Fatalf("zipping the module: %v", err)
		}
		zf.Close()
		gomod, _ := os.ReadFile(filepath.Join(src, "go.mod"))
		for name, data := range map[string][]byte{"list": []byte(v + "\n"), v + ".mod": gomod,
			v + ".info": []byte(`{"Version":"` + v + `","Time":"2026-01-01T00:00:00Z"}`)} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		modcache := goEnv(t, "GOMODCACHE")
		bin := t.TempDir()
		// Outside any module, as a user types it; a fresh module cache (-modcacherw so that the
		// test can remove it), fed only by the two file:// proxies.
		goCmd(t, t.TempDir(), []string{"GOBIN=" + bin, "GOMODCACHE=" + t.TempDir(), "GOFLAGS=-modcacherw",
			"GOPROXY=file://" + proxy + ",file://" + filepath.Join(modcache, "cache", "download"), "GOSUMDB=off"},
			"install", buildversion.Module+"/cmd/perfprov@latest")
		out := runBin(t, filepath.Join(bin, "perfprov"), "version")
		for _, want := range []string{"perfprov " + v + "\n", "module    " + buildversion.Module + "\n", "revision  unknown (no VCS information"} {
			if !strings.Contains(out, want) {
				t.Errorf("perfprov version lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("go build in a git clone", func(t *testing.T) {
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
			cmd.Dir = src
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		git("init", "-q")
		git("add", "-A")
		git("commit", "-q", "-m", "the tree under test")
		rev := git("rev-parse", "HEAD")
		bin := filepath.Join(t.TempDir(), "perfprov")
		// -buildvcs=true: the stamp is go build's default, but a GOFLAGS may turn it off.
		goCmd(t, src, []string{"GOFLAGS=-buildvcs=true"}, "build", "-o", bin, "./cmd/perfprov")
		out := runBin(t, bin, "version")
		first, _, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(first, "perfprov v0.0.0-") || !strings.HasSuffix(first, "-"+rev[:12]) {
			t.Errorf("version line %q, want the pseudo-version of commit %s", first, rev[:12])
		}
		if !strings.Contains(out, "revision  "+rev+" (") || strings.Contains(out, "modified") {
			t.Errorf("perfprov version does not name revision %s, unmodified:\n%s", rev, out)
		}
	})
}

// copyTree copies the files of this working tree that git would commit (tracked, and untracked
// but not ignored) into a temporary directory.
func copyTree(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", root, err)
	}
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		st, err := os.Lstat(filepath.Join(root, rel))
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the tree, or a link
		}
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// goCmd runs the go command in dir with env added, failing the test with its output.
func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
}

func runBin(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, out.String())
	}
	return out.String()
}
