// Command perfprov provisions Linux hosts over SSH from declarative HCL specs.
//
// main only parses the subcommand and maps errors to exit codes; each subcommand lives in a file
// of its own (validate.go, fmt.go, plan.go, ...).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/perfprov/perfprov/internal/debuglog"
	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1   // errors in the spec or the run
	exitUsage       = 2   // the command line is wrong
	exitInterrupted = 130 // SIGINT
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name     string
	synopsis string
	hidden   bool // not listed (the connection daemon)
	run      func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what a subcommand may touch of the process: its streams, environment and working dir,
// how it reaches hosts and what time it is. Tests build their own.
type cliEnv struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	getenv         func(string) string
	// interrupted is closed at the first SIGINT; a second one cancels the context.
	interrupted <-chan struct{}
	// open connects to a spec host: connect.Open, or a fake in tests.
	open func(ctx context.Context, h *spec.Host, opts connect.Options) (transport.Conn, error)
	// now is the clock of the timestamps a run records (bench reports and history).
	now func() time.Time
	// retryFile is where apply and bench list the hosts that failed (defaultRetryFile); "": nowhere
	// (tests that do not look at it).
	retryFile string
	// commands is the command table (for completion, which lists it).
	commands map[string]*command
	// onFlagSet, when set, is given every flag set a command makes (completion lists its flags).
	onFlagSet func(*flag.FlagSet)
	// openTerminal opens the terminal -ask-become-pass asks on; nil: /dev/tty.
	openTerminal func() (passwordTerminal, error)
	// becomePassword is the sudo password -ask-become-pass was given, in memory only, for
	// connectOptions; "" when the flag was not given.
	becomePassword string

	// The debug log (debuglog.go): -log-file's file, and the log made on first use.
	logFile *os.File
	logOnce sync.Once
	log     *debuglog.Log
	// noColor is -no-color, which every command takes: no ANSI colours, whatever the terminal.
	noColor bool
}

// commands are the subcommands by name; each one's run lives in a file of its own.
var commands = map[string]*command{
	"apply":         {name: "apply", synopsis: "Change hosts to match the spec, verify, and print a recap", run: runApply},
	"bench":         {name: "bench", synopsis: "Confirm, host by host, that a perf group member counts events correctly", run: runBench},
	"completion":    {name: "completion", synopsis: "Print a shell completion script (bash, zsh, fish)", run: runCompletion},
	"facts":         {name: "facts", synopsis: "Show what every host of a spec says about itself (read-only)", run: runFacts},
	"fmt":           {name: "fmt", synopsis: "Rewrite spec files in the canonical format", run: runFmt},
	"plan":          {name: "plan", synopsis: "Show what apply would change (-offline: the resolved spec, no connections)", run: runPlan},
	"show":          {name: "show", synopsis: "Print a plan saved with plan -out FILE", run: runShow},
	"report":        {name: "report", synopsis: "Merge the -json outputs of several shards into one fleet table", run: runReport},
	"validate":      {name: "validate", synopsis: "Check a spec without connecting to any host", run: runValidate},
	"version":       {name: "version", synopsis: "Print the perfprov version", run: runVersion},
	persistCommand:  {name: persistCommand, hidden: true, run: runPersist},
	completeCommand: {name: completeCommand, hidden: true, run: runComplete},
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitError carries an exit status chosen by the subcommand (for example 2 for
// plan -detailed-exitcode with changes); its message, if any, was already printed.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// errInterrupted ends a run that was stopped by SIGINT, after the recap was printed.
var errInterrupted = errors.New("interrupted")

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func realMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "perfprov: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupted := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		// First signal: stop starting new work (subcommands watch interrupted). Second: abort now.
		select {
		case <-sigs:
			close(interrupted)
		case <-ctx.Done():
			return
		}
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()

	env := &cliEnv{stdout: stdout, stderr: stderr, stdin: stdin, getenv: os.Getenv, interrupted: interrupted,
		now: time.Now, retryFile: defaultRetryFile, commands: commands}
	env.open = openLogged(env)
	defer env.closeLog()
	err := cmd.run(ctx, env, args[1:])
	return exitCode(err, stderr, cmd.name)
}

func exitCode(err error, stderr io.Writer, name string) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "perfprov %s: %s\nRun 'perfprov %s -help' for usage.\n", name, ue.msg, name)
		return exitUsage
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "perfprov: interrupted")
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "perfprov %s: %v\n", name, err)
		return exitFailure
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: perfprov COMMAND [flags] [PATH]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if c.hidden {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'perfprov COMMAND -help' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting, so that main maps them.
// Every command's flag set has -no-color, so that a script can pass it to any of them.
func newFlagSet(env *cliEnv, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if env.onFlagSet != nil {
		env.onFlagSet(fs)
	}
	fs.Var(logFileFlag{env}, "log-file", "append the debug log to `FILE` (at PERFPROV_LOG's level, else debug)")
	fs.BoolVar(&env.noColor, "no-color", false, "no colours in the output (as NO_COLOR=1 or TERM=dumb do)")
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: perfprov %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a bad flag is a usage error (exit 2), -help exits 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	return nil
}

// cancelOnInterrupt is for commands that only read (facts, bench): they have nothing to finish,
// so the first SIGINT cancels the work in flight at once. stopped reports that it happened.
func cancelOnInterrupt(ctx context.Context, env *cliEnv) (context.Context, context.CancelFunc, *atomic.Bool) {
	ctx, cancel := context.WithCancel(ctx)
	stopped := new(atomic.Bool)
	go func() {
		select {
		case <-env.interrupted:
			stopped.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel, stopped
}

// eachHost runs work for every host, at most parallel at once. A host that has not started when
// ctx ends gets notStarted instead (with ctx's error), so every index is filled either way.
func eachHost(ctx context.Context, hosts []*spec.Host, parallel int, work, notStarted func(i int, h *spec.Host)) {
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				notStarted(i, h)
				return
			}
			work(i, h)
		}()
	}
	wg.Wait()
}
