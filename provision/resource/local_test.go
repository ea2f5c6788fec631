package resource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestDirectoryConverges(t *testing.T) {
	c := &localConn{}
	u, g := me(t)
	p := filepath.Join(t.TempDir(), "a", "b")
	r := mustNew(t, mkres("directory", "d", map[string]cty.Value{"path": s(p), "owner": s(u), "group": s(g), "mode": s("0750")}), nil)
	d := converge(t, c, r, nil)
	if d.Action != Create {
		t.Errorf("first action %v, want create", d.Action)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o750 {
		t.Errorf("mode %v", fi.Mode())
	}
	// Drift: only the mode is reported, and repaired.
	os.Chmod(p, 0o777)
	_, d, err := diffLocal(t, c, r)
	if err != nil || d.Action != Update || changeAttrs(d) != "mode" || d.Changes[0].Old != "0777" || d.Changes[0].New != "0750" {
		t.Fatalf("drift diff %+v, %v", d, err)
	}
	converge(t, c, r, nil)
	// A file in the way is an error, not a silent replacement.
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o644)
	r2 := mustNew(t, mkres("directory", "f", map[string]cty.Value{"path": s(f)}), nil)
	if _, _, err := diffLocal(t, c, r2); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file in the way: %v", err)
	}
}

func TestDirectoryKeepsNoSetgidSurprise(t *testing.T) {
	c := &localConn{}
	p := filepath.Join(t.TempDir(), "sg")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o2755); err != nil {
		t.Fatal(err)
	}
	r := mustNew(t, mkres("directory", "d", map[string]cty.Value{"path": s(p), "mode": s("0755")}), nil)
	// GNU chmod keeps a directory's setgid bit for a 4-digit mode: the apply must still converge.
	converge(t, c, r, nil)
}

func TestFileConverges(t *testing.T) {
	c := &localConn{}
	u, g := me(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "motd")
	r := mustNew(t, mkres("file", "motd", map[string]cty.Value{"path": s(p), "content": s("hello\n"), "owner": s(u), "group": s(g), "mode": s("0640")}), nil)
	if d := converge(t, c, r, nil); d.Action != Create {
		t.Errorf("action %v", d.Action)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello\n" {
		t.Errorf("content %q", b)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	// No temp file left beside it.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("leftovers in %s: %v", dir, ents)
	}
	// In sync: nothing is uploaded.
	before := len(c.scripts)
	converge(t, c, r, nil)
	if len(c.scripts)-before != 2 {
		t.Errorf("a file in sync ran %d commands, want the 2 reads", len(c.scripts)-before)
	}
	// Content drift is only a content change.
	os.WriteFile(p, []byte("changed\n"), 0o640)
	_, d, _ := diffLocal(t, c, r)
	if changeAttrs(d) != "content" {
		t.Errorf("drift changes %s", changeAttrs(d))
	}
	converge(t, c, r, nil)
}

// A new file's missing parent directories are created, as install -D does (/etc/motd.d is not
// there on a fresh Debian host).
func TestFileCreatesParents(t *testing.T) {
	c := &localConn{}
	u, g := me(t)
	p := filepath.Join(t.TempDir(), "motd.d", "sub", "perf")
	r := mustNew(t, mkres("file", "motd", map[string]cty.Value{"path": s(p), "content": s("hi\n"), "owner": s(u), "group": s(g)}), nil)
	if d := converge(t, c, r, nil); d.Action != Create {
		t.Errorf("action %v, want create", d.Action)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "hi\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Dir(p)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("parent: %v, %v; want a 0755 directory", fi, err)
	}
}

func TestFileSourceAndSensitive(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "src.txt"), []byte("from source"), 0o600)
	m := mkres("file", "f", map[string]cty.Value{"path": s(filepath.Join(dir, "out")), "source": s("src.txt")})
	m.Dir = dir
	m.Sensitive["source"] = true
	c := &localConn{}
	r := mustNew(t, m, nil)
	_, d, _ := diffLocal(t, c, r)
	if !d.Changes[0].Sensitive {
		t.Error("a sensitive source must give a sensitive change")
	}
	if b := d.After(); b["content"] != "(sensitive)" {
		t.Errorf("After() = %v", b)
	}
	for _, bad := range []map[string]cty.Value{
		{"path": s("relative"), "content": s("x")},
		{"path": s("/a/../b"), "content": s("x")},
		{"path": s("/a"), "content": s("x"), "owner": s("bad name")},
		{"path": s("/a"), "content": s("x"), "mode": s("rwx")},
		{"path": s("/a"), "source": s("does-not-exist")},
	} {
		if _, err := New(mkres("file", "bad", bad), nil); err == nil {
			t.Errorf("New accepted %v", bad)
		}
	}
}

