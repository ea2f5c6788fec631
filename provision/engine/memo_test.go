package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/perfprov/perfprov/provision/resource"
)

// TestMemoCacheConfirms: a memo is given to reads only once a second read, memoSettle or more
// after the first, printed the same for the same fingerprint; anything else starts over. It is
// kept per host (under the key the CLI gives), across runs (the file).
func TestMemoCacheConfirms(t *testing.T) {
	path := filepath.Join(t.TempDir(), MemoCacheFile)
	key := func(host string) string { return host + " 10.0.0.1:22" }
	c := OpenMemoCache(path, key)
	m := resource.Memo{Fingerprint: "1:2:3:4:5", Lines: []string{"sha256=abc  -"}}
	other := resource.Memo{Fingerprint: "1:2:3:4:5", Lines: []string{"sha256=def  -"}}
	t0 := time.Unix(1_000_000, 0)
	steps := []struct {
		name string
		memo resource.Memo
		at   time.Duration
		want resource.Memo
	}{
		{"first read", m, 0, resource.Memo{}},
		{"the same, too soon", m, 2 * time.Second, resource.Memo{}},
		{"the same, later", m, memoSettle, m},
		{"the same again", m, 10 * time.Second, m},
		{"other lines, same fingerprint", other, 11 * time.Second, resource.Memo{}},
		{"those again, later", other, 15 * time.Second, other},
	}
	for _, s := range steps {
		c.observe("web1", "file /x", s.memo, t0.Add(s.at))
		if got := c.get("web1", "file /x"); got.Fingerprint != s.want.Fingerprint || len(got.Lines) != len(s.want.Lines) || len(got.Lines) > 0 && got.Lines[0] != s.want.Lines[0] {
			t.Errorf("%s: get %+v, want %+v", s.name, got, s.want)
		}
	}
	if got := c.get("web2", "file /x"); got.Fingerprint != "" {
		t.Errorf("another host got %+v", got)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got := OpenMemoCache(path, key).get("web1", "file /x"); got.Lines[0] != other.Lines[0] {
		t.Errorf("after a reload: %+v", got)
	}
	if got := OpenMemoCache(path, func(h string) string { return h + " 10.0.0.2:22" }).get("web1", "file /x"); got.Fingerprint != "" {
		t.Errorf("a host of the same name at another address got %+v", got)
	}
	if got := OpenMemoCache(filepath.Join(t.TempDir(), "none.json"), key).get("web1", "file /x"); got.Fingerprint != "" {
		t.Errorf("an empty cache gave %+v", got)
	}
}
