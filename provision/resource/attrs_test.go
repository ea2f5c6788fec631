package resource

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrsKeepIdentity: collected attribute errors are joined, not flattened to text, so that
// the engine's errors.Is checks see through them; every message still shows.
func TestErrsKeepIdentity(t *testing.T) {
	var e errs
	e.add(nil)
	e.add(errors.New("mode must be an octal string"))
	e.add(fmt.Errorf("path /x: %w", ErrNotReady))
	err := e.err()
	if !errors.Is(err, ErrNotReady) {
		t.Errorf("errors.Is(%v, ErrNotReady) = false", err)
	}
	if want := "mode must be an octal string; path /x: " + ErrNotReady.Error(); err.Error() != want {
		t.Errorf("err = %q, want %q (one line)", err, want)
	}
	if (errs{}).err() != nil {
		t.Error("no errors, yet err() is not nil")
	}
}
