// Package spec is the typed model of a perfprov spec: the hosts it names, how to reach them, and
// what each host should look like once evaluated. The loader (package hcl) produces it; provision
// reads it. It holds data and the rules for the names in it, and nothing that parses HCL.
package spec

import (
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Host is one target host, fully resolved except for values that read its facts.
type Host struct {
	Name    string
	Address string // address or DNS name to connect to ("" for type = "local")
	Port    int
	Groups  []string  // names of the groups it belongs to, sorted
	Vars    cty.Value // object: group vars merged in group order, then the host's own vars
	Conn    Connection
	Range   hcl2.Range // the host block's header, for diagnostics
}

// Group is a named set of hosts.
type Group struct {
	Name  string
	Hosts []string
	Vars  cty.Value
	Range hcl2.Range
}

// Connection holds how to reach a host: top-level defaults, overridden by group, then host.
type Connection struct {
	Type              ConnType
	User              string          // default: ~/.ssh/config, then the controller's user
	Port              int             // 0: ~/.ssh/config, then 22
	IdentityFiles     []string        // paths on the controller
	PasswordEnv       string          // name of an environment variable that holds the login password
	KnownHosts        string          // known_hosts file; default ~/.ssh/known_hosts
	HostKeyChecking   HostKeyChecking // "": ~/.ssh/config StrictHostKeyChecking, else strict
	Jump              []string        // ProxyJump hops, "[user@]host[:port]" or spec host names, in order
	ProxyCommand      string          // OpenSSH's ProxyCommand, run by /bin/sh here ("none": none); excludes Jump
	Become            Become
	BecomePasswordEnv string // name of an environment variable that holds the sudo password
	Timeout           time.Duration
	Keepalive         time.Duration
	// Persist is how long the connection stays open after a run for the next one (OpenSSH's
	// ControlPersist): 0 for the default (60s), < 0 for none ("0" in the spec).
	Persist time.Duration
}

// Rollout says how many hosts change at once.
type Rollout struct {
	Parallel          int     // hosts worked on at once (default 50)
	BatchSize         int     // hosts per rolling batch; 0 with BatchPercent 0: all at once
	BatchPercent      float64 // batch as a percentage of the targeted hosts
	MaxFailPercentage float64 // stop the rollout when more than this percent of hosts failed (default 100)
}

// HostConfig is the spec evaluated for one host: what that host should look like.
type HostConfig struct {
	Host *Host
	// Resources in apply order: every resource comes after those it depends on.
	Resources  []*Resource
	Benchmarks []*Benchmark
}

// Resource is one resource instance, evaluated for one host.
type Resource struct {
	// Addr is the resource's address: [module.NAME.]TYPE.NAME[KEY], e.g.
	// module.perf_users.capabilities.perf or file.motd["eu"] or command.warm[0].
	Addr string
	Type string
	Name string
	// Attrs holds every attribute of the type's schema: unset optional ones are null, values that
	// read unknown facts are unknown. Meta-arguments (hosts, depends_on, for_each, count) are not here.
	Attrs map[string]cty.Value
	// Sensitive names attributes whose value is sensitive: never print them, redact them in logs.
	Sensitive map[string]bool
	// DependsOn lists the addresses this resource depends on directly (references and depends_on).
	DependsOn []string
	// Dir is the directory of the file that declared the resource: relative local paths
	// (file sources, patch files, source tarballs) are resolved against it.
	Dir   string
	Range hcl2.Range
	// Module is the address of the module that declared the resource ("" for the root spec).
	Module string
}

// Benchmark is one benchmark block, evaluated for one host (see the bench package).
type Benchmark struct {
	Name                    string
	RunAs                   string
	Perf                    string // path of the perf binary to run
	Events                  []string
	RequireHardwareCounters bool
	Tolerance               float64 // relative, 0.01 for 1%
	Repeat                  int
	Range                   hcl2.Range
}

// ConnType is how a host is reached.
type ConnType string

const (
	ConnSSH   ConnType = "ssh" // the default
	ConnLocal ConnType = "local"
)

// ConnTypes are the values the spec accepts, in the order diagnostics list them.
var ConnTypes = []string{string(ConnSSH), string(ConnLocal)}

// HostKeyChecking is how an unknown host key is treated (OpenSSH's StrictHostKeyChecking).
type HostKeyChecking string

const (
	// HostKeyDefault leaves the choice to ~/.ssh/config, and else to strict.
	HostKeyDefault   HostKeyChecking = ""
	HostKeyStrict    HostKeyChecking = "strict"
	HostKeyAcceptNew HostKeyChecking = "accept-new"
)

// HostKeyCheckings are the values the spec accepts.
var HostKeyCheckings = []string{string(HostKeyStrict), string(HostKeyAcceptNew)}

// Become is how commands gain root on a host.
type Become string

const (
	// BecomeDefault is sudo when the login user is not root.
	BecomeDefault Become = ""
	BecomeSudo    Become = "sudo"
	BecomeNone    Become = "none"
)

// Becomes are the values the spec accepts.
var Becomes = []string{string(BecomeSudo), string(BecomeNone)}

// DefaultBenchmarkEvents are counted when a benchmark block does not list events.
var DefaultBenchmarkEvents = []string{"cycles", "instructions", "branches", "branch-misses", "task-clock", "context-switches"}
