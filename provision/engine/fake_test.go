package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// shConn runs scripts with the local sh; each fake host has its own directory as its "state".
type shConn struct {
	host   string
	runs   atomic.Int32
	closed atomic.Bool
}

func (c *shConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	c.runs.Add(1)
	x := exec.CommandContext(ctx, "sh", "-c", cmd.Script)
	x.Stdin = cmd.Stdin
	var out, errb bytes.Buffer
	x.Stdout, x.Stderr = &out, &errb
	if cmd.Stdout != nil {
		x.Stdout = io.MultiWriter(&out, cmd.Stdout)
	}
	err := x.Run()
	res := &transport.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.ExitStatus = ee.ExitCode()
		return res, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.host, err)
	}
	return res, nil
}
func (c *shConn) Upload(context.Context, string, io.Reader, fs.FileMode) error { return nil }
func (c *shConn) Download(context.Context, string, io.Writer) error            { return nil }
func (c *shConn) Host() string                                                 { return c.host }
func (c *shConn) Close() error                                                 { c.closed.Store(true); return nil }

// fakeRes is a resource whose state is a file: read prints it, apply writes the wanted value.
// Attributes: file, want, fail_apply ("": succeed), no_stick (apply "succeeds" but changes
// nothing: verification must catch it), sensitive.
type fakeRes struct {
	m     *spec.Resource
	file  string
	want  string
	fail  string
	stick bool
	block chan struct{} // when set, Apply waits on it (interrupt tests)
}

func (f *fakeRes) Meta() *spec.Resource { return f.m }
func (f *fakeRes) ReadScript() string {
	return fmt.Sprintf("if [ -f %s ]; then printf 'v=%%s\\n' \"$(cat %s)\"; else echo missing=1; fi", shell.Quote(f.file), shell.Quote(f.file))
}
func (f *fakeRes) Parse(s resource.Section) (resource.State, error) {
	out := string(s.Stdout)
	if strings.Contains(out, "missing=1") {
		return "", nil
	}
	return strings.TrimSpace(strings.TrimPrefix(out, "v=")), nil
}
func (f *fakeRes) Diff(st resource.State) (*resource.Diff, error) {
	cur := st.(string)
	switch {
	case cur == f.want:
		return &resource.Diff{}, nil
	case cur == "":
		return &resource.Diff{Action: resource.Create, Changes: []resource.Change{{Attr: "value", New: f.want, Sensitive: f.m.Sensitive["want"]}}}, nil
	}
	return &resource.Diff{Action: resource.Update, Changes: []resource.Change{{Attr: "value", Old: cur, New: f.want, Sensitive: f.m.Sensitive["want"]}}}, nil
}
func (f *fakeRes) Apply(ctx context.Context, t *resource.Target, _ resource.State, _ *resource.Diff) error {
	if f.block != nil {
		<-f.block
	}
	if f.fail != "" {
		return errors.New(f.fail)
	}
	if !f.stick {
		return nil
	}
	res, err := t.Conn.Run(ctx, transport.Command{Script: fmt.Sprintf("printf %%s %s > %s", shell.Quote(f.want), shell.Quote(f.file))})
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("write failed: %s", res.Stderr)
	}
	return nil
}
func (f *fakeRes) Fingerprint() string { return f.want }

// fakeSpec evaluates every host to the same resources, with files under dir/HOST.
type fakeSpec struct {
	dir       string
	resources []fakeDecl
	blocks    map[string]chan struct{}
}

type fakeDecl struct {
	name      string
	want      string
	deps      []string
	fail      string
	noStick   bool
	sensitive bool
	// failOn: the resource fails only on these hosts.
	failOn []string
	// scripted: the resource is resource.Scripted (its apply one script), so it goes in waves.
	scripted bool
}

