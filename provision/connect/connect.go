// Package connect opens a transport.Conn for a spec host: it merges the spec's connection settings
// with ~/.ssh/config (spec values win), picks SSH or local, and wraps the connection with sudo when
// the login user is not root and become is not "none".
package connect

import (
	"context"

	"github.com/perfprov/perfprov/hcl"
	"github.com/perfprov/perfprov/provision/transport"
)

// Options are the controller-side inputs of a connection that are not in the spec.
type Options struct {
	// Getenv reads the environment variables the spec names (password_env, become_password_env).
	Getenv func(string) string
	// SSHConfigPath overrides ~/.ssh/config ("" for the default; "none" to read none).
	SSHConfigPath string
}

// Open connects to h. Errors name the host and the cause in one line.
func Open(ctx context.Context, h *hcl.Host, opts Options) (transport.Conn, error) {
	panic("not implemented yet")
}
