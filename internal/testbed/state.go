package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// state is the lab's state file: enough to find, inspect and stop its hosts from any process.
type state struct {
	Version   int         `json:"version"`
	Dir       string      `json:"dir"`
	Net       int         `json:"net"`
	Nets      []int       `json:"nets,omitempty"`   // every network of a lab with more than one
	Shared    int         `json:"shared,omitempty"` // hosts per root filesystem (shared mode)
	Prefix    string      `json:"prefix"`
	Ephemeral bool        `json:"ephemeral"`
	Lower     []string    `json:"lower"`
	Hosts     []hostState `json:"hosts"`
}

// nets lists the lab's networks: state files written before shared mode name only Net.
func (st *state) nets() []int {
	if len(st.Nets) > 0 {
		return st.Nets
	}
	return []int{st.Net}
}

type hostState struct {
	Name    string  `json:"name"`
	Address string  `json:"address"`
	Port    int     `json:"port"`
	PID     int     `json:"pid"`
	PIDNS   string  `json:"pid_ns"`
	HostKey string  `json:"host_key"`       // authorized_keys format, as recorded in known_hosts
	Root    string  `json:"root,omitempty"` // the shared root filesystem it runs in (shared mode)
	VM      *vmHost `json:"vm,omitempty"`   // a VM host: its qemu
}

func (h *hostState) alive() bool {
	if h.VM != nil {
		return h.VM.alive()
	}
	if h.PID <= 0 {
		return false
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.PID))
	return err == nil && ns == h.PIDNS && !isZombie(h.PID)
}

func (h *Host) alive() bool {
	return (&hostState{PID: h.pid, PIDNS: h.pidNS, VM: h.vm}).alive()
}

func (l *Lab) writeState() error {
	st := state{Version: 1, Dir: l.Dir, Net: l.Net, Prefix: l.prefix, Ephemeral: l.ephemeral, Lower: l.lower, Shared: l.shared}
	if len(l.Nets) > 1 {
		st.Nets = l.Nets
	}
	for _, h := range l.Hosts {
		hs := hostState{Name: h.Name, Address: h.Address, Port: h.Port, PID: h.pid, PIDNS: h.pidNS, Root: h.root, VM: h.vm}
		if h.hostKey != nil {
			hs.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(h.hostKey)))
		}
		st.Hosts = append(st.Hosts, hs)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.Dir, stateFile), append(data, '\n'), 0o644)
}

// readState reads dir's state file; nil without error when there is none.
func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("lab state %s: %w (remove the directory by hand if no lab runs)", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func (st *state) lab() (*Lab, error) {
	l := &Lab{
		Dir:            st.Dir,
		KeyPath:        filepath.Join(st.Dir, keyFile),
		KnownHostsPath: filepath.Join(st.Dir, knownFile),
		InventoryPath:  filepath.Join(st.Dir, inventoryFile),
		Net:            st.Net,
		Nets:           st.nets(),
		shared:         st.Shared,
		prefix:         st.Prefix,
		ephemeral:      st.Ephemeral,
		lower:          st.Lower,
	}
	for _, hs := range st.Hosts {
		h := &Host{Name: hs.Name, Address: hs.Address, Port: hs.Port, pid: hs.PID, pidNS: hs.PIDNS, root: hs.Root, vm: hs.VM}
		if hs.HostKey != "" {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hs.HostKey))
			if err != nil {
				return nil, fmt.Errorf("lab state: host key of %s: %w", hs.Name, err)
			}
			h.hostKey = k
		}
		l.Hosts = append(l.Hosts, h)
	}
	return l, nil
}
