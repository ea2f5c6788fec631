package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard is one of N disjoint parts of a fleet, for a fleet run from several controllers at once
// (a CI matrix, a Kubernetes Indexed Job): the hosts whose name hashes to K modulo N. K is
// 0-based so that a job system's index ($JOB_COMPLETION_INDEX) is K as it is. The zero value
// (N = 0) is no sharding: every host.
type Shard struct {
	K, N int
}

// ParseShard reads "K/N" with 0 <= K < N and N >= 1. Its errors do not repeat s: the flag
// package's message around them does.
func ParseShard(s string) (Shard, error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("not K/N (for example 0/4: the first of 4 shards)")
	}
	k, errK := strconv.Atoi(strings.TrimSpace(ks))
	n, errN := strconv.Atoi(strings.TrimSpace(ns))
	switch {
	case errK != nil || errN != nil:
		return Shard{}, fmt.Errorf("not K/N: K and N must be whole numbers (for example 0/4)")
	case n < 1:
		return Shard{}, fmt.Errorf("N must be at least 1")
	case k < 0 || k >= n:
		return Shard{}, fmt.Errorf("K counts from 0 and must be below N (0 to %d)", n-1)
	}
	return Shard{K: k, N: n}, nil
}

// IsSet reports whether the shard selects part of a fleet (N given).
func (s Shard) IsSet() bool { return s.N > 0 }

// String is "K/N", "" for no sharding.
func (s Shard) String() string {
	if !s.IsSet() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Contains reports whether the host of that spec name is in the shard (always, unsharded).
func (s Shard) Contains(host string) bool {
	return !s.IsSet() || ShardOf(host, s.N) == s.K
}

// ShardOf is the shard, of n, that a host name falls in: the first 8 bytes of the name's SHA-256,
// big-endian, modulo n. The function is part of the interface (a host must stay in its shard from
// one release to the next, or two controllers would run it at once): testdata/shards.txt pins
// it. Not FNV-1a: modulo a power of two it sees only the low bits of every byte, so names that
// differ in one character ("web-a" and "web-e") would always share a shard.
func ShardOf(host string, n int) int {
	if n <= 1 {
		return 0
	}
	sum := sha256.Sum256([]byte(host))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}
