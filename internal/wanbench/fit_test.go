package wanbench

import (
	"math"
	"testing"
	"time"
)

func TestSlope(t *testing.T) {
	tests := []struct {
		name    string
		xs, ys  []float64
		want    float64
		wantErr bool
	}{
		{name: "exact line", xs: []float64{0, 0.05, 0.1, 0.2}, ys: []float64{0.3, 0.7, 1.1, 1.9}, want: 8},
		{name: "two points", xs: []float64{0, 0.1}, ys: []float64{0.5, 0.8}, want: 3},
		{name: "flat", xs: []float64{0, 0.05, 0.1, 0.2}, ys: []float64{0.4, 0.4, 0.4, 0.4}, want: 0},
		// Noise around y = 0.2 + 5x that sums to zero and is uncorrelated with x: least squares
		// finds 5, where the end points alone would say 4.33.
		{name: "noisy", xs: []float64{0, 0.1, 0.2, 0.3}, ys: []float64{0.3, 0.4, 1.5, 1.6}, want: 5},
		{name: "unordered x", xs: []float64{0.2, 0, 0.1, 0.05}, ys: []float64{1.9, 0.3, 1.1, 0.7}, want: 8},
		{name: "one point", xs: []float64{0.1}, ys: []float64{1}, wantErr: true},
		{name: "lengths differ", xs: []float64{0, 0.1}, ys: []float64{1}, wantErr: true},
		{name: "same x", xs: []float64{0.1, 0.1}, ys: []float64{1, 2}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Slope(tt.xs, tt.ys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Slope(%v, %v) error = %v, want error %v", tt.xs, tt.ys, err, tt.wantErr)
			}
			if !tt.wantErr && math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Slope(%v, %v) = %v, want %v", tt.xs, tt.ys, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{5 * ms}, 5 * ms},
		{"three unordered", []time.Duration{9 * ms, 1 * ms, 4 * ms}, 4 * ms},
		{"two: the upper", []time.Duration{1 * ms, 3 * ms}, 3 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := Median(tt.in); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("Median reordered its argument: %v", tt.in)
				}
			}
		})
	}
}
