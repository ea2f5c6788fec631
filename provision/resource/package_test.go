package resource

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/distro"
	"github.com/perfprov/perfprov/spec"
)

func TestPackageManagersAgree(t *testing.T) {
	if !slices.Equal(spec.PackageManagers, distro.Managers) {
		t.Errorf("spec allows %q, distro drives %q", spec.PackageManagers, distro.Managers)
	}
}

// fakePacman answers -Q for the installed names as pacman does ("name version"; an error line
// and exit 1 for the others) and accepts -S.
const fakePacman = `case $1 in
-Q) shift; st=0; for p; do case $p in perf) echo "perf 6.9-1" ;; *) echo "error: package '$p' was not found" >&2; st=1 ;; esac; done; exit $st ;;
-S|-Sy) exit 0 ;;
esac
exit 2`

// TestPackageOnPacman: on a host with pacman (and nothing else), the read finds pacman, reads
// which names are installed, and the install is pacman -S --needed of the missing ones only.
func TestPackageOnPacman(t *testing.T) {
	for _, manager := range []string{"", "pacman"} {
		for _, sh := range fakeShells {
			t.Run(sh+"/manager="+manager, func(t *testing.T) {
				h := newFakeHost(t, map[string]string{"pacman": fakePacman}, "sed", "grep")
				set := map[string]cty.Value{"names": list("perf", "libcap")}
				if manager != "" {
					set["manager"] = s(manager)
				}
				r := mustNew(t, mkres("package", "perf", set), nil)
				out, errOut, status := h.run(t, sh, r.ReadScript())
				if status != 0 || errOut != "" {
					t.Fatalf("read exit %d, stderr %q", status, errOut)
				}
				st, err := r.Parse(Section{Stdout: []byte(out)})
				if err != nil {
					t.Fatal(err)
				}
				d, err := r.Diff(st)
				if err != nil {
					t.Fatal(err)
				}
				if d.Action != Update || d.Changes[0].Old != "perf" || d.Changes[0].New != "perf,libcap" {
					t.Fatalf("diff %+v from read:\n%s", d, out)
				}
				if st.(pkgState).manager != "pacman" {
					t.Errorf("manager %q", st.(pkgState).manager)
				}
				script, err := installScript("pacman", false, r.(*pkg).missing(st.(pkgState)))
				if err != nil {
					t.Fatal(err)
				}
				if _, e, st := h.run(t, sh, script); st != 0 {
					t.Fatalf("install exit %d: %s", st, e)
				}
				calls := h.calls(t)
				if want := "pacman [-S] [--noconfirm] [--needed] [libcap]"; calls[len(calls)-1] != want {
					t.Errorf("calls %q, want the last to be %q", calls, want)
				}
			})
		}
	}
}

// TestPackageApplyUsesFactsManager: the install runs with the manager of the facts (Target.Info),
// which the read's detection agrees with.
func TestPackageApplyUsesFactsManager(t *testing.T) {
	h := newFakeHost(t, map[string]string{"pacman": fakePacman}, "sed", "grep")
	r := mustNew(t, mkres("package", "perf", map[string]cty.Value{"names": list("perf", "libcap")}), nil)
	conn := &scriptConn{run: func(script string) (string, int) {
		out, _, st := h.run(t, "busybox sh", script)
		return out, st
	}}
	st := pkgState{manager: "", installed: map[string]bool{"perf": true}}
	if err := r.Apply(context.Background(), &Target{Conn: conn, Info: HostInfo{PackageManager: "pacman"}}, st, nil); err != nil {
		t.Fatal(err)
	}
	if calls := h.calls(t); len(calls) != 1 || !strings.HasPrefix(calls[0], "pacman [-S]") {
		t.Errorf("calls %q", calls)
	}
}
