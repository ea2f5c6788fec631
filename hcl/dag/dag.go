// Package dag orders a dependency graph and finds its cycles. Vertices are 0..n-1, numbered in
// declaration order, and deps[v] lists what v depends on: the loader maps its declarations onto
// them, so that this holds only the graph algorithms and no knowledge of specs.
package dag

import (
	"container/heap"
	"sort"
)

// Order returns the vertices with every dependency before its dependants, the earliest declared
// ready vertex first. It returns fewer than len(deps) vertices when the graph has a cycle.
func Order(deps [][]int) []int {
	indeg := make([]int, len(deps))
	users := make([][]int, len(deps))
	for v, ds := range deps {
		for _, d := range ds {
			indeg[v]++
			users[d] = append(users[d], v)
		}
	}
	// ready is a min-heap of vertex numbers: a linear search for the earliest ready vertex made a
	// spec of many independent declarations load in O(n^2).
	ready := &intHeap{}
	for v := range deps {
		if indeg[v] == 0 {
			heap.Push(ready, v)
		}
	}
	order := make([]int, 0, len(deps))
	for ready.Len() > 0 {
		v := heap.Pop(ready).(int)
		order = append(order, v)
		for _, u := range users[v] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	return order
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}

// CyclicComponents returns the strongly connected components that hold a cycle (more than one
// vertex, or one that depends on itself), found with Tarjan's algorithm.
func CyclicComponents(deps [][]int) [][]int {
	t := &tarjan{deps: deps, index: make([]int, len(deps)), low: make([]int, len(deps)), onStack: make([]bool, len(deps))}
	for v := range t.index {
		t.index[v] = -1
	}
	for v := range deps {
		if t.index[v] < 0 {
			t.strong(v)
		}
	}
	var out [][]int
	for _, comp := range t.sccs {
		if len(comp) > 1 || contains(deps[comp[0]], comp[0]) {
			out = append(out, comp)
		}
	}
	return out
}

type tarjan struct {
	deps       [][]int
	index, low []int
	onStack    []bool
	stack      []int
	counter    int
	sccs       [][]int
}

func (t *tarjan) strong(v int) {
	t.index[v], t.low[v] = t.counter, t.counter
	t.counter++
	t.stack = append(t.stack, v)
	t.onStack[v] = true
	for _, w := range t.deps[v] {
		if t.index[w] < 0 {
			t.strong(w)
			t.low[v] = min(t.low[v], t.low[w])
		} else if t.onStack[w] {
			t.low[v] = min(t.low[v], t.index[w])
		}
	}
	if t.low[v] != t.index[v] {
		return
	}
	var comp []int
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.onStack[w] = false
		comp = append(comp, w)
		if w == v {
			break
		}
	}
	t.sccs = append(t.sccs, comp)
}

// CycleFrom returns a path from start back to start through the vertices in comp, trying
// dependencies in declaration order; just start when there is none.
func CycleFrom(deps [][]int, start int, comp []int) []int {
	in := map[int]bool{}
	for _, v := range comp {
		in[v] = true
	}
	var path []int
	visited := map[int]bool{}
	var dfs func(v int) bool
	dfs = func(v int) bool {
		path = append(path, v)
		visited[v] = true
		ds := append([]int(nil), deps[v]...)
		sort.Ints(ds)
		for _, w := range ds {
			if w == start || (in[w] && !visited[w] && dfs(w)) {
				return true
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if dfs(start) {
		return path
	}
	return []int{start}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
