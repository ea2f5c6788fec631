package testbed

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// RunDir records which lab holds which loopback /24, for every lab on the machine.
const RunDir = "/run/perfprov-testbed"

// Labs take 127.0.N.0/24 for N in this range: clear of 127.0.0.1 and of Debian's 127.0.1.1.
const (
	firstNet = 10
	lastNet  = 250
)

// allocateNets claims k free 127.0.N.0/24 networks for the lab in dir (k > 1 only for a lab in
// shared mode with more hosts than one /24 holds). A claim is the file RunDir/net-N naming the
// lab's directory; it is free again when that lab's state no longer names N or none of its hosts
// runs (a lab whose process died). Claims are made under one machine-wide flock, so two test
// binaries starting labs at once never get the same N.
func allocateNets(ctx context.Context, dir string, k int) ([]int, error) {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab address registry: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(RunDir, "alloc.lock"))
	if err != nil {
		return nil, fmt.Errorf("lab address registry lock: %w", err)
	}
	defer unlock()
	busy, err := loopbackListeners()
	if err != nil {
		return nil, err
	}
	var nets []int
	for n := firstNet; n <= lastNet && len(nets) < k; n++ {
		claim := filepath.Join(RunDir, "net-"+strconv.Itoa(n))
		if owner, err := os.ReadFile(claim); err == nil {
			other := strings.TrimSpace(string(owner))
			if other != dir && labHoldsNet(other, n) {
				continue
			}
			if other != dir {
				sweepOrphan(ctx, other, n)
			}
		}
		if busy[n] {
			continue // something else listens in 127.0.N.0/24: stay clear of it
		}
		if err := os.WriteFile(claim, []byte(dir+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("lab address registry: %w", err)
		}
		nets = append(nets, n)
	}
	if len(nets) < k {
		for _, n := range nets {
			releaseNet(dir, n)
		}
		return nil, fmt.Errorf("no %d free 127.0.N.0/24 for a lab (N %d..%d; see %s)", k, firstNet, lastNet, RunDir)
	}
	return nets, nil
}

// sweepOrphan removes the files of an ephemeral lab whose process died without Down (a test
// binary killed by its -timeout): its hosts stopped by themselves, their layers stay on disk.
// Labs started by testbed up are left alone: their directory is the user's.
func sweepOrphan(ctx context.Context, dir string, n int) {
	st, err := readState(dir)
	if err != nil || st == nil || !st.Ephemeral || !slices.Contains(st.nets(), n) || st.Dir != dir {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, dirLockFile), os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // someone is working on it right now
	}
	if downLocked(ctx, dir) == nil {
		os.Remove(filepath.Join(dir, dirLockFile))
		os.Remove(dir)
	}
}

// releaseNet drops dir's claim on n, if it still holds it.
func releaseNet(dir string, n int) {
	claim := filepath.Join(RunDir, "net-"+strconv.Itoa(n))
	if owner, err := os.ReadFile(claim); err == nil && strings.TrimSpace(string(owner)) == dir {
		os.Remove(claim)
	}
}

// labHoldsNet says whether the lab in dir still runs on net n.
func labHoldsNet(dir string, n int) bool {
	st, err := readState(dir)
	if err != nil || st == nil || !slices.Contains(st.nets(), n) {
		return false
	}
	for _, h := range st.Hosts {
		if h.alive() {
			return true
		}
	}
	return false
}

// tcpListener is one listening IPv4/IPv6 socket of the machine's network namespace.
type tcpListener struct {
	addr [4]byte // IPv4 address, or the v4 part of a v4-mapped v6 address; zero for a wildcard
	v6   bool
	any  bool // bound to 0.0.0.0 or ::
	port int
}

// listeners reads the machine's listening TCP sockets from /proc/net/tcp{,6}.
func listeners() ([]tcpListener, error) {
	var out []tcpListener
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // no IPv6
			}
			return nil, err
		}
		out = append(out, parseListeners(data)...)
	}
	return out, nil
}

// parseListeners reads the listening sockets of one /proc/net/tcp or /proc/net/tcp6 table.
func parseListeners(data []byte) []tcpListener {
	var out []tcpListener
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		ip, portHex, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portHex, 16, 16)
		if err != nil {
			continue
		}
		raw, err := hex.DecodeString(ip)
		if err != nil || (len(raw) != 4 && len(raw) != 16) {
			continue
		}
		l := tcpListener{port: int(port), v6: len(raw) == 16}
		// The kernel prints each 32-bit word in host (little-endian) order.
		word := raw
		if l.v6 {
			word = raw[12:16]
			allZero := true
			for _, b := range raw {
				allZero = allZero && b == 0
			}
			l.any = allZero
			// A v4-mapped address is ::ffff:a.b.c.d: the third word is 0x0000ffff.
			mapped := raw[8] == 0xff && raw[9] == 0xff && raw[10] == 0 && raw[11] == 0
			if !allZero && !mapped {
				continue // a real IPv6 address cannot collide with 127/8
			}
		}
		l.addr = [4]byte{word[3], word[2], word[1], word[0]}
		if !l.v6 {
			l.any = l.addr == [4]byte{}
		}
		out = append(out, l)
	}
	return out
}

// loopbackListeners returns the N of every 127.0.N.0/24 where something listens.
func loopbackListeners() (map[int]bool, error) {
	ls, err := listeners()
	if err != nil {
		return nil, err
	}
	busy := map[int]bool{}
	for _, l := range ls {
		if l.addr[0] == 127 && l.addr[1] == 0 {
			busy[int(l.addr[2])] = true
		}
	}
	return busy, nil
}

// checkPort22Free fails when a wildcard listener holds port 22: it would take every lab
// host's 127.0.N.M:22 (and a lab ssh could reach the machine's own sshd instead).
func checkPort22Free() error {
	ls, err := listeners()
	if err != nil {
		return err
	}
	for _, l := range ls {
		if l.port == 22 && l.any {
			where := "0.0.0.0:22"
			if l.v6 {
				where = "[::]:22"
			}
			return fmt.Errorf("something on this machine (probably its own sshd) listens on %s, which blocks the lab hosts' 127.0.N.M:22; make it listen on specific addresses (ListenAddress) or stop it", where)
		}
	}
	return nil
}

// listening reports which of the given IPv4 addresses have a listener on port.
func listening(addrs []string, port int) (map[string]bool, error) {
	ls, err := listeners()
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, l := range ls {
		if l.port == port && !l.any {
			have[fmt.Sprintf("%d.%d.%d.%d", l.addr[0], l.addr[1], l.addr[2], l.addr[3])] = true
		}
	}
	out := map[string]bool{}
	for _, a := range addrs {
		out[a] = have[a]
	}
	return out, nil
}
