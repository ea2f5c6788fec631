package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostLock: a second run is refused with the holder's name while the first holds the lock;
// a clean release lets the next run take it quietly; a holder that ended without releasing it
// (its connection gone) leaves a lock the next run takes over, and says so.
func TestHostLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lock", "perfprov.lock")
	conn := &shConn{host: "h1"}
	var warnings []string
	warn := func(w string) { warnings = append(warnings, w) }

	first, err := lockHost(ctx, conn, path, "run one, pid 1", warn)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v, want mode 0600", fi, err)
	}
	_, err = lockHost(ctx, conn, path, "run two, pid 2", warn)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "run one, pid 1") || !strings.Contains(err.Error(), path) {
		t.Fatalf("second lock while the first holds it: %v", err)
	}
	first.release()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("a released lock file still names its holder: %q", b)
	}

	third, err := lockHost(ctx, conn, path, "run three, pid 3", warn)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("lock after a clean release: %v, warnings %q", err, warnings)
	}
	// The holder dies: its stdin ends without the release word (the connection closed).
	_ = third.stdin.Close()
	<-third.done
	fourth, err := lockHost(ctx, conn, path, "run four, pid 4", warn)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.release()
	if len(warnings) != 1 || !strings.Contains(warnings[0], "took over") || !strings.Contains(warnings[0], "run three, pid 3") {
		t.Errorf("warnings after taking over a left lock: %q", warnings)
	}
}
