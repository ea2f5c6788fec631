package persist

import (
	"errors"
	"slices"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/knownhosts"
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
// refused at a new login, so it is refused here too, the same way, and the connection let go.
// Only key types that known_hosts records for the host count, as at a login (the server is
// offered only those); a type passes when any of the host's keys of that type is the known one.
func CheckKeptHostKeys(c transport.Conn, authorizedKeys []string) error {
	sc := unwrapSSH(c)
	if sc == nil || !sc.Relayed() {
		return nil
	}
	ep := sc.Endpoint()
	strict := knownhosts.Policy{Files: ep.HostKeys.Files, Mode: knownhosts.Strict} // check, never record
	check, algos, err := strict.Checker(ep.Address, ep.TCPPort())
	if err != nil {
		return err
	}
	byType := map[string][]gossh.PublicKey{}
	for _, line := range authorizedKeys {
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		for _, a := range knownhosts.AlgorithmsFor(k.Type()) {
			if slices.Contains(algos, a) {
				byType[k.Type()] = append(byType[k.Type()], k)
				break
			}
		}
	}
	for _, keys := range byType {
		var first error
		for _, k := range keys {
			err := check("", nil, k)
			var unknown *knownhosts.UnknownHostError
			if err == nil || errors.As(err, &unknown) {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			Forget(c)
			return first
		}
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
