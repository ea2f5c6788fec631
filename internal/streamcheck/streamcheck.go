// Package streamcheck checks -json output against its documented schema,
// docs/json/perfprov.schema.json, with a JSON Schema (2020-12) validator: the header line first,
// then every line against the definition the header's stream names. Tests use it on the output
// of real runs, so that the schema cannot drift from what perfprov prints.
package streamcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaURL is the schema's name inside the compiler (it is read from the file, not fetched).
const schemaURL = "file:///perfprov.schema.json"

// Path is the schema file in this source tree.
func Path() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("streamcheck: cannot tell where the source tree is")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "json", "perfprov.schema.json"), nil
}

// Checker validates lines against the definitions of the schema.
type Checker struct {
	c    *jsonschema.Compiler
	defs map[string]*jsonschema.Schema
	// Props are each definition's property names, for the tests that compare them with the Go types.
	Props map[string][]string
}

// New reads and compiles the schema file.
func New() (*Checker, error) {
	path, err := Path()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("streamcheck: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("streamcheck: %s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("streamcheck: %s: %w", path, err)
	}
	ck := &Checker{c: c, defs: map[string]*jsonschema.Schema{}, Props: map[string][]string{}}
	var raw struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("streamcheck: %s: %w", path, err)
	}
	for name, d := range raw.Defs {
		for p := range d.Properties {
			ck.Props[name] = append(ck.Props[name], p)
		}
	}
	// The whole document too: it must compile as a schema of its own.
	if _, err := c.Compile(schemaURL); err != nil {
		return nil, fmt.Errorf("streamcheck: %s: %w", path, err)
	}
	return ck, nil
}

// Validate checks one JSON value (as text) against the definition def.
func (ck *Checker) Validate(def string, line []byte) error {
	s := ck.defs[def]
	if s == nil {
		var err error
		if s, err = ck.c.Compile(schemaURL + "#/$defs/" + def); err != nil {
			return fmt.Errorf("no definition %q in the schema: %w", def, err)
		}
		ck.defs[def] = s
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// singleDocument are the streams of one line after the header; version has none.
var singleDocument = map[string]int{"facts": 1, "plan_offline": 1, "validate": 1, "plan_file": 1, "version": 0}

// Stream checks a whole -json output: it is JSON Lines, its first line is the header, each later
// line matches the definition of the header's stream (STREAM_line). It returns the stream and
// how many lines followed the header. Errors name the line.
func (ck *Checker) Stream(out []byte) (stream string, lines int, err error) {
	text := string(out)
	if !strings.HasSuffix(text, "\n") {
		return "", 0, errors.New("the output does not end with a newline")
	}
	all := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if err := ck.Validate("header", []byte(all[0])); err != nil {
		return "", 0, fmt.Errorf("line 1 is not a header: %w\n%s", err, all[0])
	}
	var h struct{ Stream string }
	if err := json.Unmarshal([]byte(all[0]), &h); err != nil || h.Stream == "" {
		return "", 0, fmt.Errorf("line 1: the header names no stream: %s", all[0])
	}
	body := all[1:]
	if n, ok := singleDocument[h.Stream]; ok && len(body) != n {
		return h.Stream, len(body), fmt.Errorf("%s -json: %d lines after the header, want %d", h.Stream, len(body), n)
	}
	for i, l := range body {
		if err := ck.Validate(h.Stream+"_line", []byte(l)); err != nil {
			return h.Stream, len(body), fmt.Errorf("line %d (%s): %w\n%s", i+2, h.Stream, err, l)
		}
	}
	return h.Stream, len(body), nil
}
