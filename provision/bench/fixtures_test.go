package bench

import (
	"testing"
	"time"
)

var fixedTime = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

// fleet judges the script fixtures as five hosts.
func fleet(t *testing.T) []*HostReport {
	t.Helper()
	var reps []*HostReport
	for _, c := range []struct{ host, fixture string }{
		{"bare-metal-1", "hw-pass"},
		{"vm-1", "good"},
		{"vm-2", "no-caps"},
		{"vm-3", "not-member"},
		{"vm-4", "nosuid"},
	} {
		o := loadObs(t, c.fixture)
		x := defaultExpect()
		x.NonMember = "daemon"
		r := Judge(&o, x)
		r.Host, r.Benchmark, r.Time = c.host, "counters", fixedTime
		reps = append(reps, r)
	}
	return reps
}
