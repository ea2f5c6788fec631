package main

import (
	"io"
	"sync"
)

// syncWriter makes w safe for the hosts of a run that write to it at once, a whole line per
// Write (the stderr lines of proxy commands: see connect.Options.Stderr).
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
