// Package knownhosts checks SSH host keys against known_hosts files with OpenSSH's semantics, and
// records new ones under accept-new.
package knownhosts

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// Host key checking with OpenSSH's semantics.
//
// golang.org/x/crypto/ssh/knownhosts checks keys, but it cannot say which key types a file holds
// for a host (needed to choose HostKeyAlgorithms, or an ed25519 entry is reported as a mismatch
// when the server prefers ecdsa), it does not append, and its errors carry no fingerprints. So the
// file is parsed here with ssh.ParseKnownHosts and matched with OpenSSH's rules: patterns with
// * and ? and !negation, hashed |1|salt|hash names, [host]:port for ports other than 22,
// @cert-authority and @revoked markers.

// Host key checking modes.
const (
	// Strict refuses hosts whose key is not in known_hosts (OpenSSH "yes", the default).
	Strict = "strict"
	// AcceptNew records the key of a host that has no entry yet, and refuses changed keys
	// (OpenSSH "accept-new").
	AcceptNew = "accept-new"
)

// Policy says how a host's key is checked.
type Policy struct {
	// Files are known_hosts files, read in order. New hosts are appended to the first one.
	Files []string
	// Mode is Strict ("" means strict) or AcceptNew.
	Mode string
	// HashNames writes the names of new entries hashed, |1|salt|hash, as OpenSSH does with
	// HashKnownHosts yes: the file then does not list the hosts one connects to.
	HashNames bool
}

// knownEntry is one line of a known_hosts file.
type knownEntry struct {
	marker   string // "", "cert-authority" or "revoked"
	patterns []string
	key      ssh.PublicKey
	file     string
	line     int
}

// knownHosts is the parsed content of the known_hosts files of one policy.
type knownHosts struct {
	entries []knownEntry
}

// loadKnownHosts reads files; a missing file is an empty one (as for OpenSSH). Lines that do not
// parse are skipped, as OpenSSH does, so one bad line does not lock a user out of every host.
func loadKnownHosts(files []string) (*knownHosts, error) {
	kh := &knownHosts{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read known_hosts: %w", err)
		}
		kh.parse(data, f)
	}
	return kh, nil
}

func (kh *knownHosts) parse(data []byte, file string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
		if err != nil {
			continue
		}
		kh.entries = append(kh.entries, knownEntry{marker: marker, patterns: hosts, key: key, file: file, line: n})
	}
}

// Name is how known_hosts names host:port: the bare host for port 22, [host]:port otherwise.
func Name(host string, port int) string {
	if port == 0 || port == 22 {
		return host
	}
	return "[" + host + "]:" + strconv.Itoa(port)
}

// matchHost reports whether the pattern list of a line matches name, with OpenSSH's rules: any
// negated pattern that matches excludes the host, otherwise one positive match is needed.
func matchHost(patterns []string, name string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		var ok bool
		if strings.HasPrefix(p, "|1|") {
			ok = matchHashed(p, name)
		} else {
			ok = wildcardMatch(strings.ToLower(p), strings.ToLower(name))
		}
		if ok && neg {
			return false
		}
		if ok {
			matched = true
		}
	}
	return matched
}

// matchHashed matches a HashKnownHosts entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name)), of
// the name in lower case as OpenSSH hashes it.
func matchHashed(entry, name string) bool {
	parts := strings.Split(entry, "|")
	if len(parts) != 4 || parts[1] != "1" {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	return hmac.Equal(hostHash(salt, name), want)
}

func hostHash(salt []byte, name string) []byte {
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(strings.ToLower(name)))
	return mac.Sum(nil)
}

// hashHostName is name as HashKnownHosts writes it: |1|, a random 20-byte salt and the
// HMAC-SHA1 of the name keyed with it, both in base64.
func hashHostName(name string) (string, error) {
	salt := make([]byte, sha1.Size)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash host name: %w", err)
	}
	return "|1|" + base64.StdEncoding.EncodeToString(salt) + "|" + base64.StdEncoding.EncodeToString(hostHash(salt, name)), nil
}

// wildcardMatch matches OpenSSH's * and ? wildcards (path.Match has also [classes], which
// OpenSSH does not, and [ begins every [host]:port name: escape it).
func wildcardMatch(pattern, name string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == name
	}
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	ok, err := path.Match(b.String(), name)
	return err == nil && ok
}

// forHost returns the entries that name host:port, by kind.
func (kh *knownHosts) forHost(host string, port int) (keys, authorities []knownEntry) {
	name := Name(host, port)
	for _, e := range kh.entries {
		if e.marker == "revoked" || !matchHost(e.patterns, name) {
			continue
		}
		if e.marker == "cert-authority" {
			authorities = append(authorities, e)
		} else {
			keys = append(keys, e)
		}
	}
	return keys, authorities
}

