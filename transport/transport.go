// Package transport is what runs commands and moves files on a host: the Conn interface and the
// Command it runs. The connections are beneath it, one package per protocol: ssh (one connection
// per host, sessions and SFTP multiplexed on it; known_hosts checking in knownhosts), local (the
// controller itself, for one-shot bootstrap), persist (SSH connections kept between runs by a
// daemon). Privilege is a decorator, become: a connection itself only runs as its login user.
package transport

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// DefaultTimeout bounds a connect (the TCP connect, SSH handshake and login: OpenSSH has none,
// so this is perfprov's) and the short remote calls that clean up after one.
const DefaultTimeout = 15 * time.Second

// Conn is one open connection to one host. It is safe for concurrent use: commands run in
// parallel sessions on the same underlying connection.
type Conn interface {
	// Run runs cmd.Script with /bin/sh -c on the host and waits for it. A non-zero exit status is
	// not an error: it is reported in Result.ExitStatus. Errors are transport failures (the
	// connection broke, ctx ended, the timeout passed) and name the host.
	Run(ctx context.Context, cmd Command) (*Result, error)
	// Upload writes content to path atomically: to a temporary file in the same directory, then
	// renamed into place, with mode set before the rename.
	Upload(ctx context.Context, path string, content io.Reader, mode fs.FileMode) error
	// Download copies the file at path into w.
	Download(ctx context.Context, path string, w io.Writer) error
	// Host is the name of the host in messages (the spec's host name).
	Host() string
	// Close releases the connection; commands still running are ended.
	Close() error
}

// Command is one shell command line to run on a host.
type Command struct {
	// Script is shell text for /bin/sh -c. Every value in it went through shell.Quote.
	Script string
	// Stdin, when set, is copied to the command's standard input.
	Stdin io.Reader
	// Stdout and Stderr, when set, receive the output as it arrives (it is captured in Result too).
	Stdout, Stderr io.Writer
	// Env is exported inside the script (not through the SSH protocol, which sshd may refuse).
	// It is for build settings, never for secrets.
	Env map[string]string
	// Privileged runs the command as root: through become.Sudo when the login user is not root.
	Privileged bool
	// RunAs, when set, runs the command as that user (sudo -u); it implies privilege to switch.
	RunAs string
	// Timeout, when positive, ends the command after that long.
	Timeout time.Duration
	// Quick marks a short read-only script (facts, reads): it runs without the reaper that lets a
	// cancel end a long command at once (one process less on the host, which every run pays on
	// every host). A cancel closes its channel and it ends on its own. Over a kept connection it
	// is one request to the host's remote helper; one that did not complete is sent again.
	Quick bool
	// Changes marks a Quick command that changes the host (the engine's batched apply of
	// independent changes): it is never sent twice once it may have reached the host, and an
	// answer that did not come says it may have run in part or whole.
	Changes bool
}

// Result is what a finished command left.
type Result struct {
	ExitStatus int
	Stdout     []byte
	Stderr     []byte
}

// OK reports whether the command exited 0.
func (r *Result) OK() bool { return r != nil && r.ExitStatus == 0 }
