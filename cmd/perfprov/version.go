package main

import (
	"context"

	buildversion "github.com/perfprov/perfprov/internal/version"
	"github.com/perfprov/perfprov/internal/view"
)

// version, when set at link time (-ldflags "-X main.version=1.2.3", as make dist does), is the
// version printed instead of the module version the Go toolchain recorded.
var version string

// buildInfo is this binary's version and VCS revision.
func buildInfo() buildversion.Info { return buildversion.Current(version) }

func runVersion(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "version", "version [-json]")
	asJSON := fs.Bool("json", false, "print the header line of the -json streams: format_version, perfprov, revision")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: "version takes no arguments"}
	}
	if *asJSON {
		startJSON(env, "version", view.StreamVersion)
		return nil
	}
	buildInfo().Write(env.stdout)
	return nil
}
