package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfprov/perfprov/spec"
)

func TestBatchSize(t *testing.T) {
	tests := []struct {
		cfg  spec.Rollout
		n    int
		want int
	}{
		{spec.Rollout{}, 7, 7},
		{spec.Rollout{BatchSize: 3}, 7, 3},
		{spec.Rollout{BatchPercent: 25}, 10, 3}, // rounds up
		{spec.Rollout{BatchPercent: 1}, 10, 1},
	}
	for _, tt := range tests {
		if got := batchSize(tt.cfg, tt.n); got != tt.want {
			t.Errorf("batchSize(%+v, %d) = %d, want %d", tt.cfg, tt.n, got, tt.want)
		}
	}
}

// TestRolloutBatches checks that no host of a batch starts before the previous batch finished,
// and that parallelism is bounded.
func TestRolloutBatches(t *testing.T) {
	const n = 10
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	var mu sync.Mutex
	var running, maxRunning int
	finished := make([]time.Time, n)
	started := make([]time.Time, n)
	res := rollout(context.Background(), n, todo, spec.Rollout{BatchSize: 4, MaxFailPercentage: 100}, 2, nil,
		func(_ context.Context, i int) bool {
			mu.Lock()
			running++
			if running > maxRunning {
				maxRunning = running
			}
			started[i] = time.Now()
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			running--
			finished[i] = time.Now()
			mu.Unlock()
			return false
		}, func(int) bool { return false })
	if len(res.notStarted) != 0 || res.stopped != "" {
		t.Fatalf("result %+v", res)
	}
	if maxRunning > 2 {
		t.Errorf("%d hosts ran at once, want at most 2", maxRunning)
	}
	for b := 1; b*4 < n; b++ {
		for i := b * 4; i < (b+1)*4 && i < n; i++ {
			for j := (b - 1) * 4; j < b*4; j++ {
				if started[i].Before(finished[j]) {
					t.Errorf("host %d (batch %d) started before host %d of the previous batch finished", i, b, j)
				}
			}
		}
	}
}

func TestRolloutMaxFailPercentage(t *testing.T) {
	const n = 10
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	var ran atomic.Int32
	// Batch of 2; hosts 0 and 1 fail: 20% > 10%, so the rollout stops after the first batch.
	res := rollout(context.Background(), n, todo, spec.Rollout{BatchSize: 2, MaxFailPercentage: 10}, 5, nil,
		func(_ context.Context, i int) bool { ran.Add(1); return i < 2 }, func(int) bool { return false })
	if ran.Load() != 2 || len(res.notStarted) != 8 || res.stopped == "" {
		t.Fatalf("ran %d, not started %v, stopped %q", ran.Load(), res.notStarted, res.stopped)
	}
	// Hosts unreachable before the rollout count too.
	ran.Store(0)
	res = rollout(context.Background(), n, todo[3:], spec.Rollout{BatchSize: 2, MaxFailPercentage: 20}, 5, nil,
		func(_ context.Context, i int) bool { ran.Add(1); return false }, func(i int) bool { return i < 3 })
	if ran.Load() != 0 || len(res.notStarted) != 7 {
		t.Errorf("with 3 of 10 failed already: ran %d, not started %d", ran.Load(), len(res.notStarted))
	}
	// At the threshold (not above it) the rollout goes on.
	ran.Store(0)
	res = rollout(context.Background(), n, todo, spec.Rollout{BatchSize: 5, MaxFailPercentage: 10}, 5, nil,
		func(_ context.Context, i int) bool { ran.Add(1); return i == 0 }, func(int) bool { return false })
	if ran.Load() != n || res.stopped != "" {
		t.Errorf("at 10%%: ran %d, stopped %q", ran.Load(), res.stopped)
	}
}

func TestRolloutInterrupt(t *testing.T) {
	intr := make(chan struct{})
	todo := []int{0, 1, 2, 3}
	var ran atomic.Int32
	res := rollout(context.Background(), 4, todo, spec.Rollout{MaxFailPercentage: 100}, 1, intr,
		func(_ context.Context, i int) bool {
			ran.Add(1)
			if i == 1 {
				close(intr)
			}
			return false
		}, func(int) bool { return false })
	if ran.Load() != 2 || !res.interrupted || len(res.notStarted) != 2 {
		t.Errorf("ran %d, interrupted %v, not started %v", ran.Load(), res.interrupted, res.notStarted)
	}
}

func TestMaxFailStopsFleet(t *testing.T) {
	f := newFleet(t.TempDir(), 6, fakeDecl{name: "x", want: "1", fail: "boom", failOn: []string{"h1", "h2"}})
	opts := f.options()
	opts.Rollout = spec.Rollout{Parallel: 2, BatchSize: 2, MaxFailPercentage: 30}
	r := fleetRun(t, f, opts)
	if r.Stopped == "" {
		t.Fatal("rollout not stopped")
	}
	for i, h := range r.Hosts {
		want := StatusNotStarted
		if i < 2 {
			want = StatusFailed
		}
		if h.Status != want {
			t.Errorf("%s: %s, want %s", h.Name, h.Status, want)
		}
	}
}
