package main

import (
	"flag"
	"fmt"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/engine"
	"github.com/perfprov/perfprov/provision/resource"
	"github.com/perfprov/perfprov/spec"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// specFlags are the flags of every command that reads a spec.
type specFlags struct {
	vars      stringList
	varFiles  stringList
	inventory stringList
	limit     string // comma-separated host and group names
	shard     shardFlag
	json      bool
	// askBecomePass: ask on the terminal for the sudo password before connecting.
	askBecomePass bool
}

// shardFlag is -shard K/N, checked as it is parsed: a bad value is a usage error (exit 2) like
// any other bad flag value.
type shardFlag struct{ spec.Shard }

func (f *shardFlag) String() string { return f.Shard.String() }
func (f *shardFlag) Set(v string) error {
	s, err := spec.ParseShard(v)
	if err != nil {
		return err
	}
	f.Shard = s
	return nil
}

func (f *specFlags) register(fs *flag.FlagSet, withLimit bool) {
	fs.Var(&f.vars, "var", "set a variable: NAME=VALUE (repeatable)")
	fs.Var(&f.varFiles, "var-file", "read variables from an HCL file (repeatable)")
	fs.Var(&f.inventory, "inventory", "use the host, group and connection blocks of this file instead of the spec's own (repeatable)")
	if withLimit {
		fs.StringVar(&f.limit, "limit", "", "only these hosts or groups: `NAMES`, comma-separated; @FILE stands for the names in FILE, one a line (such as @.perfprov/failed)")
		fs.Var(&f.shard, "shard", "only the hosts of shard `K/N`: those whose name hashes to K modulo N (K from 0; with -limit, both apply)")
	}
}

// registerBecome adds -ask-become-pass (and Ansible's -K) to the commands that run commands
// through sudo: plan, apply and bench (facts reads as the login user).
func (f *specFlags) registerBecome(fs *flag.FlagSet) {
	fs.BoolVar(&f.askBecomePass, "ask-become-pass", false, "ask on the terminal, without echo, for the sudo password of the hosts whose connection names no become_password_env")
	fs.BoolVar(&f.askBecomePass, "K", false, "short for -ask-become-pass (as in Ansible)")
}

// askBecome asks for the sudo password when -ask-become-pass was given, once, before the command
// connects: after the command line and the spec were checked, so that a mistake there costs no
// typing.
func (f *specFlags) askBecome(env *cliEnv) error {
	if !f.askBecomePass || env.becomePassword != "" {
		return nil
	}
	pw, err := askBecomePassword(env)
	if err != nil {
		return err
	}
	env.becomePassword = pw
	return nil
}

// targets is the hosts the command works on: -limit and -shard applied together (hcl's Select).
// none reports a shard that holds none of them: that is said on stderr and is not an error (a
// fleet may have fewer hosts than shards for a while); the caller prints its empty output and
// exits 0. -limit's errors are returned as they are, for the caller to map.
func (f *specFlags) targets(env *cliEnv, sp *hcl.Spec, command string) (hosts []*spec.Host, none bool, err error) {
	hosts, err = sp.Select(f.limitNames(), f.shard.Shard)
	if err != nil || len(hosts) > 0 || !f.shard.IsSet() {
		return hosts, false, retryHint(env, err)
	}
	of := "none of the spec's " + countHosts(len(sp.Hosts))
	if limited, _ := sp.Targets(f.limitNames()); f.limit != "" {
		of = "none of the " + countHosts(len(limited)) + " -limit selects"
	}
	fmt.Fprintf(env.stderr, "perfprov %s: shard %s holds %s; nothing to do\n", command, f.shard.Shard, of)
	return nil, true, nil
}

// limitNames splits -limit into names.
func (f *specFlags) limitNames() []string {
	var out []string
	for _, n := range strings.Split(f.limit, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// specPath returns the PATH argument (default ".") or a usage error for extra arguments.
func specPath(fs *flag.FlagSet) (string, error) {
	switch fs.NArg() {
	case 0:
		return ".", nil
	case 1:
		return fs.Arg(0), nil
	default:
		return "", &usageError{msg: "too many arguments: " + strings.Join(fs.Args()[1:], " ")}
	}
}

// loadSpec loads the spec at path. Diagnostics are printed to stderr (as JSON when asJSON);
// a spec with errors returns exitError 1 after printing them. Warnings are printed and loading
// goes on.
func loadSpec(env *cliEnv, path string, f *specFlags) (*hcl.Spec, error) {
	sp, diags := f.load(env, path)
	if len(diags) > 0 {
		hcl.WriteDiagnostics(env.stderr, diags, sp.Files(), useColor(env))
	}
	if diags.HasErrors() {
		return nil, &exitError{code: exitFailure}
	}
	return sp, nil
}

// load loads the spec at path with the catalogue of resource types and the flags' inputs.
func (f *specFlags) load(env *cliEnv, path string) (*hcl.Spec, hcl2.Diagnostics) {
	return hcl.Load(path, hcl.LoadOptions{Resources: resource.Schemas(), Vars: f.vars, VarFiles: f.varFiles, Inventory: f.inventory, Getenv: env.getenv})
}

// useColor reports whether output to stderr may use ANSI colours.
func useColor(env *cliEnv) bool { return colorAllowed(env) && isTerminal(env.stderr) }

// colorAllowed is the one place colour is decided, but for the terminal: never with -no-color,
// NO_COLOR (any value but empty, as no-color.org says) or TERM=dumb.
func colorAllowed(env *cliEnv) bool {
	return !env.noColor && env.getenv("NO_COLOR") == "" && env.getenv("TERM") != "dumb"
}

// defaultParallel is how many hosts are worked on at once when neither -parallel nor
// rollout.parallel says: the engine's default.
const defaultParallel = engine.DefaultParallel

// checkParallel rejects a -parallel given below 1. Left out, the flag is 0: the spec's
// rollout.parallel decides, else defaultParallel (hostsAtOnce).
func checkParallel(fs *flag.FlagSet, n int) error {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "parallel" })
	if set && n < 1 {
		return &usageError{msg: "-parallel must be at least 1"}
	}
	return nil
}

// hostsAtOnce is the parallelism of a command: -parallel, else rollout.parallel, else
// defaultParallel.
func hostsAtOnce(parallel int, sp *hcl.Spec) int {
	if parallel > 0 {
		return parallel
	}
	if sp.Rollout.Parallel > 0 {
		return sp.Rollout.Parallel
	}
	return defaultParallel
}
