package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Taking a lab down: every host process, its namespaces and mounts, then the state.

// Down stops the lab in dir, if any: every process of its hosts ends, nothing stays mounted,
// and the files the lab wrote (state, keys, known_hosts, inventory, host layers) are removed.
func Down(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if !isDir(dir) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, dirLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	if err := downLocked(ctx, dir); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, dirLockFile))
	os.Remove(dir) // only if empty: the lab's directory may hold the user's own files
	return nil
}

// Down stops the lab; see the function Down.
func (l *Lab) Down(ctx context.Context) error { return Down(ctx, l.Dir) }

func downLocked(ctx context.Context, dir string) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	if st != nil {
		var namespaces []string
		for i := range st.Hosts {
			h := &st.Hosts[i]
			if h.VM != nil {
				if h.alive() {
					kill(h.VM.PID)
					waitGone(ctx, h.VM, 15*time.Second)
				}
				continue
			}
			if h.alive() {
				// SIGKILL to a PID namespace's init kills every process in the namespace.
				syscall.Kill(h.PID, syscall.SIGKILL)
			}
			if h.PIDNS != "" {
				namespaces = append(namespaces, h.PIDNS)
			}
		}
		if err := waitNamespacesEmpty(ctx, namespaces, 15*time.Second); err != nil {
			return err
		}
		for _, n := range st.nets() {
			releaseNet(dir, n)
		}
	}
	// The hosts' mounts live in their own namespaces and are gone with them; anything mounted
	// here in the machine's namespace was put there by hand (or by a test): detach it.
	mounts, err := mountsUnder(filepath.Join(dir, hostsDir))
	if err != nil {
		return err
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("umount %s: %w", mounts[i], err)
		}
	}
	for _, f := range []string{hostsDir, stateFile, keyFile, keyFile + ".pub", knownFile, inventoryFile} {
		if err := removeTree(filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return nil
}

// waitNamespacesEmpty waits until no process of the machine is in any of the PID namespaces.
func waitNamespacesEmpty(ctx context.Context, namespaces []string, limit time.Duration) error {
	if len(namespaces) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, ns := range namespaces {
		want[ns] = true
	}
	deadline := time.Now().Add(limit)
	for {
		left := processesIn(want)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab processes still running after %s: PIDs %v", limit, left)
		}
		for _, pid := range left {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// processesIn lists the live (not zombie) processes whose PID namespace is in namespaces.
func processesIn(namespaces map[string]bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ns, err := os.Readlink("/proc/" + e.Name() + "/ns/pid")
		if err != nil || !namespaces[ns] {
			continue
		}
		if isZombie(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name, which may itself contain ") ".
	i := strings.LastIndexByte(string(data), ')')
	return i < 0 || i+2 >= len(data) || data[i+2] == 'Z' || data[i+2] == 'X'
}
