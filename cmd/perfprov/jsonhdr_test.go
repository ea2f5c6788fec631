package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/view"
)

// jsonBody checks that a -json output starts with the header line of command's stream and
// returns the lines after it.
func jsonBody(t *testing.T, out, command, stream string) []string {
	t.Helper()
	first, rest, _ := strings.Cut(out, "\n")
	var h view.Header
	if err := json.Unmarshal([]byte(first), &h); err != nil {
		t.Fatalf("%s -json: the first line is not the header: %v\n%s", command, err, out)
	}
	if h.FormatVersion != view.FormatVersion || h.Type != view.HeaderType || h.Command != command || h.Stream != stream || h.Perfprov == "" {
		t.Fatalf("%s -json: header %+v, want format %s, command %s, stream %s", command, h, view.FormatVersion, command, stream)
	}
	if rest = strings.TrimSuffix(rest, "\n"); rest == "" {
		return nil
	}
	return strings.Split(rest, "\n")
}

// TestVersionJSON: version -json is the header line alone.
func TestVersionJSON(t *testing.T) {
	code, out, errs := applyCLI(t, "version", "-json")
	if code != exitOK || len(jsonBody(t, out, "version", view.StreamVersion)) != 0 {
		t.Errorf("version -json: exit %d\n%s%s", code, out, errs)
	}
}
