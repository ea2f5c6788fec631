package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Command lines that are wrong exit 2 with usage, before touching the machine.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"up", "-n", "x"}, 2, "invalid value"},
		{[]string{"up", "extra"}, 2, "want 0 arguments"},
		{[]string{"exec", "lab1"}, 2, "want 2 arguments"},
		{[]string{"freeze"}, 2, "want 1 arguments"},
		{[]string{"help"}, 0, ""},
	}
	for _, tt := range tests {
		var out, errw bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errw)
		if code != tt.code {
			t.Errorf("testbed %v: exit %d, want %d (stderr %q)", tt.args, code, tt.code, errw.String())
		}
		if !strings.Contains(errw.String(), tt.want) {
			t.Errorf("testbed %v: stderr %q lacks %q", tt.args, errw.String(), tt.want)
		}
	}
}

// Errors at run time are one line and exit 1.
func TestRuntimeErrorIsOneLine(t *testing.T) {
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"status", "-dir", t.TempDir()}, &out, &errw)
	if code != 1 {
		t.Fatalf("status on an empty directory: exit %d, want 1", code)
	}
	if s := errw.String(); strings.Count(s, "\n") != 1 || !strings.HasPrefix(s, "testbed: no lab in ") {
		t.Errorf("stderr = %q, want one line", s)
	}
}
