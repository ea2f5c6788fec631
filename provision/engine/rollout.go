package engine

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/perfprov/perfprov/spec"
)

type rolloutResult struct {
	notStarted  []int  // indexes of hosts never started
	reason      string // why they were not started
	stopped     string // why the rollout stopped early ("" if it did not)
	interrupted bool
}

// batchSize is the number of hosts per rolling batch for n hosts (n: all at once).
func batchSize(cfg spec.Rollout, n int) int {
	switch {
	case cfg.BatchSize > 0:
		return cfg.BatchSize
	case cfg.BatchPercent > 0:
		b := int(math.Ceil(cfg.BatchPercent * float64(n) / 100))
		if b < 1 {
			b = 1
		}
		return b
	default:
		return n
	}
}

// rollout runs work on the hosts in todo (indexes among total targeted hosts), at most parallel
// at once, batch by batch. isFailed tells whether a host failed (hosts failed before the rollout,
// such as unreachable ones, count too). When more than MaxFailPercentage of all hosts failed, no
// new host starts. A closed interrupted channel also stops new starts; work in flight finishes.
func rollout(ctx context.Context, total int, todo []int, cfg spec.Rollout, parallel int, interrupted <-chan struct{},
	work func(ctx context.Context, i int) bool, isFailed func(i int) bool) rolloutResult {
	var res rolloutResult
	if parallel < 1 {
		parallel = 1
	}
	var mu sync.Mutex
	failed := 0
	inTodo := map[int]bool{}
	for _, i := range todo {
		inTodo[i] = true
	}
	for i := 0; i < total; i++ {
		if !inTodo[i] && isFailed(i) {
			failed++
		}
	}
	exceeded := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return total > 0 && float64(failed)*100/float64(total) > cfg.MaxFailPercentage
	}
	isInterrupted := func() bool {
		if interrupted == nil {
			return false
		}
		select {
		case <-interrupted:
			return true
		default:
			return false
		}
	}
	stop := func(why string) bool {
		switch {
		case isInterrupted():
			res.interrupted = true
			res.reason = "interrupted"
			return true
		case ctx.Err() != nil:
			res.reason = "aborted"
			return true
		case exceeded():
			mu.Lock()
			res.stopped = fmt.Sprintf("%d of %d hosts failed, more than max_fail_percentage %g%%", failed, total, cfg.MaxFailPercentage)
			mu.Unlock()
			res.reason = "rollout stopped: " + res.stopped
			return true
		}
		return false
	}
	size := batchSize(cfg, len(todo))
	pos := 0
	for pos < len(todo) {
		end := pos + size
		if end > len(todo) {
			end = len(todo)
		}
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		halted := false
		for _, i := range todo[pos:end] {
			sem <- struct{}{}
			if stop("") {
				<-sem
				halted = true
				res.notStarted = append(res.notStarted, i)
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				if work(ctx, i) {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		pos = end
		if !halted && pos < len(todo) && stop("") {
			halted = true
		}
		if halted {
			res.notStarted = append(res.notStarted, todo[pos:]...)
			break
		}
	}
	return res
}
