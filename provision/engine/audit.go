package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/perfprov/perfprov/provision/resource"
)

// AuditLog appends JSON lines to a local file: an "attempt" line before each change starts, and
// its outcome ("changed" or "failed") after, so that a controller killed mid-change leaves a record
// of what it had started. Sensitive values never reach it: they are recorded as redact.Placeholder.
type AuditLog struct {
	mu  sync.Mutex
	f   *os.File
	now func() time.Time
}

// auditRecord is one line of the audit log.
type auditRecord struct {
	Time     string            `json:"time"`
	Host     string            `json:"host"`
	Resource string            `json:"resource"`
	Action   string            `json:"action"`
	Outcome  string            `json:"outcome"` // attempt, changed, failed
	Before   map[string]string `json:"before"`
	After    map[string]string `json:"after"`
	Error    string            `json:"error,omitempty"`
}

// OpenAuditLog opens (creating it and its directory, private to the user) the audit log at path.
// It refuses a symbolic link (O_NOFOLLOW: a link could send the log, and what it says about the
// hosts, anywhere), something other than a regular file, and a file another user owns; an
// existing file of ours with a mode wider than 0600 is narrowed to 0600, on the open descriptor.
func OpenAuditLog(path string) (*AuditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	// O_NONBLOCK: a FIFO put in the log's place must not hang the open; it is refused below.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("audit log %s is a symbolic link: perfprov does not follow one there; give the file's own path: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := checkAuditFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return &AuditLog{f: f, now: time.Now}, nil
}

// checkAuditFile checks the opened log: a regular file of ours, made 0600 when it is wider.
func checkAuditFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("audit log %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("audit log %s is not a regular file (%s); give the path of a file", path, fi.Mode().Type())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("audit log %s: cannot read its owner", path)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("audit log %s is owned by uid %d, not by you (uid %d): another user could read or rewrite it; remove it or give another path", path, st.Uid, uid)
	}
	if fi.Mode().Perm()&^0o600 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("audit log %s has mode %04o: make it 0600: %w", path, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// Attempt appends the line that says a change is about to start.
func (a *AuditLog) Attempt(host, addr string, d *resource.Diff) {
	if a == nil || d == nil {
		return
	}
	a.write(auditRecord{Host: host, Resource: addr, Action: d.Action.String(), Outcome: "attempt", Before: d.Before(), After: d.After()})
}

// Record appends the outcome of a change; err is its failure (nil: made and verified).
func (a *AuditLog) Record(host, addr string, d *resource.Diff, err error) {
	if a == nil || d == nil {
		return
	}
	rec := auditRecord{Host: host, Resource: addr, Action: d.Action.String(), Outcome: "changed", Before: d.Before(), After: d.After()}
	if err != nil {
		rec.Outcome, rec.Error = "failed", err.Error()
	}
	a.write(rec)
}

func (a *AuditLog) write(rec auditRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec.Time = a.now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(rec)
	_, _ = a.f.Write(append(b, '\n'))
}

// Close closes the file.
func (a *AuditLog) Close() error {
	if a == nil {
		return nil
	}
	return a.f.Close()
}
