package resource

import (
	"slices"
	"testing"
)

func TestParseMemo(t *testing.T) {
	cases := []struct {
		name, out string
		ok        bool
		fp        string
		lines     []string
	}{
		{"framed", "exists=1\nmemo=1:2:3:4:5\nsha256=ab  -\nmemo.end=1\nmore=1\n", true, "1:2:3:4:5", []string{"sha256=ab  -"}},
		{"cut short", "memo=1:2:3:4:5\nsha256=ab  -\n", false, "", nil},
		{"no fingerprint", "memo=\nsha256=ab  -\nmemo.end=1\n", false, "", nil},
		{"none", "exists=1\n", false, "", nil},
		{"several lines", "memo=9\ngetcap=\nct_magic=2321\nmemo.end=1\n", true, "9", []string{"getcap=", "ct_magic=2321"}},
	}
	for _, c := range cases {
		m, ok := ParseMemo([]byte(c.out))
		if ok != c.ok || m.Fingerprint != c.fp || !slices.Equal(m.Lines, c.lines) {
			t.Errorf("%s: %+v %v, want %q %q %v", c.name, m, ok, c.fp, c.lines, c.ok)
		}
	}
}

// TestKeepMemo: only what went right is remembered.
func TestKeepMemo(t *testing.T) {
	f := &file{}
	c := &capabilities{}
	sha := "sha256=" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + "  -"
	cases := []struct {
		r     Memoizer
		lines []string
		keep  bool
	}{
		{f, []string{sha}, true},
		{f, []string{"sha256="}, false},
		{f, nil, false},
		{c, []string{"getcap=/p cap_perfmon=ep", "ct_magic=7f454c46", "ct_elf=ok"}, true},
		{c, []string{"getcap=", "ct_magic=2321"}, true},
		{c, []string{"getcap=", "ct_magic=7f454c46"}, false},   // od or awk failed on the header
		{c, []string{"ct_magic=7f454c46", "ct_elf=ok"}, false}, // no getcap
		{c, []string{"getcap="}, false},
	}
	for _, tc := range cases {
		if got := tc.r.KeepMemo(tc.lines); got != tc.keep {
			t.Errorf("%T %q: keep %v, want %v", tc.r, tc.lines, got, tc.keep)
		}
	}
	if (&file{sensitive: true, path: "/etc/secret"}).MemoKey() != "" {
		t.Errorf("a sensitive file's hash would be remembered")
	}
}
