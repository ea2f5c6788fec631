package persist

import (
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh"
)

// Forget asks that c's connection not outlive this run: for a host this run changed, whose
// login (its groups, say) may no longer be what the next run should see. Other connections
// (direct ones, local ones) are closed as usual.
func Forget(c transport.Conn) {
	if sc := unwrapSSH(c); sc != nil && sc.Relayed() {
		_, _, _ = sc.Client().SendRequest(forgetRequest, true, nil) // answered: the daemon knows before the close
	}
}

// CheckKeptHostKeys checks, when c is a kept connection (see Dialer), the host keys the host has
// now: its sshd's public key files, as the facts read them (authorized_keys format). A kept
// connection had its key checked when it was opened; a key changed on the host since would be
// refused at a new login, so it is refused here too, the same way (see
// knownhosts.Policy.CheckPresented), and the connection let go.
func CheckKeptHostKeys(c transport.Conn, authorizedKeys []string) error {
	sc := unwrapSSH(c)
	if sc == nil || !sc.Relayed() {
		return nil
	}
	ep := sc.Endpoint()
	if err := ep.HostKeys.CheckPresented(ep.Address, ep.TCPPort(), authorizedKeys); err != nil {
		Forget(c)
		return err
	}
	return nil
}

// unwrapSSH returns the SSH connection under c's decorators, or nil.
func unwrapSSH(c transport.Conn) *ssh.Conn {
	for {
		switch v := c.(type) {
		case *ssh.Conn:
			return v
		case interface{ Unwrap() transport.Conn }:
			c = v.Unwrap()
		default:
			return nil
		}
	}
}
