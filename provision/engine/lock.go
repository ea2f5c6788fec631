package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/transport"
)

// LockPath is the per-host lock the CLI's applies take before a host's first change
// (Options.HostLock): two controllers applying to one host at once would otherwise run the same
// commands side by side.
const LockPath = "/run/lock/perfprov.lock"

// ErrLocked is the cause of a host refused because another run holds its lock.
var ErrLocked = errors.New("another perfprov run is applying to this host")

// lockScript holds the host's lock for as long as its standard input stays open: a flock(1) on
// fd 9, kept by the shell while `read` waits. The kernel lets the lock go when the process ends,
// which it does when the connection does (stdin ends), so a holder that died never blocks anyone;
// the file keeps the holder's line until a clean release empties it, so a taker can tell that the
// lock it took was left behind. Hosts without flock(1) run unlocked, and say so.
const lockScript = `umask 077
[ -d "$(dirname -- "$l")" ] || mkdir -p -- "$(dirname -- "$l")"
command -v flock >/dev/null 2>&1 || { echo 'perfprov-lock: none'; cat >/dev/null; exit 0; }
exec 9>>"$l"
if ! flock -n 9; then printf 'perfprov-lock: held %s\n' "$(head -c 400 "$l" | tr '\n' ' ')"; exit 0; fi
prev=$(head -c 400 "$l" | tr '\n' ' ')
printf '%s\n' "$holder" > "$l"
printf 'perfprov-lock: taken %s\n' "$prev"
IFS= read -r done || done=
[ "$done" = release ] && : > "$l"
exit 0`

// lock takes the host's lock before the host's first change (Options.HostLock; none when the
// plan changes nothing). When another run holds it, the host is refused and reported, and ok is
// false. The returned lock may be nil; release accepts that.
func (r *Run) lock(ctx context.Context, h *HostRun) (l *hostLock, ok bool) {
	if r.opts.HostLock == "" || !h.hasChanges() || r.interrupted() || ctx.Err() != nil {
		return nil, true
	}
	l, err := lockHost(ctx, h.conn, r.opts.HostLock, r.opts.LockHolder, func(w string) {
		r.emit(Event{Type: EventWarning, Host: h.Name, Message: w})
	})
	if err != nil {
		h.refuse(err)
		r.emit(Event{Type: EventHostSummary, Host: h.Name, Status: string(h.Status), Message: err.Error()})
		return nil, false
	}
	return l, true
}

// refuse fails a host before any change was made to it: its planned resources are not started.
func (h *HostRun) refuse(err error) {
	h.fail(err)
	for _, rr := range h.Resources {
		if rr.Status == StatusPlanned {
			rr.Status, rr.Cause = StatusNotStarted, "the host was refused"
		}
	}
}

// hasChanges reports whether applying the host's plan changes anything (or may: pending reads).
func (h *HostRun) hasChanges() bool {
	for _, rr := range h.Resources {
		if rr.Status == StatusPlanned && (rr.Pending || (rr.Diff != nil && !rr.Diff.InSync())) {
			return true
		}
	}
	return false
}

// hostLock is a held lock: release lets it go and waits for the host to confirm.
type hostLock struct {
	stdin *io.PipeWriter
	done  chan struct{}
}

func (l *hostLock) release() {
	if l == nil {
		return
	}
	_, _ = io.WriteString(l.stdin, "release\n")
	_ = l.stdin.Close()
	select {
	case <-l.done:
	case <-time.After(10 * time.Second): // the connection is gone: the host lets the lock go itself
	}
}

// firstLine collects a command's output until its first line is complete.
type firstLine struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line chan string
	sent bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sent {
		return len(p), nil
	}
	f.buf.Write(p)
	if i := bytes.IndexByte(f.buf.Bytes(), '\n'); i >= 0 {
		f.sent = true
		f.line <- string(f.buf.Bytes()[:i])
	}
	return len(p), nil
}

// lockHost takes the host's lock for holder, or says who holds it. warn receives a line when the
// lock taken was left behind by a run that ended without releasing it, or when the host has no
// flock(1).
func lockHost(ctx context.Context, conn transport.Conn, path, holder string, warn func(string)) (*hostLock, error) {
	pr, pw := io.Pipe()
	out := &firstLine{line: make(chan string, 1)}
	l := &hostLock{stdin: pw, done: make(chan struct{})}
	ran := make(chan error, 1)
	go func() {
		defer close(l.done)
		res, err := conn.Run(context.WithoutCancel(ctx), transport.Command{
			Script: "l=" + shell.Quote(path) + "\nholder=" + shell.Quote(holder) + "\n" + lockScript, Stdin: pr, Stdout: out, Privileged: true})
		if err == nil && !res.OK() {
			err = fmt.Errorf("exit status %d: %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		}
		_ = pr.Close()
		ran <- err
	}()
	var line string
	select {
	case line = <-out.line:
	case err := <-ran:
		if err == nil {
			err = errors.New("the lock script ended without a word")
		}
		return nil, fmt.Errorf("take the host's lock %s: %w", path, err)
	case <-ctx.Done():
		_ = pw.Close()
		return nil, fmt.Errorf("take the host's lock %s: %w", path, ctx.Err())
	}
	verb, rest, _ := strings.Cut(strings.TrimPrefix(line, "perfprov-lock: "), " ")
	rest = strings.TrimSpace(rest)
	switch verb {
	case "taken":
		if rest != "" {
			warn(fmt.Sprintf("took over the lock %s left by a run that ended without releasing it (%s)", path, rest))
		}
		return l, nil
	case "none":
		warn("no flock(1) on the host: this run is not locked against another perfprov run")
		return l, nil
	case "held":
		_ = pw.Close()
		<-l.done
		if rest == "" {
			rest = "holder unknown"
		}
		return nil, fmt.Errorf("%w (%s; lock %s): nothing was changed; try again when it ends", ErrLocked, rest, path)
	}
	_ = pw.Close()
	return nil, fmt.Errorf("take the host's lock %s: unexpected answer %q", path, line)
}
