package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/conntest"
)

func TestLocalRun(t *testing.T) {
	l, err := New("ctl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range conntest.Cases() {
		if tc.Name == "privileged without become" && (l.User() == "nobody" || l.User() == "root") { // root switches users itself (TestRootRunAsWithoutSudo)
			continue
		}
		t.Run(tc.Name, func(t *testing.T) { conntest.Check(t, l, tc) })
	}
}

func TestLocalEnvHasNoSecrets(t *testing.T) {
	t.Setenv("PERFPROV_TEST_SECRET", "hunter2")
	l, _ := New("ctl")
	res, err := l.Run(context.Background(), transport.Command{Script: "env"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Stdout), "hunter2") {
		t.Error("the controller's environment leaked into a local command")
	}
}

func TestLocalCancel(t *testing.T) {
	l, _ := New("ctl")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := l.Run(ctx, transport.Command{Script: "sleep 5 & sleep 5; wait"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %s", d)
	}
}

func TestLocalUpload(t *testing.T) {
	l, _ := New("ctl")
	dir := t.TempDir()
	target := filepath.Join(dir, "f")
	for _, mode := range []os.FileMode{0o600, 0o755, os.ModeSetuid | 0o750} {
		if err := l.Upload(context.Background(), target, strings.NewReader("content"), mode); err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(target)
		if st.Mode() != mode {
			t.Errorf("mode %v, want %v", st.Mode(), mode)
		}
	}
	var b bytes.Buffer
	if err := l.Download(context.Background(), target, &b); err != nil || b.String() != "content" {
		t.Errorf("download %q %v", b.String(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
