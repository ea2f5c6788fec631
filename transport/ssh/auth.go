package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Auth says how to prove who we are. Secrets arrive here already read (the password from the
// environment variable the spec names); they are never written to logs or errors.
type Auth struct {
	// AgentSocket is the ssh-agent socket ($SSH_AUTH_SOCK); "" uses no agent.
	AgentSocket string
	// IdentityFiles are private keys named by the spec or ssh_config. One that cannot be read, or
	// that is encrypted with no way to unlock it, is an error before any connection is made.
	IdentityFiles []string
	// DefaultIdentityFiles are tried when they exist (~/.ssh/id_ed25519, id_ecdsa, id_rsa);
	// encrypted ones are skipped and named in the login failure.
	DefaultIdentityFiles []string
	// Passphrase, when set, unlocks encrypted identity files.
	Passphrase func(file string) ([]byte, error)
	// Password is the login password ("" for none); offered to password and keyboard-interactive.
	Password string
}

// authAttempt collects the auth methods the server let us try, for the failure message.
type authAttempt struct {
	mu    sync.Mutex
	tried []string
	seen  map[string]bool
}

func (a *authAttempt) note(method string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	if !a.seen[method] {
		a.seen[method] = true
		a.tried = append(a.tried, method)
	}
}

func (a *authAttempt) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.tried) == 0 {
		return "no method the server accepts"
	}
	return strings.Join(a.tried, ", ")
}

// loadedAuth is Auth turned into gossh.AuthMethods for one connection attempt.
type loadedAuth struct {
	methods []gossh.AuthMethod
	attempt *authAttempt
	closers []func()
}

func (l *loadedAuth) close() {
	for _, c := range l.closers {
		c()
	}
}

// EncryptedKeyError is an identity file that needs a passphrase nobody can give.
type EncryptedKeyError struct{ File string }

func (e *EncryptedKeyError) Error() string {
	return fmt.Sprintf("identity file %s is encrypted and there is no passphrase source: load it into ssh-agent (ssh-add %s) or use an unencrypted key", e.File, e.File)
}

// load reads the keys and opens the agent. Keys are read before dialing so that a bad key file is
// reported as such, not as a failed login.
func (a Auth) load() (*loadedAuth, error) {
	l := &loadedAuth{attempt: &authAttempt{}}
	var agentSigners []gossh.Signer
	var agentKeys []gossh.PublicKey
	agentLabel := ""
	if a.AgentSocket != "" {
		if conn, err := net.Dial("unix", a.AgentSocket); err == nil {
			ag := agent.NewClient(conn)
			l.closers = append(l.closers, func() { conn.Close() })
			if s, err := ag.Signers(); err == nil && len(s) > 0 {
				agentSigners = s
				for _, k := range s {
					agentKeys = append(agentKeys, k.PublicKey())
				}
				agentLabel = fmt.Sprintf("agent: %d keys", len(s))
			}
		}
		// An agent that is gone is not an error: OpenSSH goes on with the files.
	}

	var fileSigners []gossh.Signer
	var fileLabels []string
	var skipped []string
	for _, f := range a.IdentityFiles {
		s, err := a.loadKey(f, agentKeys)
		if err != nil {
			l.close()
			return nil, err
		}
		if s != nil {
			fileSigners = append(fileSigners, s)
			fileLabels = append(fileLabels, filepath.Base(f))
		}
	}
	for _, f := range a.DefaultIdentityFiles {
		s, err := a.loadKey(f, agentKeys)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			var enc *EncryptedKeyError
			if errors.As(err, &enc) {
				skipped = append(skipped, filepath.Base(f)+" skipped: encrypted")
			} else {
				skipped = append(skipped, filepath.Base(f)+" skipped: unreadable")
			}
		case s != nil:
			fileSigners = append(fileSigners, s)
			fileLabels = append(fileLabels, filepath.Base(f))
		}
	}

	// Agent keys first, then files, as OpenSSH orders them.
	signers := append(append([]gossh.Signer{}, agentSigners...), fileSigners...)
	labels := fileLabels
	if agentLabel != "" {
		labels = append([]string{agentLabel}, labels...)
	}
	labels = append(labels, skipped...)
	if len(signers) > 0 || len(skipped) > 0 {
		label := "publickey (" + strings.Join(labels, ", ") + ")"
		l.methods = append(l.methods, gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
			l.attempt.note(label)
			return signers, nil
		}))
	}
	if a.Password != "" {
		pw := a.Password
		l.methods = append(l.methods,
			gossh.PasswordCallback(func() (string, error) {
				l.attempt.note("password")
				return pw, nil
			}),
			gossh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				l.attempt.note("keyboard-interactive")
				answers := make([]string, len(questions))
				for i, q := range questions {
					// Answer only what looks like a password prompt; never echo it.
					if !echos[i] && strings.Contains(strings.ToLower(q), "password") {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	return l, nil
}

// loadKey reads one private key. It returns (nil, nil) for an encrypted key whose public half the
// agent holds: the agent signs for it.
func (a Auth) loadKey(file string, agentKeys []gossh.PublicKey) (gossh.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	s, err := gossh.ParsePrivateKey(data)
	if err == nil {
		return s, nil
	}
	var missing *gossh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("identity file %s: %w", file, err)
	}
	pub := missing.PublicKey
	if pub == nil {
		if b, err := os.ReadFile(file + ".pub"); err == nil {
			pub, _, _, _, _ = gossh.ParseAuthorizedKey(b)
		}
	}
	if pub != nil {
		for _, k := range agentKeys {
			if bytes.Equal(k.Marshal(), pub.Marshal()) {
				return nil, nil
			}
		}
	}
	if a.Passphrase == nil {
		return nil, &EncryptedKeyError{File: file}
	}
	pass, err := a.Passphrase(file)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: passphrase: %w", file, err)
	}
	s, err = gossh.ParsePrivateKeyWithPassphrase(data, pass)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: wrong passphrase or damaged key: %w", file, err)
	}
	return s, nil
}
