package dag

import (
	"reflect"
	"testing"
)

func TestOrderAndCycles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		deps   [][]int
		order  []int
		cycles [][]int // CycleFrom the smallest vertex of each component
	}{
		{"declaration order wins ties", [][]int{nil, nil, {0}}, []int{0, 1, 2}, nil},
		{"dependency first", [][]int{{2}, nil, {1}}, []int{1, 2, 0}, nil},
		{"self loop", [][]int{nil, {1}}, []int{0}, [][]int{{1}}},
		{"two-cycle and a tail", [][]int{{1}, {0}, {0}}, nil, [][]int{{0, 1}}},
		{"three-cycle", [][]int{{2}, {0}, {1}, nil}, []int{3}, [][]int{{0, 2, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Order(tc.deps); !reflect.DeepEqual(got, tc.order) && !(len(got) == 0 && len(tc.order) == 0) {
				t.Errorf("Order = %v, want %v", got, tc.order)
			}
			var cycles [][]int
			for _, comp := range CyclicComponents(tc.deps) {
				start := comp[0]
				for _, v := range comp {
					start = min(start, v)
				}
				cycles = append(cycles, CycleFrom(tc.deps, start, comp))
			}
			if !reflect.DeepEqual(cycles, tc.cycles) {
				t.Errorf("cycles = %v, want %v", cycles, tc.cycles)
			}
		})
	}
}
