package main

import (
	"context"
	"os"

	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/transport/persist"
)

// persistCommand is the hidden subcommand the connection daemon runs as (see persist.Dialer):
// perfprov starts it itself, with the daemon's directory as its only argument.
const persistCommand = "__persist"

func runPersist(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) != 1 {
		return &usageError{msg: persistCommand + " is started by perfprov itself"}
	}
	// SIGTERM or SIGINT ends the daemon at once, closing the connections it holds.
	ctx, cancel, _ := cancelOnInterrupt(ctx, env)
	defer cancel()
	return persist.Serve(ctx, args[0])
}

// connectOptions are the connection options of every command that connects: the environment,
// and the connection daemon that keeps connections open between runs.
func connectOptions(env *cliEnv) connect.Options {
	opts := connect.Options{Getenv: env.getenv, Log: env.debug().Func(), Secret: env.debug().Secret, BecomePassword: env.becomePassword,
		Stderr: &syncWriter{w: env.stderr}}
	if exe, err := os.Executable(); err == nil {
		opts.Persist = persist.Dialer{
			Dir:    persist.DefaultDir(env.getenv),
			Daemon: []string{exe, persistCommand},
			// Why connections are not kept, when it is for a directory or daemon not the
			// user's own: once per run, not once per host.
			Warn: persist.WarnOnce(env.stderr),
		}
	}
	return opts
}