func TestPermissions(t *testing.T) {
	c := &localConn{}
	p := filepath.Join(t.TempDir(), "bin")
	r := mustNew(t, mkres("permissions", "p", map[string]cty.Value{"path": s(p), "mode": s("0750")}), nil)
	if _, _, err := diffLocal(t, c, r); !errors.Is(err, ErrNotReady) {
		t.Fatalf("missing path: %v, want ErrNotReady", err)
	}
	os.WriteFile(p, []byte("x"), 0o755)
	converge(t, c, r, nil)
}

func TestOwnershipScriptOrder(t *testing.T) {
	tests := []struct {
		name string
		own  ownership
		st   pathState
		want []string
	}{
		{"group then mode", ownership{group: "perf_users", mode: 0o750, hasMode: true},
			pathState{exists: true, owner: "root", group: "root", mode: 0o755},
			[]string{"chmod 00750 -- /p", "chgrp -- perf_users /p"}},
		{"narrow before handing over", ownership{owner: "alice", group: "staff", mode: 0o600, hasMode: true},
			pathState{exists: true, owner: "root", group: "root", mode: 0o644},
			[]string{"chmod 00600 -- /p", "chown -- alice:staff /p"}},
		{"mode only", ownership{mode: 0o750, hasMode: true},
			pathState{exists: true, owner: "root", group: "root", mode: 0o755},
			[]string{"chmod 00750 -- /p"}},
		{"chown clears setuid: mode again", ownership{owner: "bob", mode: 0o4750, hasMode: true},
			pathState{exists: true, owner: "root", group: "root", mode: 0o4750},
			[]string{"chmod 00750 -- /p", "chown -- bob /p", "chmod 04750 -- /p"}},
		{"in sync", ownership{owner: "root", mode: 0o644, hasMode: true},
			pathState{exists: true, owner: "root", group: "root", mode: 0o644}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Split(strings.TrimSpace(tt.own.script("/p", tt.st)), "\n")
			if len(got) == 1 && got[0] == "" {
				got = nil
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("script\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCommandGuards(t *testing.T) {
	c := &localConn{}
	dir := t.TempDir()
	marker := filepath.Join(dir, "done")
	r := mustNew(t, mkres("command", "c", map[string]cty.Value{
		"run":     s("touch \"$TARGET\""),
		"creates": s(marker),
		"env":     cty.MapVal(map[string]cty.Value{"TARGET": s(marker)}),
	}), nil)
	if d := converge(t, c, r, nil); d.Action != Update || d.Changes[0].New != "touch \"$TARGET\"" {
		t.Errorf("first diff %+v", d)
	}
	// unless and only_if.
	r2 := mustNew(t, mkres("command", "u", map[string]cty.Value{"run": s("false"), "unless": s("test -e " + marker)}), nil)
	if _, d, _ := diffLocal(t, c, r2); !d.InSync() {
		t.Error("unless exiting 0 must skip the command")
	}
	r3 := mustNew(t, mkres("command", "o", map[string]cty.Value{"run": s("true"), "only_if": s("test -e " + marker + ".nope")}), nil)
	if _, d, _ := diffLocal(t, c, r3); !d.InSync() {
		t.Error("only_if exiting non-zero must skip the command")
	}
	r4 := mustNew(t, mkres("command", "f", map[string]cty.Value{"run": s("echo boom >&2; exit 3")}), nil)
	st, d, _ := diffLocal(t, c, r4)
	if err := r4.Apply(context.Background(), &Target{Conn: c}, st, d); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing command: %v", err)
	}
	if v := r4.(interface{ Verifiable() bool }); v.Verifiable() {
		t.Error("a command without creates/unless cannot be verified")
	}
}

// elfCopy copies a small ELF binary of this machine into dir.
func elfCopy(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	src, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true binary")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func TestCapabilitiesRefusals(t *testing.T) {
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skip("setcap not installed")
	}
	c := &localConn{}
	dir := trustedTempDir(t)
	elf := elfCopy(t, dir, "perf", 0o750)
	groupWritable := elfCopy(t, dir, "gw", 0o770)
	userDir := filepath.Join(dir, "alice")
	os.Mkdir(userDir, 0o755)
	os.Chown(userDir, 65534, 65534)
	swappable := elfCopy(t, userDir, "perf", 0o750)
	inTmp := elfCopy(t, t.TempDir(), "perf", 0o750)
	script := filepath.Join(dir, "wrapper")
	os.WriteFile(script, []byte("#!/bin/sh\nexec perf \"$@\"\n"), 0o750)
	link := filepath.Join(dir, "link")
	os.Symlink(elf, link)
	world := elfCopy(t, dir, "world", 0o755)
	caps := list("cap_perfmon", "cap_sys_ptrace", "cap_syslog")
	tests := []struct {
		path    string
		follow  bool
		wantErr string
	}{
		{elf, false, ""},
		{script, false, "is a script"},
		{link, false, "is a symlink"},
		{link, true, ""},
		{world, false, "executable by everyone"},
		{filepath.Join(dir, "missing"), false, "does not exist"},
		{groupWritable, false, "the binary " + groupWritable + " is writable by its group (mode 0770)"},
		{swappable, false, userDir + " (a directory above " + swappable + ") is owned by nobody (mode 0755), not root"},
		{inTmp, false, "/tmp (a directory above " + inTmp + ") is writable by group and others (mode 1777; the sticky bit"},
	}
	for _, tt := range tests {
		r := mustNew(t, mkres("capabilities", "perf", map[string]cty.Value{"path": s(tt.path), "caps": caps, "follow_symlinks": cty.BoolVal(tt.follow)}), nil)
		_, d, err := diffLocal(t, c, r)
		if tt.wantErr == "" {
			if err != nil || d.Action != Create {
				t.Errorf("%s: diff %+v, err %v", tt.path, d, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.path, err, tt.wantErr)
		}
	}
}

// TestCapabilitiesApply sets capabilities on a private copy of an ELF binary (never on a file of
// the system), verifies, detects drift and removes them.
func TestCapabilitiesApply(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setcap needs root")
	}
	if _, err := exec.LookPath("setcap"); err != nil {
		t.Skip("setcap not installed")
	}
	c := &localConn{}
	elf := elfCopy(t, trustedTempDir(t), "perf", 0o750)
	r := mustNew(t, mkres("capabilities", "perf", map[string]cty.Value{"path": s(elf), "caps": list("cap_perfmon", "cap_sys_ptrace", "cap_syslog")}), nil)
	st, d, err := diffLocal(t, c, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(context.Background(), &Target{Conn: c}, st, d); err != nil {
		if strings.Contains(err.Error(), "extended attributes") {
			t.Skipf("temp dir cannot hold capabilities: %v", err)
		}
		t.Fatal(err)
	}
	if _, d, err := diffLocal(t, c, r); err != nil || !d.InSync() {
		t.Fatalf("after setcap: %+v %v", d, err)
	}
	// chgrp erases file capabilities: the drift is exactly the caps.
	exec.Command("chgrp", "root", elf).Run()
	if _, d, _ := diffLocal(t, c, r); changeAttrs(d) != "caps" || d.Changes[0].Old != "" {
		t.Errorf("after chgrp: %+v", d)
	}
	converge(t, c, r, nil)
	// A different set is an update; an empty set removes them.
	r2 := mustNew(t, mkres("capabilities", "perf", map[string]cty.Value{"path": s(elf), "caps": list("cap_perfmon")}), nil)
	if d := converge(t, c, r2, nil); d.Action != Update {
		t.Errorf("narrowing: %v", d.Action)
	}
	r3 := mustNew(t, mkres("capabilities", "perf", map[string]cty.Value{"path": s(elf), "caps": list()}), nil)
	if d := converge(t, c, r3, nil); d.Action != Delete {
		t.Errorf("removing: %v", d.Action)
	}
}
