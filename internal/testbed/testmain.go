package testbed

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// One lab per test binary: started by the first Require, grown by later ones that need more
// hosts, and taken down by Main after the tests. Its hosts are ephemeral: they stop by
// themselves if the binary dies without reaching Main's teardown.
var shared struct {
	mu  sync.Mutex
	lab *Lab
	err error // the first failure to start, reported to every later Require
}

// Main runs the tests of a package that uses Require, then takes the lab down. Call it from
// TestMain: func TestMain(m *testing.M) { testbed.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	lab := shared.lab
	shared.lab = nil
	shared.mu.Unlock()
	if lab != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := lab.Down(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "testbed: taking the lab down: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		cancel()
	}
	os.Exit(code)
}

// Require returns the test binary's lab with at least n hosts, starting or growing it. When
// the lab cannot start (not root, no base, no free address...) the test fails under CI=true
// and is skipped otherwise; under -short it is skipped without trying. The returned Lab is the
// caller's own copy: Hosts holds every host started so far, at least n.
func Require(t testing.TB, n int) *Lab {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("testbed: the lab of real hosts is skipped under -short")
	}
	lab, err := sharedLab(n)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testbed: the lab cannot start: %v", err)
		}
		t.Skipf("testbed: the lab cannot start (set CI=true to fail instead): %v", err)
	}
	return lab
}

func sharedLab(n int) (*Lab, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.err != nil {
		return nil, shared.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute) // a first base build takes minutes
	defer cancel()
	if shared.lab == nil {
		dir, err := os.MkdirTemp("", "perfprov-testlab-")
		if err != nil {
			shared.err = err
			return nil, err
		}
		lab, err := Up(ctx, Options{Hosts: max(n, 3), Dir: dir, Ephemeral: true,
			Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, "testbed: "+f+"\n", a...) }})
		if err != nil {
			removeTree(dir)
			shared.err = err
			return nil, err
		}
		shared.lab = lab
	}
	if len(shared.lab.Hosts) < n {
		if err := shared.lab.AddHosts(ctx, n-len(shared.lab.Hosts)); err != nil {
			return nil, err
		}
	}
	cp := *shared.lab
	cp.Hosts = append([]*Host(nil), shared.lab.Hosts...)
	return &cp, nil
}

// RequireVM starts a lab of t's own with one VM host per release in releases (RELEASE1...),
// each on a fresh overlay of its release's snapshot, and takes it down when t ends. The first
// VM of a release on a machine builds its image and snapshot (minutes, once). Like Require, it
// fails under CI=true when the lab cannot start, skips otherwise, and skips under -short.
func RequireVM(t testing.TB, releases ...string) *Lab {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("testbed: VM hosts are skipped under -short")
	}
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	dir, err := os.MkdirTemp("", "perfprov-vmlab-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	start := time.Now()
	lab, err := Up(ctx, Options{VMs: releases, Dir: dir, Ephemeral: true,
		Log: func(f string, a ...any) { t.Logf("testbed: "+f, a...) }})
	if err != nil {
		removeTree(dir)
		fail("testbed: the VM lab cannot start: %v", err)
		return nil
	}
	t.Logf("testbed: VM lab %v up in %s", releases, time.Since(start).Round(100*time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lab.Down(ctx); err != nil {
			t.Errorf("testbed: taking the VM lab down: %v", err)
		}
		removeTree(dir)
	})
	return lab
}