// revoked returns the @revoked entry for key, if any. Revocation is global, whatever the host
// patterns of the line: a revoked key must never be accepted.
func (kh *knownHosts) revoked(key ssh.PublicKey) *knownEntry {
	for i, e := range kh.entries {
		if e.marker == "revoked" && keysEqual(e.key, key) {
			return &kh.entries[i]
		}
	}
	return nil
}

func keysEqual(a, b ssh.PublicKey) bool {
	return a.Type() == b.Type() && bytes.Equal(a.Marshal(), b.Marshal())
}

// algorithmsFor maps a key type in known_hosts to the host key algorithms that prove it.
func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	default:
		return []string{keyType}
	}
}

// certAlgorithms are the host certificate algorithms, offered when a @cert-authority line matches
// (a new slice each time: callers keep it).
func certAlgorithms() []string {
	return []string{
		ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
		ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
	}
}

// defaultAlgorithms is the order for a host with no entry (accept-new records what it gets: prefer
// ed25519, as OpenSSH does); a new slice each time, as the caller keeps it.
func defaultAlgorithms() []string {
	return []string{
		ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
}

// algorithms returns the algorithms to offer for host:port: exactly the key types the files
// hold for it (certificates first when a CA is trusted for it), or nil when there is no entry.
func (kh *knownHosts) algorithms(host string, port int) []string {
	keys, cas := kh.forHost(host, port)
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	if len(cas) > 0 {
		add(certAlgorithms()...)
	}
	for _, e := range keys {
		add(algorithmsFor(e.key.Type())...)
	}
	if len(cas) > 0 && len(keys) == 0 {
		// A host trusted through its CA may still present a plain key; that key is then unknown.
		add(defaultAlgorithms()...)
	}
	return algos
}

// KeyChangedError is a host whose key differs from the one recorded: possibly an attack, never
// accepted whatever the mode.
type KeyChangedError struct {
	Host    string // name:port as known_hosts names it
	KeyType string
	Got     string // SHA256 fingerprint the server presented
	Known   []KnownKey
}

// KnownKey is a key recorded for a host, and where.
type KnownKey struct {
	Fingerprint string
	File        string
	Line        int
}

func (e *KeyChangedError) Error() string {
	var old []string
	for _, k := range e.Known {
		old = append(old, fmt.Sprintf("%s at %s:%d", k.Fingerprint, k.File, k.Line))
	}
	return fmt.Sprintf("host key for %s has CHANGED (possible man-in-the-middle): server presented %s %s, known_hosts has %s; if the change is expected, remove the old entry (ssh-keygen -R %s)",
		e.Host, e.KeyType, e.Got, strings.Join(old, ", "), shellWord(e.Host))
}

// UnknownHostError is a host with no known_hosts entry under strict checking.
type UnknownHostError struct {
	Host        string
	KeyType     string
	Fingerprint string
	Files       []string
}

func (e *UnknownHostError) Error() string {
	return fmt.Sprintf("host key for %s is not in known_hosts (%s): server presented %s %s; verify it and add it, or set host_key_checking = \"accept-new\"",
		e.Host, strings.Join(e.Files, ", "), e.KeyType, e.Fingerprint)
}

// KeyRevokedError is a host key (or the CA of its certificate) marked @revoked.
type KeyRevokedError struct {
	Host        string
	Fingerprint string
	File        string
	Line        int
}

func (e *KeyRevokedError) Error() string {
	return fmt.Sprintf("host key for %s (%s) is REVOKED at %s:%d", e.Host, e.Fingerprint, e.File, e.Line)
}

// shellWord keeps error hints copy-pastable without importing the shell package into messages.
func shellWord(s string) string {
	if strings.ContainsAny(s, "[]:") {
		return "'" + s + "'"
	}
	return s
}

// Checker returns the HostKeyCallback for host:port under policy, and the algorithms to offer.
// A callback, not knownhosts.New, so that each hop of a jump chain checks its own name.
func (p Policy) Checker(host string, port int) (ssh.HostKeyCallback, []string, error) {
	switch p.Mode {
	case "", Strict, AcceptNew:
	default:
		return nil, nil, fmt.Errorf("host key checking %q: want %q or %q", p.Mode, Strict, AcceptNew)
	}
	kh, err := loadKnownHosts(p.Files)
	if err != nil {
		return nil, nil, err
	}
	name := Name(host, port)
	keys, cas := kh.forHost(host, port)
	algos := kh.algorithms(host, port)
	if algos == nil {
		algos = defaultAlgorithms()
	}

	plain := func(_ string, _ net.Addr, key ssh.PublicKey) error {
		if r := kh.revoked(key); r != nil {
			return &KeyRevokedError{Host: name, Fingerprint: ssh.FingerprintSHA256(key), File: r.file, Line: r.line}
		}
		var sameType []KnownKey
		for _, e := range keys {
			if keysEqual(e.key, key) {
				return nil
			}
			if e.key.Type() == key.Type() {
				sameType = append(sameType, KnownKey{ssh.FingerprintSHA256(e.key), e.file, e.line})
			}
		}
		if len(keys) > 0 {
			// The host is known: any other key is a change. (HostKeyAlgorithms offered only the
			// known types, so a key of another type means the server lost them.)
			known := sameType
			if len(known) == 0 {
				for _, e := range keys {
					known = append(known, KnownKey{ssh.FingerprintSHA256(e.key), e.file, e.line})
				}
			}
			return &KeyChangedError{Host: name, KeyType: key.Type(), Got: ssh.FingerprintSHA256(key), Known: known}
		}
		if p.Mode == AcceptNew && len(p.Files) > 0 {
			return appendKnownHost(p.Files[0], name, key, p.HashNames)
		}
		return &UnknownHostError{Host: name, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), Files: p.Files}
	}

	cc := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			if kh.revoked(auth) != nil {
				return false
			}
			for _, e := range cas {
				if keysEqual(e.key, auth) {
					return true
				}
			}
			return false
		},
		IsRevoked: func(c *ssh.Certificate) bool {
			return kh.revoked(c.Key) != nil || kh.revoked(c.SignatureKey) != nil
		},
		HostKeyFallback: plain,
	}
	callback := func(_ string, remote net.Addr, key ssh.PublicKey) error {
		cert, isCert := key.(*ssh.Certificate)
		if !isCert {
			return plain("", remote, key)
		}
		if r := kh.revoked(cert.SignatureKey); r != nil {
			return &KeyRevokedError{Host: name, Fingerprint: "CA " + ssh.FingerprintSHA256(cert.SignatureKey), File: r.file, Line: r.line}
		}
		if r := kh.revoked(cert.Key); r != nil {
			return &KeyRevokedError{Host: name, Fingerprint: ssh.FingerprintSHA256(cert.Key), File: r.file, Line: r.line}
		}
		// CertChecker checks principals against the host part of its address argument.
		if err := cc.CheckHostKey(net.JoinHostPort(host, strconv.Itoa(port)), remote, key); err != nil {
			return fmt.Errorf("host certificate of %s (signed by %s): %w", name, ssh.FingerprintSHA256(cert.SignatureKey), err)
		}
		return nil
	}
	return callback, algos, nil
}

