package shell

import (
	"os/exec"
	"testing"
	"testing/quick"
)

func TestQuoteVectors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/opt/perf/bin/perf", "/opt/perf/bin/perf"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(reboot)", "'$(reboot)'"},
		{"`id`", "'`id`'"},
		{"a\nb", "'a\nb'"},
		{"-rf", "-rf"},
		{"*", "'*'"},
		{"~root", "'~root'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestQuoteRoundTrip asks a real /bin/sh to read quoted words back: the property that matters.
func TestQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	check := func(words []string) bool {
		for i, w := range words {
			// NUL cannot appear in a shell word or an argv entry at all.
			b := []byte(w)
			for j := range b {
				if b[j] == 0 {
					b[j] = 'x'
				}
			}
			words[i] = string(b)
		}
		script := `for a in ` + Join(words...) + `; do printf '%s\0' "$a"; done`
		if len(words) == 0 {
			return true
		}
		out, err := exec.Command(sh, "-c", script).Output()
		if err != nil {
			t.Logf("sh failed on %q: %v", script, err)
			return false
		}
		var got []string
		start := 0
		for i, c := range out {
			if c == 0 {
				got = append(got, string(out[start:i]))
				start = i + 1
			}
		}
		if len(got) != len(words) {
			t.Logf("words %q came back as %q", words, got)
			return false
		}
		for i := range words {
			if got[i] != words[i] {
				t.Logf("word %q came back as %q", words[i], got[i])
				return false
			}
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}
