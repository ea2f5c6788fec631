package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/perfprov/perfprov/provision/resource"
)

// AuditLog appends JSON lines to a local file: an "attempt" line before each change starts, and
// its outcome ("changed" or "failed") after, so that a controller killed mid-change leaves a record
// of what it had started. Sensitive values never reach it: they are recorded as "(sensitive)".
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
func OpenAuditLog(path string) (*AuditLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &AuditLog{f: f, now: time.Now}, nil
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
