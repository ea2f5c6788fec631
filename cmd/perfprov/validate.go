package main

import (
	"context"
	"flag"
	"fmt"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/internal/view"
)

func runValidate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "validate", "validate [-json] [-var NAME=VALUE]... [-var-file FILE]... [PATH]")
	var f specFlags
	f.register(fs, false)
	fs.BoolVar(&f.json, "json", false, "print the result as JSON on stdout: the format's header line, then one document")
	if err := parseSpecArgs(fs, args); err != nil {
		return err
	}
	path, err := specPath(fs)
	if err != nil {
		return err
	}
	sp, diags := f.load(env, path)
	if !diags.HasErrors() {
		// The rules plan applies to each resource, for every host whose values are known.
		diags = append(diags, checkResources(sp)...)
	}
	errs, warns := countDiags(diags)
	if f.json {
		startJSON(env, "validate", view.StreamValidate)
		res := view.ValidateResult{Valid: errs == 0, ErrorCount: errs, WarningCount: warns, Diagnostics: hcl.JSONDiagnostics(diags, sp.Files())}
		if err := view.WriteValidateJSON(env.stdout, res); err != nil {
			return err
		}
	} else {
		if len(diags) > 0 {
			hcl.WriteDiagnostics(env.stderr, diags, sp.Files(), useColor(env))
		}
		if errs == 0 {
			fmt.Fprintf(env.stdout, "Success! The spec is valid: %s, %s.\n",
				view.Plural(len(sp.Hosts), "host", "hosts"), view.Plural(sp.ResourceCount(), "resource", "resources"))
		} else {
			fmt.Fprintf(env.stderr, "The spec has %s.\n", view.Plural(errs, "error", "errors"))
		}
	}
	if errs > 0 {
		return &exitError{code: exitFailure}
	}
	return nil
}

func countDiags(diags hcl2.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl2.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// parseSpecArgs parses flags that may come before or after PATH ("validate examples/x -json"),
// as people type them; "--" ends the flags.
func parseSpecArgs(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	// Re-parse nothing: put the positional arguments back for specPath.
	return fs.Parse(append([]string{"--"}, positional...))
}
