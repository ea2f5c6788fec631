// Package wanbench measures how many sequential round trips each perfprov operation costs over a
// wide-area link, next to OpenSSH and a bare golang.org/x/crypto/ssh client: toxiproxy, in the
// benchmark's own process, adds latency in front of lab hosts, and the round trips are the slope
// of wall time against the round-trip time (make bench-wan). The measuring code is in the
// package's benchmark files; this file holds the arithmetic they share.
package wanbench

import (
	"errors"
	"slices"
	"time"
)

// Slope fits y = a + b·x by least squares and returns b. With x the round-trip time of the link
// and y an operation's wall time, b is the number of sequential round trips the operation waits
// for; a is what it costs on the machine itself (processes, CPU), which the fit keeps out of b.
func Slope(xs, ys []float64) (float64, error) {
	if len(xs) != len(ys) {
		return 0, errors.New("slope: as many x as y values are needed")
	}
	if len(xs) < 2 {
		return 0, errors.New("slope: at least two points are needed")
	}
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0, errors.New("slope: every x value is the same")
	}
	return sxy / sxx, nil
}

// Median returns the middle of ds (the upper middle of an even count), 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
