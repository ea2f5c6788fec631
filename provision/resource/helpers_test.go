package resource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// localConn runs scripts with the local sh and moves files on the local filesystem. Tests only
// point it at temporary directories: it never runs anything that changes users, groups, sysctls
// or packages of this machine.
type localConn struct {
	mu      sync.Mutex
	scripts []string
}

func (c *localConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	c.mu.Lock()
	c.scripts = append(c.scripts, cmd.Script)
	c.mu.Unlock()
	var pre strings.Builder
	keys := make([]string, 0, len(cmd.Env))
	for k := range cmd.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pre.WriteString("export " + k + "=" + shell.Quote(cmd.Env[k]) + "\n")
	}
	x := exec.CommandContext(ctx, "sh", "-c", pre.String()+cmd.Script)
	x.Stdin = cmd.Stdin
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	err := x.Run()
	res := &transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitStatus = ee.ExitCode()
		return res, nil
	}
	return res, err
}

func (c *localConn) Upload(_ context.Context, p string, content io.Reader, mode fs.FileMode) error {
	b, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	tmp := p + ".upload"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (c *localConn) Download(_ context.Context, p string, w io.Writer) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (c *localConn) Host() string { return "local" }
func (c *localConn) Close() error { return nil }

// mkres builds an evaluated resource of typ with attrs; unset attributes get their schema default.
func mkres(typ, name string, set map[string]cty.Value) *spec.Resource {
	r := &spec.Resource{Addr: typ + "." + name, Type: typ, Name: name, Attrs: map[string]cty.Value{}, Sensitive: map[string]bool{}}
	for _, a := range Schemas()[typ].Attrs {
		if a.Default != cty.NilVal {
			r.Attrs[a.Name] = a.Default
		} else {
			r.Attrs[a.Name] = cty.NullVal(a.Type)
		}
	}
	for k, v := range set {
		r.Attrs[k] = v
	}
	return r
}

func s(v string) cty.Value { return cty.StringVal(v) }

func list(vs ...string) cty.Value {
	if len(vs) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	out := make([]cty.Value, len(vs))
	for i, v := range vs {
		out[i] = cty.StringVal(v)
	}
	return cty.ListVal(out)
}

func mustNew(t *testing.T, r *spec.Resource, env *Env) Resource {
	t.Helper()
	res, err := New(r, env)
	if err != nil {
		t.Fatalf("New(%s): %v", r.Addr, err)
	}
	return res
}

// readLocal runs the resource's read snippet locally and parses it.
func readLocal(t *testing.T, c *localConn, r Resource) State {
	t.Helper()
	res, err := c.Run(context.Background(), transport.Command{Script: r.ReadScript()})
	if err != nil {
		t.Fatalf("read %s: %v", r.Meta().Addr, err)
	}
	st, err := r.Parse(Section{Stdout: res.Stdout, Stderr: res.Stderr, Status: res.ExitStatus})
	if err != nil {
		t.Fatalf("parse %s: %v\n%s", r.Meta().Addr, err, res.Stdout)
	}
	return st
}

func diffLocal(t *testing.T, c *localConn, r Resource) (State, *Diff, error) {
	t.Helper()
	st := readLocal(t, c, r)
	d, err := r.Diff(st)
	return st, d, err
}

// converge plans, applies and verifies locally: the second diff must be empty.
func converge(t *testing.T, c *localConn, r Resource, target *Target) *Diff {
	t.Helper()
	st, d, err := diffLocal(t, c, r)
	if err != nil {
		t.Fatalf("diff %s: %v", r.Meta().Addr, err)
	}
	if !d.InSync() {
		if target == nil {
			target = &Target{Conn: c}
		}
		if err := r.Apply(context.Background(), target, st, d); err != nil {
			t.Fatalf("apply %s: %v", r.Meta().Addr, err)
		}
	}
	if _, d2, err := diffLocal(t, c, r); err != nil || !d2.InSync() {
		t.Fatalf("after apply %s: diff %+v, err %v", r.Meta().Addr, d2, err)
	}
	return d
}

// me returns the current user's and primary group's names (chown to them needs no privilege).
func me(t *testing.T) (string, string) {
	t.Helper()
	u, err := osuser.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := osuser.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func changeAttrs(d *Diff) string {
	var a []string
	for _, c := range d.Changes {
		a = append(a, c.Attr)
	}
	return strings.Join(a, ",")
}

// trustedTempDir is a temporary directory that only root can change, up to /: capabilities
// refuse a binary under t.TempDir() (/tmp is world-writable, sticky or not).
func trustedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/lib", "perfprov-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
