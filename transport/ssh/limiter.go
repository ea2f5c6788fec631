package ssh

import (
	"context"
	"sync"
)

// sessionLimiter bounds the channels open at once on a connection. Its limit starts at the
// configured MaxSessions and drops to what the server really allows the first time it refuses a
// channel, so that commands then wait their turn here instead of hammering the server.
type sessionLimiter struct {
	mu      sync.Mutex
	limit   int
	inUse   int
	changed chan struct{} // closed and replaced whenever a slot frees or the limit moves
}

func newSessionLimiter(limit int) *sessionLimiter {
	return &sessionLimiter{limit: max(limit, 1), changed: make(chan struct{})}
}

// acquire waits for a slot, or for ctx or done to end.
func (l *sessionLimiter) acquire(ctx context.Context, done <-chan struct{}) error {
	for {
		l.mu.Lock()
		if l.inUse < l.limit {
			l.inUse++
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return context.Canceled
		}
	}
}

func (l *sessionLimiter) release() {
	l.mu.Lock()
	l.inUse--
	l.wake()
	l.mu.Unlock()
}

// refused records that the server refused a channel while inUse were held (this one included):
// it allows at most inUse-1 of ours at once.
func (l *sessionLimiter) refused() {
	l.mu.Lock()
	if n := max(l.inUse-1, 1); n < l.limit {
		l.limit = n
	}
	l.mu.Unlock()
}

func (l *sessionLimiter) wake() {
	close(l.changed)
	l.changed = make(chan struct{})
}
