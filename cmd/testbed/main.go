// Command testbed brings a lab of real Debian hosts (namespaces, overlay roots, OpenSSH on
// 127.0.N.M:22) up and down on this machine, for perfprov's tests and demo. It needs root.
//
//	testbed up     [-n 3] [-dir .lab/demo] [-prefix lab] [-shared N] [-vm bookworm,...]
//	testbed down   [-dir .lab/demo]
//	testbed status [-dir .lab/demo]
//	testbed exec   [-dir .lab/demo] HOST SCRIPT
//	testbed freeze|thaw|stop-sshd|start-sshd|rekey|restore-key [-dir .lab/demo] HOST
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/perfprov/perfprov/internal/testbed"
)

const defaultDir = ".lab/demo"

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  testbed up     [-n HOSTS] [-dir DIR] [-prefix NAME] [-shared N] [-vm RELEASE,...]
                                                      start a lab (replacing one in DIR); -shared N:
                                                      N hosts per root filesystem, for scale runs
  testbed down   [-dir DIR]                             stop it and remove its files
  testbed status [-dir DIR]                             show its hosts
  testbed exec   [-dir DIR] HOST SCRIPT                 run a shell script as root inside a host
  testbed freeze|thaw [-dir DIR] HOST                   stop/continue every process of a host
  testbed stop-sshd|start-sshd [-dir DIR] HOST          stop/start a host's sshd
  testbed rekey  [-dir DIR] HOST                        new host keys (known_hosts keeps the old)
  testbed restore-key [-dir DIR] HOST                   back to the keys in known_hosts
  testbed reboot [-dir DIR] HOST                        reboot a VM host (systemctl reboot) and wait for it
DIR defaults to ` + defaultDir + `.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = cmdUp(ctx, args[1:], stdout, stderr)
	case "down":
		err = cmdDown(ctx, args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "exec":
		err = cmdExec(ctx, args[1:], stdout, stderr)
	case "freeze", "thaw", "stop-sshd", "start-sshd", "rekey", "restore-key", "reboot":
		err = cmdBreak(ctx, args[0], args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = &usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "testbed: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "testbed: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", defaultDir, "the lab's directory")
	return fs, dir
}

func parse(fs *flag.FlagSet, args []string, positional int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() != positional {
		return &usageError{fmt.Sprintf("%s: want %d arguments after the flags, got %d", fs.Name(), positional, fs.NArg())}
	}
	return nil
}

func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("up", stderr)
	n := fs.Int("n", 3, "number of hosts")
	prefix := fs.String("prefix", "lab", "host name prefix")
	shared := fs.Int("shared", 0, "shared mode, for scale runs: N hosts (2 or more) share one root filesystem and its sshds (up to 2400 hosts)")
	vms := fs.String("vm", "", "VM hosts to start too, by Debian release, comma-separated: "+strings.Join(testbed.VMReleases, ", ")+" (qemu with the release's own kernel; -n 0 for VM hosts only)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var releases []string
	if *vms != "" {
		releases = strings.Split(*vms, ",")
	}
	if *shared == 1 || *shared < 0 {
		return &usageError{fmt.Sprintf("up: -shared %d: give 2 or more hosts per root (or leave it out for one root per host)", *shared)}
	}
	start := time.Now()
	lab, err := testbed.Up(ctx, testbed.Options{Hosts: *n, Dir: *dir, Prefix: *prefix, Shared: *shared, VMs: releases,
		Log: func(f string, a ...any) { fmt.Fprintf(stderr, "testbed: "+f+"\n", a...) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lab up in %s: %d hosts on %s%s (%.1fs)\n", lab.Dir, len(lab.Hosts), nets(lab), roots(lab), time.Since(start).Seconds())
	printLab(stdout, lab)
	return nil
}

// nets names the lab's loopback networks.
func nets(lab *testbed.Lab) string {
	var s []string
	for _, n := range lab.Nets {
		s = append(s, fmt.Sprintf("127.0.%d.0/24", n))
	}
	return strings.Join(s, ", ")
}

// roots says how many root filesystems a shared-mode lab's hosts share ("" in the default mode).
func roots(lab *testbed.Lab) string {
	r := lab.Roots()
	if len(r) == len(lab.Hosts) {
		return ""
	}
	return fmt.Sprintf(", sharing %d root filesystems (shared mode)", len(r))
}

func printLab(w io.Writer, lab *testbed.Lab) {
	for _, h := range lab.Hosts {
		fmt.Fprintf(w, "  %-10s %s:%d\n", h.Name, h.Address, h.Port)
	}
	fmt.Fprintf(w, "inventory:   %s\n", lab.InventoryPath)
	fmt.Fprintf(w, "key:         %s  (users root, %s, %s)\n", lab.KeyPath, testbed.NopasswdUser, testbed.PasswdUser)
	fmt.Fprintf(w, "known_hosts: %s\n", lab.KnownHostsPath)
	if len(lab.Hosts) > 0 {
		fmt.Fprintf(w, "try:         ssh -i %s -o UserKnownHostsFile=%s root@%s\n", lab.KeyPath, lab.KnownHostsPath, lab.Hosts[0].Address)
	}
}

func cmdDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("down", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	start := time.Now()
	if err := testbed.Down(ctx, *dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lab down in %s (%.1fs)\n", *dir, time.Since(start).Seconds())
	return nil
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("status", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	lab, err := testbed.Open(*dir)
	if lab == nil {
		return err
	}
	st := testbed.Status(lab)
	fmt.Fprintf(stdout, "lab in %s: %d hosts on %s%s\n", lab.Dir, len(lab.Hosts), nets(lab), roots(lab))
	for _, h := range lab.Hosts {
		fmt.Fprintf(stdout, "  %-10s %s:%d  %s\n", h.Name, h.Address, h.Port, st[h.Name])
	}
	fmt.Fprintf(stdout, "inventory:   %s\n", lab.InventoryPath)
	return err // a host that is not running makes status fail
}

func cmdExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("exec", stderr)
	if err := parse(fs, args, 2); err != nil {
		return err
	}
	lab, err := testbed.Open(*dir)
	if err != nil {
		return err
	}
	out, err := lab.Exec(ctx, fs.Arg(0), fs.Arg(1))
	stdout.Write(out)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), errors.Unwrap(err))
	}
	return nil
}

// cmdBreak runs one of the lab's means to break a host for tests.
func cmdBreak(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags(name, stderr)
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	lab, err := testbed.Open(*dir)
	if lab == nil {
		return err
	}
	ops := map[string]func(context.Context, string) error{
		"freeze": lab.Freeze, "thaw": lab.Thaw, "stop-sshd": lab.StopSSHD,
		"start-sshd": lab.StartSSHD, "rekey": lab.ChangeHostKey, "restore-key": lab.RestoreHostKey,
		"reboot": func(ctx context.Context, host string) error {
			took, err := lab.Reboot(ctx, host)
			if err == nil {
				fmt.Fprintf(stdout, "%s: back after %s\n", host, took.Round(100*time.Millisecond))
			}
			return err
		},
	}
	host := fs.Arg(0)
	if err := ops[name](ctx, host); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s done\n", host, name)
	return nil
}
