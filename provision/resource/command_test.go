package resource

import (
	"strings"
	"testing"
)

func TestScriptSummary(t *testing.T) {
	tests := []struct{ in, want string }{
		{"make install", "make install"},
		{"  set -e\nmake\nmake install\n", "set -e … (3 lines)"},
		{strings.Repeat("x", 100), strings.Repeat("x", 71) + "…"},
	}
	for _, tt := range tests {
		if got := scriptSummary(tt.in); got != tt.want {
			t.Errorf("scriptSummary(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
