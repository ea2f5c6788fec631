// Package view renders what perfprov prints: the plan (offline and online), apply's progress and
// recap, facts and benchmark reports, as terminal text, JSON or HTML. The engine, the facts
// package and the benchmark return data; the commands hand it to this package. Nothing here
// changes a host or decides an outcome.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// palette colours output for a terminal; the zero value prints plain text.
type palette struct{ on bool }

func (p palette) c(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Plural is "1 host" or "3 hosts".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func indentRest(s, indent string) string { return strings.ReplaceAll(s, "\n", "\n"+indent) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// WriteJSONLine writes v as one line of JSON (JSON Lines); a value that cannot be encoded writes
// nothing.
func WriteJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	_, _ = w.Write(append(b, '\n'))
}
