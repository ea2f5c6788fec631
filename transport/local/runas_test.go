package local

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/transport"
)

// A root login runs commands as another user without sudo, with that user's groups.
func TestRootRunAsWithoutSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs root")
		}
		t.Skip("needs root")
	}
	l, err := New("local")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		runAs, want string
	}{
		{"", "root"},
		{"root", "root"},
		{"nobody", "nobody"},
		{"daemon", "daemon"},
	}
	for _, tt := range tests {
		res, err := l.Run(context.Background(), transport.Command{Script: "id -un; id -Gn", RunAs: tt.runAs})
		if err != nil {
			t.Fatalf("run as %q: %v", tt.runAs, err)
		}
		lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
		if !res.OK() || lines[0] != tt.want {
			t.Errorf("run as %q: got %q (exit %d, stderr %q), want user %q", tt.runAs, res.Stdout, res.ExitStatus, res.Stderr, tt.want)
		}
	}
	if _, err := l.Run(context.Background(), transport.Command{Script: "true", RunAs: "bad name;x"}); err == nil || !strings.Contains(err.Error(), "not a valid user name") {
		t.Errorf("invalid user name: err = %v, want a refusal", err)
	}
}
