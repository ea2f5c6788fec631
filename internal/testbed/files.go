package testbed

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// keyPair is one generated key: the private key as an OpenSSH PEM file and its public half.
type keyPair struct {
	private []byte        // "-----BEGIN OPENSSH PRIVATE KEY-----" file contents
	public  ssh.PublicKey // for authorized_keys and known_hosts
}

// authorizedLine is the public key as one authorized_keys / .pub line, with a comment.
func (k keyPair) authorizedLine(comment string) []byte {
	line := bytes.TrimRight(ssh.MarshalAuthorizedKey(k.public), "\n")
	if comment != "" {
		line = append(line, ' ')
		line = append(line, comment...)
	}
	return append(line, '\n')
}

func newEd25519Key(comment string) (keyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return marshalKey(priv, comment)
}

func newECDSAKey(comment string) (keyPair, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("generate ecdsa key: %w", err)
	}
	return marshalKey(priv, comment)
}

func marshalKey(priv interface{}, comment string) (keyPair, error) {
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return keyPair{}, fmt.Errorf("encode private key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return keyPair{}, fmt.Errorf("signer from key: %w", err)
	}
	return keyPair{private: pem.EncodeToMemory(block), public: signer.PublicKey()}, nil
}

// KnownHostsLine is the known_hosts line OpenSSH itself would write for key at address:port:
// a bare address for port 22, "[address]:port" for any other port.
func KnownHostsLine(address string, port int, key ssh.PublicKey) string {
	if port == 0 {
		port = 22
	}
	hostport := net.JoinHostPort(address, strconv.Itoa(port))
	return knownhosts.Line([]string{knownhosts.Normalize(hostport)}, key) + "\n"
}

// KnownHosts renders a known_hosts file with the recorded ed25519 host key of every host.
//
// Only the ed25519 key is recorded, although each host also serves an ecdsa key: that is what
// OpenSSH records by default, and it lets tests catch clients that take the server's first
// offered algorithm (ecdsa in x/crypto's order) for a changed key.
func KnownHosts(hosts []*Host) []byte {
	var b strings.Builder
	for _, h := range hosts {
		if h.hostKey == nil {
			continue
		}
		b.WriteString(KnownHostsLine(h.Address, h.Port, h.hostKey))
	}
	return []byte(b.String())
}

// InventoryHCL renders a perfprov inventory that reaches hosts as root with the lab's key and
// known_hosts file, strict host key checking. keyPath and knownHostsPath should be absolute.
func InventoryHCL(keyPath, knownHostsPath string, hosts []*Host) []byte {
	var b strings.Builder
	b.WriteString("# Written by testbed: a lab of local hosts. Lab-only credentials.\n")
	b.WriteString("connection {\n")
	fmt.Fprintf(&b, "  user              = %s\n", hclString("root"))
	fmt.Fprintf(&b, "  identity_files    = [%s]\n", hclString(keyPath))
	fmt.Fprintf(&b, "  known_hosts       = %s\n", hclString(knownHostsPath))
	fmt.Fprintf(&b, "  host_key_checking = %s\n", hclString("strict"))
	b.WriteString("}\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "\nhost %s {\n", hclString(h.Name))
		if h.Port != 0 && h.Port != 22 {
			fmt.Fprintf(&b, "  address = %s\n", hclString(h.Address))
			fmt.Fprintf(&b, "  port    = %d\n", h.Port)
		} else {
			fmt.Fprintf(&b, "  address = %s\n", hclString(h.Address)) // port 22 is the default
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// hclString quotes s as an HCL string literal that evaluates to exactly s: escapes as in JSON,
// plus the template sequences "${" and "%{" doubled so they stay literal.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeFileAtomic writes data to a temporary file next to path and renames it into place, so
// a reader sees the old or the new contents, never a half-written file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(mode)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
