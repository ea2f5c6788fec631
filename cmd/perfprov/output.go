package main

import "github.com/perfprov/perfprov/internal/view"

// header is the first line of a -json stream of kind stream printed by command.
func header(command, stream string) view.Header {
	bi := buildInfo()
	return view.NewHeader(bi.Version, bi.Revision, command, stream)
}

// startJSON prints the header line; every -json stream starts with it, before anything can fail,
// so that even a run stopped by a bad spec prints a stream a reader recognises.
func startJSON(env *cliEnv, command, stream string) {
	view.WriteHeader(env.stdout, header(command, stream))
}
