package captrust

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runScript runs Script on this machine for bin (and tool), as a host's shell would.
func runScript(t *testing.T, bin, tool string) Report {
	t.Helper()
	c := exec.Command("/bin/sh", "-c", "_ct_r=\"$1\"; _ct_x=\"$2\"\n"+Script+"echo done=1", "sh", bin, tool)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	if !bytes.HasSuffix(out, []byte("done=1\n")) {
		t.Fatalf("script did not run to its end: %s", out)
	}
	return Parse(out)
}

// dynStrings is what debug/elf reads as DT_RPATH and DT_RUNPATH: the oracle for the awk parser.
func dynStrings(t *testing.T, path string) (rpath, runpath []string, ok bool) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, nil, false
	}
	defer f.Close()
	rpath, err1 := f.DynString(elf.DT_RPATH)
	runpath, err2 := f.DynString(elf.DT_RUNPATH)
	return rpath, runpath, err1 == nil && err2 == nil
}

// TestScriptReadsLibraryPaths: the od/awk reader finds the same RPATH and RUNPATH as Go's
// debug/elf, on the fixtures and on this machine's own binaries and libraries.
func TestScriptReadsLibraryPaths(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	for i, f := range files {
		files[i], _ = filepath.Abs(f)
	}
	for _, pattern := range []string{"/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/x86_64-linux-gnu/*/*.so*"} {
		m, _ := filepath.Glob(pattern)
		if len(m) > 40 {
			m = m[:40]
		}
		files = append(files, m...)
	}
	checked, withPath := 0, 0
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || !st.Mode().IsRegular() {
			continue
		}
		rpath, runpath, ok := dynStrings(t, f)
		if !ok {
			continue
		}
		r := runScript(t, f, "")
		if !r.ELF || !slices.Equal(r.RPath, rpath) || !slices.Equal(r.RunPath, runpath) {
			t.Errorf("%s: script read elf=%v rpath %q runpath %q; debug/elf: %q %q", f, r.ELF, r.RPath, r.RunPath, rpath, runpath)
		}
		checked++
		if len(rpath)+len(runpath) > 0 {
			withPath++
		}
	}
	if checked < 20 || withPath < 2 {
		t.Fatalf("checked %d ELF files, %d with a library path: too few to mean anything", checked, withPath)
	}
}

// synthELF is a minimal ELF with one loadable segment and a dynamic segment naming rpath (DT_RPATH)
// and runpath (DT_RUNPATH): the 32-bit and big-endian layouts no compiler here makes.
func synthELF(is64 bool, order binary.ByteOrder, rpath, runpath string) []byte {
	ehsize, phsize, word := 52, 32, 4
	if is64 {
		ehsize, phsize, word = 64, 56, 8
	}
	const vaddr = 0x10000
	strtab := "\x00" + rpath + "\x00" + runpath + "\x00"
	phoff := ehsize
	dynoff := phoff + 2*phsize
	dyn := [][2]uint64{{5, 0}, {15, 1}, {29, uint64(2 + len(rpath))}, {0, 0}}
	stroff := dynoff + len(dyn)*2*word
	total := stroff + len(strtab)
	b := make([]byte, total)
	put := func(off, size int, v uint64) {
		switch size {
		case 2:
			order.PutUint16(b[off:], uint16(v))
		case 4:
			order.PutUint32(b[off:], uint32(v))
		default:
			order.PutUint64(b[off:], v)
		}
	}
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = 1, 1, 1
	if is64 {
		b[4] = 2
	}
	if order == binary.BigEndian {
		b[5] = 2
	}
	dyn[0][1] = vaddr + uint64(stroff)
	if is64 {
		put(32, 8, uint64(phoff))
		put(54, 2, uint64(phsize))
		put(56, 2, 2)
	} else {
		put(28, 4, uint64(phoff))
		put(42, 2, uint64(phsize))
		put(44, 2, 2)
	}
	ph := func(i int, typ, off, va, size uint64) {
		o := phoff + i*phsize
		put(o, 4, typ)
		if is64 {
			put(o+8, 8, off)
			put(o+16, 8, va)
			put(o+32, 8, size)
		} else {
			put(o+4, 4, off)
			put(o+8, 4, va)
			put(o+16, 4, size)
		}
	}
	ph(0, 1, 0, vaddr, uint64(total))
	ph(1, 2, uint64(dynoff), vaddr+uint64(dynoff), uint64(len(dyn)*2*word))
	for i, d := range dyn {
		put(dynoff+i*2*word, word, d[0])
		put(dynoff+i*2*word+word, word, d[1])
	}
	copy(b[stroff:], strtab)
	return b
}

