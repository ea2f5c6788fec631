package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/perfprov/perfprov/provision/connect"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// completeCommand is the hidden command the completion scripts call back for the names of the
// spec's hosts and groups: `perfprov __complete hosts WORDS...`, WORDS being the command line
// typed so far (after "perfprov").
const completeCommand = "__complete"

// completionShells are the shells `perfprov completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

// What a flag's value is, for the scripts to offer: host and group names, files, directories, or
// nothing (a number, a K/N...). Flags not named here take a value the scripts offer nothing for.
const (
	valueNone  = ""
	valueHosts = "hosts"
	valueFile  = "file"
	valueDir   = "dir"
)

var flagValueKinds = map[string]string{
	"limit":        valueHosts,
	"inventory":    valueFile,
	"var-file":     valueFile,
	"html":         valueFile,
	"audit-log":    valueFile,
	"compare-with": valueFile, // a saved run, or a history directory: files offers both
	"history":      valueDir,
	"spec":         valueFile,
	"junit":        valueFile,
	"log-file":     valueFile,
	"out":          valueFile,
}

// argKinds are what a command's arguments (after the flags) are, for the commands whose
// arguments are not a spec PATH (a file or directory).
var argKinds = map[string]string{
	"completion": "shell",
	"version":    "",
	"report":     valueFile,
}

// completionFlag is one flag of a command as the scripts see it.
type completionFlag struct {
	name, usage string
	takesValue  bool
	repeatable  bool
	kind        string // valueHosts, valueFile, valueDir or valueNone
}

// completionCommand is one subcommand as the scripts see it.
type completionCommand struct {
	name, synopsis string
	flags          []completionFlag
	args           string // "shell", valueFile, or "" (none)
}

// completionModel is every listed command with the flags of its real flag set: each command is
// run with -help and a hook that keeps its flag set, so a flag added to a command is completed
// without anything else to change. The command stops at -help before it touches anything.
func completionModel(cmds map[string]*command) ([]completionCommand, error) {
	names := make([]string, 0, len(cmds))
	for n, c := range cmds {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []completionCommand
	for _, n := range names {
		flags, err := commandFlags(cmds, n)
		if err != nil {
			return nil, err
		}
		cc := completionCommand{name: n, synopsis: cmds[n].synopsis, flags: flags, args: valueFile}
		if k, ok := argKinds[n]; ok {
			cc.args = k
		}
		out = append(out, cc)
	}
	return out, nil
}

// commandFlags are the flags of the named command's flag set, sorted by name.
func commandFlags(cmds map[string]*command, name string) ([]completionFlag, error) {
	var sets []*flag.FlagSet
	probe := &cliEnv{
		stdout: io.Discard, stderr: io.Discard, stdin: strings.NewReader(""),
		getenv: func(string) string { return "" }, interrupted: make(chan struct{}), now: time.Now,
		open: func(context.Context, *spec.Host, connect.Options) (transport.Conn, error) {
			return nil, errors.New("no connection while listing flags")
		},
		commands:  cmds,
		onFlagSet: func(fs *flag.FlagSet) { sets = append(sets, fs) },
	}
	err := cmds[name].run(context.Background(), probe, []string{"-help"})
	if !errors.Is(err, flag.ErrHelp) || len(sets) == 0 {
		return nil, fmt.Errorf("internal error: %s did not stop at -help (%v)", name, err)
	}
	var out []completionFlag
	sets[0].VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		cf := completionFlag{name: f.Name, usage: shortUsage(usage), takesValue: true, kind: flagValueKinds[f.Name]}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			cf.takesValue, cf.kind = false, valueNone
		}
		_, cf.repeatable = f.Value.(*stringList)
		out = append(out, cf)
	})
	return out, nil
}

// shortUsage is a flag's usage up to its first aside, for one line of a completion menu.
func shortUsage(s string) string {
	for _, sep := range []string{"; ", " (", ": "} {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	return strings.TrimSpace(s)
}

func runCompletion(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "completion", "completion bash|zsh|fish\n\nPrints a completion script for the shell. Load it with\n  source <(perfprov completion bash)       # bash, zsh: in ~/.bashrc or ~/.zshrc\n  perfprov completion fish | source        # fish: in ~/.config/fish/config.fish")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{msg: "name one shell: bash, zsh or fish"}
	}
	model, err := completionModel(env.commands)
	if err != nil {
		return err
	}
	var script string
	switch fs.Arg(0) {
	case "bash":
		script = bashCompletion(model)
	case "zsh":
		script = zshCompletion(model)
	case "fish":
		script = fishCompletion(model)
	default:
		return &usageError{msg: fmt.Sprintf("no completion for %q: bash, zsh or fish", fs.Arg(0))}
	}
	_, err = io.WriteString(env.stdout, script)
	return err
}

// runComplete answers a completion script: `__complete hosts WORDS...` prints the host, then the
// group names of the spec the command line names (its PATH, report's -spec, else the current
// directory, with its -inventory, -var and -var-file), one a line. It is quiet: a spec that does
// not load prints what could be read of it, or nothing, and never a diagnostic.
func runComplete(_ context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] != "hosts" {
		return &usageError{msg: "usage: perfprov __complete hosts WORDS..."}
	}
	sf, path := specOfWords(env.commands, joinEquals(args[1:]))
	sp, _ := sf.load(env, path)
	if sp == nil {
		return nil
	}
	for _, h := range sp.Hosts {
		fmt.Fprintln(env.stdout, h.Name)
	}
	for _, g := range sp.Groups {
		fmt.Fprintln(env.stdout, g.Name)
	}
	return nil
}

// joinEquals puts back together the words bash split at '=' (COMP_WORDBREAKS): "-var-file", "=",
// "x.hcl" is "-var-file=x.hcl".
func joinEquals(words []string) []string {
	var out []string
	for i := 0; i < len(words); i++ {
		if words[i] == "=" && len(out) > 0 {
			out[len(out)-1] += "="
			if i+1 < len(words) {
				out[len(out)-1] += words[i+1]
				i++
			}
			continue
		}
		out = append(out, words[i])
	}
	return out
}

// specOfWords reads, leniently, the spec inputs of a command line being typed: which flags take a
// value comes from the command's real flag set; an unknown command or flag is passed over.
func specOfWords(cmds map[string]*command, words []string) (specFlags, string) {
	var sf specFlags
	path := "."
	if len(words) == 0 || cmds[words[0]] == nil || cmds[words[0]].hidden {
		return sf, path
	}
	flags, err := commandFlags(cmds, words[0])
	if err != nil {
		return sf, path
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		takesValue[f.name] = f.takesValue
	}
	specPathFlag := ""
	for i := 1; i < len(words); i++ {
		w := words[i]
		if w == "--" || !strings.HasPrefix(w, "-") || w == "-" {
			if w == "--" {
				i++
			}
			if i < len(words) && words[0] != "report" {
				path = words[i]
			}
			continue
		}
		name, value, has := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if takesValue[name] && !has {
			if i+1 >= len(words) {
				break
			}
			i++
			value = words[i]
		}
		switch name {
		case "inventory":
			sf.inventory = append(sf.inventory, value)
		case "var":
			sf.vars = append(sf.vars, value)
		case "var-file":
			sf.varFiles = append(sf.varFiles, value)
		case "spec":
			specPathFlag = value
		}
	}
	if specPathFlag != "" {
		path = specPathFlag
	}
	return sf, path
}
