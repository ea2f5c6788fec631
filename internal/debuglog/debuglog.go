// Package debuglog is perfprov's debug log (PERFPROV_LOG=debug or trace, -log-file FILE): every
// connection, channel and remote command of a run, with its duration and outcome, for a person
// finding out where a run spends its time or why a host fails. It is off by default. Every line
// goes through the log's redaction first: the sensitive values of the spec and the become
// passwords a run uses are replaced before anything is written.
package debuglog

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/perfprov/perfprov/internal/redact"
)

// Level is how much the log says.
type Level int

const (
	Off   Level = iota
	Debug       // connections, channels, one line per remote command and transfer, retries
	Trace       // also each command's whole script and the sizes of its output
)

// ParseLevel reads PERFPROV_LOG's value: "", "off", "debug" or "trace" (any case).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "off", "0":
		return Off, nil
	case "debug":
		return Debug, nil
	case "trace":
		return Trace, nil
	}
	return Off, fmt.Errorf("PERFPROV_LOG=%q: want debug, trace or off", s)
}

// Log writes debug lines to one writer. The zero of *Log (nil) logs nothing; its methods are
// safe on nil and from many goroutines (lines stay whole).
type Log struct {
	level Level
	now   func() time.Time

	mu      sync.Mutex
	w       io.Writer
	secrets []string // longest first, so that a secret inside another is replaced as the whole
}

// New is a log at level writing to w; nil when level is Off.
func New(w io.Writer, level Level) *Log {
	if level == Off || w == nil {
		return nil
	}
	return &Log{level: level, w: w, now: time.Now}
}

// Enabled reports whether lines of level are written.
func (l *Log) Enabled(level Level) bool { return l != nil && level != Off && l.level >= level }

// Secret adds a value that no line may show: it is replaced by redact.Placeholder.
func (l *Log) Secret(v string) {
	if l == nil || v == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if contains(l.secrets, v) {
		return
	}
	l.secrets = append(l.secrets, v)
	sort.Slice(l.secrets, func(i, j int) bool { return len(l.secrets[i]) > len(l.secrets[j]) })
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Printf writes one line at level: the time, the level, and the message with every secret
// replaced. A message of several lines (a script) is indented under its first.
func (l *Log) Printf(level Level, format string, args ...any) {
	if !l.Enabled(level) {
		return
	}
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.secrets {
		msg = strings.ReplaceAll(msg, s, redact.Placeholder)
	}
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", "\n    | ")
	name := "debug"
	if level == Trace {
		name = "trace"
	}
	fmt.Fprintf(l.w, "%s %s: %s\n", l.now().UTC().Format("15:04:05.000"), name, msg)
}

// Func is Printf at Debug as a plain function (connect.Options.Log, ssh.Config.Log); nil when
// the log is off, so that callers skip the formatting.
func (l *Log) Func() func(format string, args ...any) {
	if !l.Enabled(Debug) {
		return nil
	}
	return func(format string, args ...any) { l.Printf(Debug, format, args...) }
}
