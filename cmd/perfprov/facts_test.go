package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/provision/facts"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// update rewrites the golden files of this package under testdata/ (go test -update).
var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fakeFactsConn answers the facts script with a recorded output, or blocks until its context ends.
type fakeFactsConn struct {
	name   string
	stdout []byte
	block  bool
	closed *atomic.Int32
}

func (c *fakeFactsConn) Run(ctx context.Context, cmd transport.Command) (*transport.Result, error) {
	if c.block {
		<-ctx.Done()
		return nil, fmt.Errorf("%s: %w", c.name, ctx.Err())
	}
	return &transport.Result{Stdout: c.stdout}, nil
}
func (c *fakeFactsConn) Upload(context.Context, string, io.Reader, fs.FileMode) error { return nil }
func (c *fakeFactsConn) Download(context.Context, string, io.Writer) error            { return nil }
func (c *fakeFactsConn) Host() string                                                 { return c.name }
func (c *fakeFactsConn) Close() error {
	if c.closed != nil {
		c.closed.Add(1)
	}
	return nil
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "provision", "facts", "testdata", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testEnv() (*cliEnv, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" },
		open: connect.Open, now: time.Now}, &stdout, &stderr
}

// TestGatherFactsOrderParallelFailures: rows come back in host order whatever the finishing order,
// no more than -parallel hosts are worked on at once, and a failed host is a row, not the end.
func TestGatherFactsOrderParallelFailures(t *testing.T) {
	outputs := map[string][]byte{
		"deb": fixture(t, "debian12-vm-nopmu"),
		"ubu": fixture(t, "ubuntu2204-wrapper-x86pmu"),
		"arm": fixture(t, "debian12-arm64-pmuv3"),
		"bad": fixture(t, "bad-truncated"),
	}
	var hosts []*spec.Host
	for i := 0; i < 12; i++ {
		name := []string{"deb", "ubu", "arm", "bad", "down"}[i%5] + strconv.Itoa(i)
		hosts = append(hosts, &spec.Host{Name: name})
	}
	var inFlight, most, closed atomic.Int32
	open := (func(ctx context.Context, h *spec.Host, _ connect.Options) (transport.Conn, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Duration(len(h.Name)%3) * 5 * time.Millisecond) // finish out of order
		kind := strings.TrimRight(h.Name, "0123456789")
		if kind == "down" {
			return nil, fmt.Errorf("%s: dial tcp 127.0.0.1:1: connect: connection refused", h.Name)
		}
		return &fakeFactsConn{name: h.Name, stdout: outputs[kind], closed: &closed}, nil
	})
	env, _, _ := testEnv()
	env.open = open
	rows, interrupted := gatherFacts(context.Background(), env, hosts, 3)
	if interrupted {
		t.Error("interrupted without a signal")
	}
	if m := most.Load(); m > 3 {
		t.Errorf("%d hosts connected at once, want at most 3", m)
	}
	for i, r := range rows {
		if r.Host != hosts[i].Name {
			t.Fatalf("row %d is %s, want %s (host order)", i, r.Host, hosts[i].Name)
		}
		kind := strings.TrimRight(r.Host, "0123456789")
		switch kind {
		case "down":
			if r.OK || r.Error != r.Host+": dial tcp 127.0.0.1:1: connect: connection refused" {
				t.Errorf("%s: %+v", r.Host, r)
			}
		case "bad":
			if r.OK || !strings.HasPrefix(r.Error, r.Host+": reading facts: the facts output is truncated") {
				t.Errorf("%s: %+v", r.Host, r)
			}
		default:
			if !r.OK || r.Facts == nil || r.Error != "" {
				t.Errorf("%s: %+v", r.Host, r)
			}
		}
	}
	// Every opened connection is closed: 12 hosts less the 2 that are down.
	if c := closed.Load(); c != 10 {
		t.Errorf("%d connections closed, want 10", c)
	}
}