func TestScriptReadsOtherLayouts(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		is64  bool
		order binary.ByteOrder
	}{
		{"elf32-le", false, binary.LittleEndian},
		{"elf32-be", false, binary.BigEndian},
		{"elf64-le", true, binary.LittleEndian},
		{"elf64-be", true, binary.BigEndian},
	} {
		p := filepath.Join(dir, tt.name)
		if err := os.WriteFile(p, synthELF(tt.is64, tt.order, "$ORIGIN/lib", "/opt/a:/opt/b"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runScript(t, p, "")
		if !r.ELF || !slices.Equal(r.RPath, []string{"$ORIGIN/lib"}) || !slices.Equal(r.RunPath, []string{"/opt/a:/opt/b"}) {
			t.Errorf("%s: elf=%v rpath %q runpath %q", tt.name, r.ELF, r.RPath, r.RunPath)
		}
	}
	// Control characters never reach the output as such: one line per string.
	p := filepath.Join(dir, "ctl")
	if err := os.WriteFile(p, synthELF(true, binary.LittleEndian, "/opt/x\nct=bin 0 root 755 /opt/x", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runScript(t, p, ""); !r.Control || len(r.RPath) != 1 || strings.Contains(r.RPath[0], "\n") {
		t.Errorf("control characters: %+v", r)
	}
}

// TestScriptChains: the binary, the directories above it, the tool and the library directories
// (resolved, and the nearest existing one for a missing directory) are all stat'ed.
func TestScriptChains(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "perf")
	if err := os.WriteFile(bin, synthELF(true, binary.LittleEndian, lib+":"+dir+"/missing/deeper", ""), 0o750); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, bin, "/bin/true")
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.Role+" "+e.Path)
	}
	for _, want := range []string{"bin " + bin, "bin " + dir, "bin /", "tool /usr/bin/true", "tool /usr", "rpath " + lib, "rpath " + dir} {
		if !slices.Contains(got, want) {
			t.Errorf("no entry %q in %q", want, got)
		}
	}
}