func (s *fakeSpec) Evaluate(host string, _ cty.Value) (*spec.HostConfig, hcl2.Diagnostics) {
	cfg := &spec.HostConfig{Host: &spec.Host{Name: host}}
	for _, d := range s.resources {
		m := &spec.Resource{Addr: "fake." + d.name, Type: "fake", Name: d.name, DependsOn: d.deps, Sensitive: map[string]bool{"want": d.sensitive},
			Attrs: map[string]cty.Value{"host": cty.StringVal(host), "file": cty.StringVal(filepath.Join(s.dir, host, d.name))}}
		cfg.Resources = append(cfg.Resources, m)
	}
	return cfg, nil
}

func (s *fakeSpec) newResource(m *spec.Resource, _ *resource.Env) (resource.Resource, error) {
	for _, d := range s.resources {
		if "fake."+d.name != m.Addr {
			continue
		}
		if d.want == "!prepare" {
			return nil, fmt.Errorf("cannot prepare")
		}
		host := m.Attrs["host"].AsString()
		f := &fakeRes{m: m, file: m.Attrs["file"].AsString(), want: d.want, stick: !d.noStick}
		if d.fail != "" && (len(d.failOn) == 0 || contains(d.failOn, host)) {
			f.fail = d.fail
		}
		if b, ok := s.blocks[m.Addr]; ok {
			f.block = b
		}
		if d.scripted {
			return &fakeScripted{f}, nil
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown %s", m.Addr)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// fakeFleet builds hosts with a directory each and options that connect to them with shConn.
type fakeFleet struct {
	spec  *fakeSpec
	hosts []*spec.Host
	down  map[string]bool
	mu    sync.Mutex
	conns map[string]*shConn
}

func newFleet(dir string, n int, decls ...fakeDecl) *fakeFleet {
	f := &fakeFleet{spec: &fakeSpec{dir: dir, resources: decls, blocks: map[string]chan struct{}{}}, down: map[string]bool{}, conns: map[string]*shConn{}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		f.hosts = append(f.hosts, &spec.Host{Name: name})
	}
	return f
}

func (f *fakeFleet) options() Options {
	return Options{
		Open: func(ctx context.Context, h *spec.Host) (transport.Conn, error) {
			if f.down[h.Name] {
				return nil, fmt.Errorf("%s: dial tcp 127.0.9.9:22: connection refused", h.Name)
			}
			c := &shConn{host: h.Name}
			f.mu.Lock()
			f.conns[h.Name] = c
			f.mu.Unlock()
			return c, nil
		},
		Gather: func(ctx context.Context, conn transport.Conn, _ *Speculation) (cty.Value, resource.HostInfo, error) {
			return cty.EmptyObjectVal, resource.HostInfo{}, nil
		},
		NewResource: f.spec.newResource,
		Rollout:     spec.Rollout{MaxFailPercentage: 100},
	}
}

// fakeScripted is a fakeRes whose apply is one script (resource.Scripted): printf of the wanted
// value into its file, or an exit 1 with its failure's words on stderr.
type fakeScripted struct{ *fakeRes }

func (f *fakeScripted) ReadsInShell() bool { return true }

func (f *fakeScripted) ApplyScript(resource.State, *resource.Diff) (string, bool) {
	switch {
	case f.fail != "":
		return fmt.Sprintf("echo %s >&2; exit 1", shell.Quote(f.fail)), true
	case !f.stick:
		return "true", true
	}
	return fmt.Sprintf("printf %%s %s > %s", shell.Quote(f.want), shell.Quote(f.file)), true
}

func (f *fakeScripted) ApplyOutcome(_ resource.State, res *transport.Result) error {
	if !res.OK() {
		return fmt.Errorf("write failed (exit %d): %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	return nil
}

func (f *fakeScripted) Apply(ctx context.Context, t *resource.Target, st resource.State, d *resource.Diff) error {
	s, _ := f.ApplyScript(st, d)
	res, err := t.Conn.Run(ctx, transport.Command{Script: s})
	if err != nil {
		return err
	}
	return f.ApplyOutcome(st, res)
}