// TestGatherFactsInterrupt: the first SIGINT cancels the work in flight at once (facts change
// nothing), every host not done says so, and the run reports the interruption.
func TestGatherFactsInterrupt(t *testing.T) {
	open := (func(ctx context.Context, h *spec.Host, _ connect.Options) (transport.Conn, error) {
		return &fakeFactsConn{name: h.Name, block: true}, nil
	})
	var hosts []*spec.Host
	for i := 0; i < 5; i++ {
		hosts = append(hosts, &spec.Host{Name: "h" + strconv.Itoa(i)})
	}
	env, _, _ := testEnv()
	env.open = open
	sigint := make(chan struct{})
	env.interrupted = sigint
	time.AfterFunc(50*time.Millisecond, func() { close(sigint) })
	start := time.Now()
	rows, interrupted := gatherFacts(context.Background(), env, hosts, 2)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after the interrupt", d)
	}
	if !interrupted {
		t.Error("interrupted = false")
	}
	for _, r := range rows {
		if r.OK || r.Error != r.Host+": interrupted" {
			t.Errorf("%+v, want an interrupted row", r)
		}
	}
}

func TestFactsTableAndJSONGolden(t *testing.T) {
	var rows []view.FactsRow
	for _, name := range []string{"debian12-vm-nopmu", "ubuntu2204-wrapper-x86pmu", "debian12-arm64-pmuv3", "debian10-old-kernel-cap37", "fedora39-hybrid-intel", "rocky9-opt-nosuid"} {
		f, err := facts.Parse(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, view.FactsRow{Host: name, OK: true, Facts: f})
	}
	rows = append(rows, view.FactsRow{Host: "down", Error: "down: dial tcp 127.0.0.1:1: connect: connection refused"})

	var table, js bytes.Buffer
	view.WriteFactsTable(&table, rows)
	if err := view.WriteFactsJSON(&js, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "facts/table.golden", table.Bytes())

	var back []map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != len(rows) {
		t.Fatalf("%d JSON rows, want %d", len(back), len(rows))
	}
	for i, r := range back {
		if r["host"] != rows[i].Host || r["ok"] != rows[i].OK || r["error"] != rows[i].Error {
			t.Errorf("row %d: %v", i, r)
		}
	}
	f := back[0]["facts"].(map[string]any)
	for _, k := range []string{"cap_last_cap", "perf_event_paranoid", "pmu", "kernel_release", "os_id"} {
		if _, ok := f[k]; !ok {
			t.Errorf("facts JSON has no %q", k)
		}
	}
	if back[len(back)-1]["facts"] != nil {
		t.Errorf("a failed host's facts = %v, want null", back[len(back)-1]["facts"])
	}
	var empty bytes.Buffer
	_ = view.WriteFactsJSON(&empty, nil)
	if strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("no hosts: %q, want []", empty.String())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestFactsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, `host "a" {
  address = "127.0.0.1"
}
`)
	tests := []struct {
		args    []string
		wantMsg string
	}{
		{[]string{"-parallel", "-1", dir}, "-parallel must be at least 1"},
		{[]string{dir, dir}, "too many arguments"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-limit", "nosuchhost", dir}, "nosuchhost"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, _, stderr := testEnv()
			code := exitCode(runFacts(context.Background(), env, tt.args), env.stderr, "facts")
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr.String(), tt.wantMsg) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.wantMsg)
			}
		})
	}
}

