package connect

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport/ssh"
)

// ProxyCommand: the command that reaches the first hop (ssh.Config.ProxyCommand), from the
// spec's proxy_command or ssh_config's ProxyCommand, with OpenSSH's tokens expanded.

func (r *resolver) endpointAndProxy(o *hostOptions, conn spec.Connection, hopKeys bool) (ssh.Endpoint, string, error) {
	ep, err := r.endpoint(o, conn, hopKeys)
	if err != nil {
		return ep, "", err
	}
	proxy, err := r.proxyCommand(o, ep)
	return ep, proxy, err
}

// proxyCommand is o's ProxyCommand with its tokens expanded for ep ("" for none). The values are
// put in as they are, as OpenSSH does, so each must be a word the shell reads as itself (one
// internal/shell leaves unquoted), and not an option (-...): a host name from ssh_config such as
// "x;reboot" is refused, not run.
func (r *resolver) proxyCommand(o *hostOptions, ep ssh.Endpoint) (string, error) {
	pc := o.get("proxycommand")
	if pc == "" || strings.EqualFold(pc, "none") {
		return "", nil
	}
	values := map[byte]string{'h': ep.Address, 'p': strconv.Itoa(ep.Port), 'r': ep.User, 'n': o.alias}
	cmd, err := spec.ExpandProxyCommand(pc, func(tok byte) (string, error) {
		v := values[tok]
		if v == "" || shell.Quote(v) != v || strings.HasPrefix(v, "-") {
			return "", fmt.Errorf("%%%c would put %q in the command, which is not a plain word to the shell (letters, digits and @%%+=:,./_-, not starting with -)", tok, v)
		}
		return v, nil
	})
	if err != nil {
		return "", fmt.Errorf("proxy command %q: %w", pc, err)
	}
	return cmd, nil
}

// proxyStderr passes a proxy command's stderr lines to Options.Stderr, each as one write
// prefixed with the host.
func (r *resolver) proxyStderr() func(line string) {
	w := r.opts.Stderr
	if w == nil {
		w = os.Stderr
	}
	name := r.h.Name
	return func(line string) { _, _ = w.Write([]byte(name + ": proxy command: " + line + "\n")) }
}
