package hcl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits that keep a hostile or mistaken spec from crashing or stalling the loader. HCL's parser
// is recursive: nesting a million brackets deep would overflow the stack, which no recover
// catches, so nesting is measured on the tokens before the file is parsed.
const (
	// maxNesting is the deepest nesting of brackets, braces, parentheses, blocks, quotes and
	// template sequences a spec file may have. Real specs stay under 20.
	maxNesting = 256
)

// readSpecFile reads one HCL file of a spec, a module, an inventory or a variable file. It refuses
// what is not a regular file (a FIFO would block, /dev/zero would never end) and files over
// maxFileSize, so that reading is bounded in time and memory.
func readSpecFile(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", name, fileKind(st.Mode()))
	}
	if st.Size() > maxFileSize {
		return nil, &fileTooLargeError{name: name, size: st.Size()}
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The file may grow after Stat: read no more than the limit allows.
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxFileSize {
		return nil, &fileTooLargeError{name: name, size: int64(len(b))}
	}
	return b, nil
}

type fileTooLargeError struct {
	name string
	size int64
}

func (e *fileTooLargeError) Error() string {
	return fmt.Sprintf("%s is %.1f MiB, more than the %d MiB a spec file may have", e.name, float64(e.size)/(1<<20), maxFileSize>>20)
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// fileStart is the position of a file as a whole, for problems with the file rather than a line.
func fileStart(name string) *hcl2.Range {
	p := hcl2.Pos{Line: 1, Column: 1, Byte: 0}
	return &hcl2.Range{Filename: name, Start: p, End: p}
}

// readDiag is the diagnostic for a spec file that cannot be read.
func readDiag(summary, name string, err error) *hcl2.Diagnostic {
	var tooLarge *fileTooLargeError
	if errors.As(err, &tooLarge) {
		return errorDiag(fileStart(name), "Spec file too large",
			fmt.Sprintf("%v. Spec files are small: move large content into a file that the spec reads with file() or a resource's source.", err))
	}
	return errorDiag(fileStart(name), summary, fmt.Sprintf("Reading %s failed: %v.", name, err))
}

// parseHCL parses one file in HCL native syntax after checking that it is not nested deeper than
// maxNesting. A file that is too deep is returned empty (with its bytes, for snippets).
func parseHCL(src []byte, name string) (*hcl2.File, hcl2.Diagnostics) {
	if d := checkNesting(src, name); d != nil {
		return &hcl2.File{Body: hcl2.EmptyBody(), Bytes: src}, hcl2.Diagnostics{d}
	}
	return hclsyntax.ParseConfig(src, name, hcl2.Pos{Line: 1, Column: 1, Byte: 0})
}

// checkNesting returns an error diagnostic at the first token nested deeper than maxNesting.
func checkNesting(src []byte, name string) *hcl2.Diagnostic {
	// Every level opens with one of these bytes (or "${", "%{", "<<"); a file with fewer of them
	// than the limit cannot be too deep, which spares the lexing of every ordinary file.
	opens := 0
	for _, c := range src {
		switch c {
		case '{', '[', '(', '"', '<':
			opens++
		}
	}
	if opens <= maxNesting {
		return nil
	}
	toks, _ := hclsyntax.LexConfig(src, name, hcl2.Pos{Line: 1, Column: 1, Byte: 0})
	depth := 0
	for _, tok := range toks {
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > maxNesting {
				return errorDiag(rangePtr(tok.Range), "Nesting too deep",
					fmt.Sprintf("%s nests brackets, braces, blocks or templates more than %d levels deep here. Flatten the structure: use locals to name the inner parts.",
						filepath.Base(name), maxNesting))
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// realDir is dir with every symbolic link resolved, absolute; dir itself when that fails.
func realDir(dir string) string {
	r, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return absPath(dir)
	}
	return absPath(r)
}

// within reports whether path lies in dir or below it (both cleaned, absolute).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