func writeSpec(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "hosts.hcl"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFactsCommand runs perfprov facts end to end on a spec with this machine (type = "local") and
// a host that is down (a closed loopback port): the first answers, the second is a row with its
// error, and the exit status is 1.
func TestFactsCommand(t *testing.T) {
	dir := t.TempDir()
	cacheHome := t.TempDir()
	writeSpec(t, dir, `host "here" {
  connection {
    type = "local"
  }
}

host "gone" {
  address = "127.0.0.1"
  port    = 1
  connection {
    timeout = "5s"
  }
}

group "local" {
  hosts = ["here"]
}
`)
	run := func(t *testing.T, args ...string) (int, *bytes.Buffer, *bytes.Buffer) {
		env, stdout, stderr := testEnv()
		env.getenv = func(k string) string {
			if k == "XDG_CACHE_HOME" {
				return cacheHome
			}
			return ""
		}
		return exitCode(runFacts(context.Background(), env, args), env.stderr, "facts"), stdout, stderr
	}
	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := run(t, "-json", dir)
		if code != exitFailure {
			t.Errorf("exit %d, want 1 (a host failed); stderr:\n%s", code, stderr)
		}
		var rows []view.FactsRow
		body := jsonBody(t, stdout.String(), "facts", view.StreamFacts)
		if len(body) != 1 {
			t.Fatalf("facts -json: %d lines after the header, want the one array:\n%s", len(body), stdout)
		}
		if err := json.Unmarshal([]byte(body[0]), &rows); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if len(rows) != 2 || rows[0].Host != "here" || rows[1].Host != "gone" {
			t.Fatalf("rows %+v, want here then gone", rows)
		}
		if !rows[0].OK || rows[0].Facts == nil {
			t.Fatalf("here: %+v", rows[0])
		}
		b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
		if got := rows[0].Facts.KernelRelease; got != strings.TrimSpace(string(b)) {
			t.Errorf("kernel_release %q, want %q", got, strings.TrimSpace(string(b)))
		}
		if rows[1].OK || !strings.Contains(rows[1].Error, "gone") {
			t.Errorf("gone: %+v, want an error naming the host", rows[1])
		}

		// The perf version is remembered for the next run, which then does not start perf.
		if f := rows[0].Facts; f.Perf.IsELF && f.Perf.Version != "" {
			cache := facts.OpenPerfCache(facts.PerfCachePath(func(string) string { return cacheHome }))
			if got := cache.Get("local here"); got.Version != f.Perf.Version || got.Fingerprint != f.Perf.Fingerprint {
				t.Errorf("cached %+v, want the version and fingerprint of %s", got, f.Perf.RealPath)
			}
			_, stdout2, _ := run(t, "-json", "-limit", "here", dir)
			var again []view.FactsRow
			body := jsonBody(t, stdout2.String(), "facts", view.StreamFacts)
			if err := json.Unmarshal([]byte(strings.Join(body, "\n")), &again); err != nil || len(again) != 1 || !again[0].OK {
				t.Fatalf("second run: %v %s", err, stdout2)
			}
			if again[0].Facts.Perf.Version != f.Perf.Version {
				t.Errorf("second run: perf version %q, want %q", again[0].Facts.Perf.Version, f.Perf.Version)
			}
		}
	})
	t.Run("limit group, table", func(t *testing.T) {
		code, stdout, stderr := run(t, "-limit", "local", dir)
		if code != exitOK {
			t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "HOST") || !strings.HasPrefix(lines[1], "here ") {
			t.Errorf("table:\n%s", stdout)
		}
	})
}

func TestFactsRowErrorsNameTheHost(t *testing.T) {
	var stopped atomic.Bool
	r := factsFailed("web1", errors.New("connection refused"), &stopped)
	if r.Error != "web1: connection refused" {
		t.Errorf("%q", r.Error)
	}
	r = factsFailed("web1", errors.New("web1: connection refused"), &stopped)
	if r.Error != "web1: connection refused" {
		t.Errorf("%q", r.Error)
	}
	stopped.Store(true)
	r = factsFailed("web1", fmt.Errorf("web1: %w", context.Canceled), &stopped)
	if r.Error != "web1: interrupted" {
		t.Errorf("%q", r.Error)
	}
}

// TestParallelBelowOne: every command that connects checks -parallel the same way, with the
// same message; 0 is refused as a value (left out, the spec or the default decides).
func TestParallelBelowOne(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, `host "a" {
  address = "127.0.0.1"
}
`)
	for _, name := range []string{"plan", "apply", "facts", "bench"} {
		for _, n := range []string{"0", "-1"} {
			t.Run(name+" "+n, func(t *testing.T) {
				env, _, stderr := testEnv()
				code := exitCode(commands[name].run(context.Background(), env, []string{"-parallel", n, dir}), env.stderr, name)
				if code != exitUsage || !strings.Contains(stderr.String(), "-parallel must be at least 1") {
					t.Errorf("exit %d, stderr %q", code, stderr)
				}
			})
		}
	}
}