func TestCheck(t *testing.T) {
	const bin = "/opt/perf/bin/perf"
	ok := []Entry{
		{"bin", 0, "root", 0o750, bin}, {"bin", 0, "root", 0o755, "/opt/perf/bin"},
		{"bin", 0, "root", 0o755, "/opt/perf"}, {"bin", 0, "root", 0o755, "/opt"}, {"bin", 0, "root", 0o755, "/"},
	}
	with := func(e ...Entry) []Entry { return append(slices.Clone(ok), e...) }
	tests := []struct {
		name string
		r    Report
		want string // "" passes
	}{
		{"root-owned path", Report{Entries: ok, ELF: true}, ""},
		{"binary owned by a user", Report{Entries: with(Entry{"bin", 1000, "alice", 0o750, bin}), ELF: true},
			"the binary /opt/perf/bin/perf is owned by alice (mode 0750), not root"},
		{"group-writable binary", Report{Entries: with(Entry{"bin", 0, "root", 0o770, bin}), ELF: true},
			"the binary /opt/perf/bin/perf is writable by its group (mode 0770)"},
		{"directory owned by a user", Report{Entries: with(Entry{"bin", 1000, "alice", 0o755, "/srv/perfx"}), ELF: true},
			"/srv/perfx (a directory above /opt/perf/bin/perf) is owned by alice (mode 0755), not root"},
		{"sticky world-writable directory", Report{Entries: with(Entry{"bin", 0, "root", 0o1777, "/tmp"}), ELF: true},
			"/tmp (a directory above /opt/perf/bin/perf) is writable by group and others (mode 1777; the sticky bit"},
		{"unknown owner", Report{Entries: with(Entry{"bin", 4242, "UNKNOWN", 0o755, "/opt"}), ELF: true}, "owned by uid 4242"},
		{"tool owned by a user", Report{Entries: with(Entry{"tool", 1000, "alice", 0o755, "/opt/libcap/sbin/setcap"}), ELF: true},
			"/opt/libcap/sbin/setcap (the setcap root runs"},
		{"rpath directory writable", Report{Entries: with(Entry{"rpath", 0, "root", 0o777, "/opt/libcap/lib"}), ELF: true, RPath: []string{"/opt/libcap/lib"}},
			"/opt/libcap/lib (a library directory /opt/perf/bin/perf names"},
		{"rpath root-owned", Report{Entries: with(Entry{"rpath", 0, "root", 0o755, "/opt/libcap/lib"}), ELF: true, RPath: []string{"/opt/libcap/lib"}}, ""},
		{"$ORIGIN", Report{Entries: ok, ELF: true, RunPath: []string{"/usr/lib:$ORIGIN/../lib"}}, `$ORIGIN/../lib is a loader token`},
		{"relative entry", Report{Entries: ok, ELF: true, RPath: []string{"lib"}}, `relative entry "lib"`},
		{"empty entry", Report{Entries: ok, ELF: true, RPath: []string{"/usr/lib:"}}, `relative entry ""`},
		{"control characters", Report{Entries: ok, ELF: true, RPath: []string{"/a?b"}, Control: true}, "control characters"},
		{"binary not seen", Report{Entries: ok[1:], ELF: true}, "could not stat /opt/perf/bin/perf"},
		{"not read", Report{Entries: ok}, "could not read the ELF header"},
	}
	for _, tt := range tests {
		err := tt.r.Check(bin)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	// Refusals of ownership and library paths are ErrUntrusted; not being able to look is not.
	if err := (Report{Entries: with(Entry{"bin", 1000, "alice", 0o750, bin}), ELF: true}).Check(bin); !errors.Is(err, ErrUntrusted) {
		t.Errorf("ownership refusal is not ErrUntrusted: %v", err)
	}
	if err := (Report{Entries: ok}).Check(bin); errors.Is(err, ErrUntrusted) {
		t.Errorf("a failed read is ErrUntrusted: %v", err)
	}
}

// TestScriptOnThisMachine: a system binary passes; one under a temporary directory (/tmp is
// sticky and world-writable) and one in a directory owned by another user are refused.
func TestScriptOnThisMachine(t *testing.T) {
	if err := runScript(t, "/usr/bin/true", "").Check("/usr/bin/true"); err != nil {
		t.Errorf("/usr/bin/true: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "perf")
	if err := os.WriteFile(bin, synthELF(true, binary.LittleEndian, "/usr/lib", ""), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := runScript(t, bin, "").Check(bin); err == nil || !strings.Contains(err.Error(), "not root") && !strings.Contains(err.Error(), "writable by") {
		t.Errorf("binary under %s: %v", dir, err)
	}
	if os.Geteuid() != 0 {
		return // chown needs root; make test runs as root
	}
	owned := filepath.Join(dir, "alice")
	if err := os.Mkdir(owned, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, filepath.Join(owned, "x"), "")
	found := false
	for _, e := range r.Entries {
		if e.Path == owned {
			found = true
			if err := e.check(filepath.Join(owned, "x")); err == nil || !strings.Contains(err.Error(), "is owned by ") {
				t.Errorf("%s owned by 65534: %v", owned, err)
			}
		}
	}
	if !found {
		t.Errorf("no entry for %s: %+v", owned, r.Entries)
	}
}
