package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/perfprov/perfprov/hcl"
)

func runFmt(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "fmt", "fmt [-check] [-diff] [-recursive] [PATH]")
	check := fs.Bool("check", false, "change nothing: list the files that are not formatted and exit 1 if there are any")
	diff := fs.Bool("diff", false, "print the changes as a unified diff")
	recursive := fs.Bool("recursive", false, "also format .hcl files in subdirectories")
	if err := parseSpecArgs(fs, args); err != nil {
		return err
	}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	files, err := fmtFiles(path, *recursive)
	if err != nil {
		return err
	}
	var diags hcl2.Diagnostics
	parsed := map[string]*hcl2.File{}
	unformatted := 0
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		// Never reformat a file that does not parse: hclwrite would keep the broken tokens.
		f, d := hclsyntax.ParseConfig(src, name, hcl2.Pos{Line: 1, Column: 1})
		if f != nil {
			parsed[name] = f
		}
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		out := hclwrite.Format(src)
		if bytes.Equal(out, src) {
			continue
		}
		unformatted++
		fmt.Fprintln(env.stdout, name)
		if *diff {
			writeUnifiedDiff(env.stdout, name, string(src), string(out))
		}
		if *check {
			continue
		}
		if err := writeFileKeepMode(name, out); err != nil {
			return err
		}
	}
	if len(diags) > 0 {
		hcl.WriteDiagnostics(env.stderr, diags, parsed, useColor(env))
		return &exitError{code: exitFailure}
	}
	if *check && unformatted > 0 {
		return &exitError{code: exitFailure}
	}
	return nil
}

// fmtFiles lists the .hcl files under path (a file or a directory).
func fmtFiles(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() || !recursive {
		return hcl.HCLFiles(path)
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".hcl") && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// writeFileKeepMode replaces a file's content atomically, keeping its mode.
func writeFileKeepMode(name string, data []byte) error {
	st, err := os.Stat(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".perfprov-fmt-*")
	if err != nil {
		return fmt.Errorf("formatting %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("formatting %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("formatting %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), st.Mode().Perm()); err != nil {
		return fmt.Errorf("formatting %s: %w", name, err)
	}
	return os.Rename(tmp.Name(), name)
}

// writeUnifiedDiff prints a unified diff (3 lines of context) between two texts, line by line.
func writeUnifiedDiff(w io.Writer, name, a, b string) {
	al := strings.SplitAfter(a, "\n")
	bl := strings.SplitAfter(b, "\n")
	if len(al) > 0 && al[len(al)-1] == "" {
		al = al[:len(al)-1]
	}
	if len(bl) > 0 && bl[len(bl)-1] == "" {
		bl = bl[:len(bl)-1]
	}
	// LCS table; spec files are small.
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte // ' ', '-', '+'
		text string
		ai   int
		bi   int
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			ops = append(ops, op{' ', al[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', al[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', bl[j], i, j})
			j++
		}
	}
	fmt.Fprintf(w, "--- %s\n+++ %s (formatted)\n", name, name)
	const ctx = 3
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run-end > 2*ctx || run == len(ops) {
				end = min(end+ctx, len(ops))
				break
			}
			end = run
		}
		na, nb := 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				na++
			}
			if o.kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(w, "@@ -%d,%d +%d,%d @@\n", ops[start].ai+1, na, ops[start].bi+1, nb)
		for _, o := range ops[start:end] {
			text := o.text
			if !strings.HasSuffix(text, "\n") {
				text += "\n\\ No newline at end of file\n"
			}
			fmt.Fprintf(w, "%c%s", o.kind, text)
		}
		k = end
	}
}
