package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/perfprov/perfprov/internal/debuglog"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// The debug log: PERFPROV_LOG=debug or trace, on stderr, or in the file of -log-file (which
// every command takes; alone, it logs at debug). Off by default. See internal/debuglog.

// logFileFlag is -log-file: the file is opened (appended to, created 0600) when the flag is
// parsed, so that a path that cannot be written is a usage error before anything runs.
type logFileFlag struct{ env *cliEnv }

func (f logFileFlag) String() string {
	if f.env == nil || f.env.logFile == nil {
		return ""
	}
	return f.env.logFile.Name()
}

func (f logFileFlag) Set(path string) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	if f.env.logFile != nil {
		_ = f.env.logFile.Close()
	}
	f.env.logFile = file
	return nil
}

// debug is the run's debug log (nil when off), made on first use.
func (env *cliEnv) debug() *debuglog.Log {
	env.logOnce.Do(func() {
		level, err := debuglog.ParseLevel(env.getenv("PERFPROV_LOG"))
		if err != nil {
			fmt.Fprintf(env.stderr, "perfprov: %v; no debug log\n", err)
		}
		var w io.Writer = env.stderr
		if env.logFile != nil {
			w = env.logFile
			if level == debuglog.Off && err == nil {
				level = debuglog.Debug
			}
		}
		env.log = debuglog.New(w, level)
	})
	return env.log
}

// closeLog closes -log-file's file.
func (env *cliEnv) closeLog() {
	if env.logFile != nil {
		_ = env.logFile.Close()
	}
}

// openLogged is connect.Open with every command and transfer of the connection in the debug log.
func openLogged(env *cliEnv) func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error) {
	return func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error) {
		c, err := connect.Open(ctx, h, opts)
		if err != nil {
			return nil, err
		}
		return debuglog.Conn(c, env.debug()), nil
	}
}