// CheckPresented checks the host keys host:port has now, authorized_keys lines (as the facts
// read its sshd's public key files), as a login would check the one it is shown, strictly (never
// recording): for a connection whose login was checked earlier. Only key types that the files
// record for the host count, as at a login (the server is offered only those); a type passes
// when any of the host's keys of that type is the known one.
func (p Policy) CheckPresented(host string, port int, authorizedKeys []string) error {
	strict := Policy{Files: p.Files, Mode: Strict}
	check, algos, err := strict.Checker(host, port)
	if err != nil {
		return err
	}
	byType := map[string][]ssh.PublicKey{}
	for _, line := range authorizedKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			continue
		}
		for _, a := range algorithmsFor(k.Type()) {
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
			var unknown *UnknownHostError
			if err == nil || errors.As(err, &unknown) {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// appendKnownHost records name's key at the end of file, under an exclusive lock so that hosts
// connected in parallel do not interleave their lines. The line is checked again under the lock: a
// parallel connection may have written the same host meanwhile. With hash, the name is written
// hashed (HashKnownHosts).
func appendKnownHost(file, name string, key ssh.PublicKey, hash bool) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key of %s: %w", name, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", name, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("record host key of %s: lock %s: %w", name, file, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)

	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", name, err)
	}
	kh := &knownHosts{}
	kh.parse(data, file)
	for _, e := range kh.entries {
		if e.marker == "" && matchHost(e.patterns, name) {
			if keysEqual(e.key, key) {
				return nil
			}
			return &KeyChangedError{Host: name, KeyType: key.Type(), Got: ssh.FingerprintSHA256(key),
				Known: []KnownKey{{ssh.FingerprintSHA256(e.key), e.file, e.line}}}
		}
	}
	written := name
	if hash {
		if written, err = hashHostName(name); err != nil {
			return fmt.Errorf("record host key of %s: %w", name, err)
		}
	}
	line := written + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))) + "\n"
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("record host key of %s: %w", name, err)
	}
	return f.Sync()
}
