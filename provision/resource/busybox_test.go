package resource

import (
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// busyboxHost is a host without shadow (no useradd, usermod, groupadd, getent), as a minimal
// Alpine is: its adduser and addgroup are busybox's, faked here to log what they are given.
func busyboxHost(t *testing.T) *fakeHost {
	return newFakeHost(t, map[string]string{"adduser": "exit 0", "addgroup": "exit 0"})
}

// TestUserWithBusybox: a new user is busybox adduser -D (no password prompt) with the same
// settings useradd would get, then one addgroup per supplementary group; an existing user gets
// the missing groups with addgroup USER GROUP.
func TestUserWithBusybox(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		state userState
		want  []string
	}{
		{"new member", map[string]cty.Value{"groups": list("perf_users", "video")}, userState{},
			[]string{"adduser [-D] [alice]", "addgroup [alice] [perf_users]", "addgroup [alice] [video]"}},
		{"new system user", map[string]cty.Value{"system": cty.True, "shell": s("/sbin/nologin"), "home": s("/var/lib/alice"), "uid": cty.NumberIntVal(901)}, userState{},
			[]string{"adduser [-D] [-S] [-H] [-s] [/sbin/nologin] [-h] [/var/lib/alice] [-u] [901] [alice]"}},
		{"existing user", map[string]cty.Value{"groups": list("perf_users", "wheel")}, userState{exists: true, groups: []string{"alice", "wheel"}},
			[]string{"addgroup [alice] [perf_users]"}},
	}
	for _, tt := range tests {
		for _, sh := range fakeShells {
			t.Run(tt.name+"/"+sh, func(t *testing.T) {
				h := busyboxHost(t)
				r := mustNew(t, mkres("user", "alice", tt.attrs), nil).(*user)
				script, _ := r.ApplyScript(tt.state, nil)
				if _, e, st := h.run(t, sh, script); st != 0 {
					t.Fatalf("exit %d: %s\n%s", st, e, script)
				}
				if got := h.calls(t); !slices.Equal(got, tt.want) {
					t.Errorf("calls %q, want %q", got, tt.want)
				}
			})
		}
	}
	// A failing addgroup fails the script (the user is then reported failed, not converged).
	h := newFakeHost(t, map[string]string{"adduser": "exit 0", "addgroup": "exit 1"})
	r := mustNew(t, mkres("user", "alice", map[string]cty.Value{"groups": list("perf_users")}), nil).(*user)
	script, _ := r.ApplyScript(userState{}, nil)
	if _, _, st := h.run(t, "busybox sh", script); st == 0 {
		t.Error("a failed addgroup did not fail the user")
	}
	// With shadow, useradd does it all.
	h = newFakeHost(t, map[string]string{"useradd": "exit 0", "adduser": "exit 0", "addgroup": "exit 0"})
	h.run(t, "busybox sh", script)
	if got := h.calls(t); len(got) != 1 || !strings.HasPrefix(got[0], "useradd [-m] [-G] [perf_users] [--] [alice]") {
		t.Errorf("with useradd: %q", got)
	}
}

// TestGroupWithBusybox: addgroup [-S] [-g GID] NAME where groupadd is missing; the read finds
// the group in /etc/group without getent.
func TestGroupWithBusybox(t *testing.T) {
	for _, sh := range fakeShells {
		h := busyboxHost(t)
		r := mustNew(t, mkres("group", "perf_users", map[string]cty.Value{"system": cty.True, "gid": cty.NumberIntVal(990)}), nil).(*group)
		script, _ := r.ApplyScript(groupState{}, nil)
		if _, e, st := h.run(t, sh, script); st != 0 {
			t.Fatalf("%s: exit %d: %s", sh, st, e)
		}
		if got := h.calls(t); !slices.Equal(got, []string{"addgroup [-S] [-g] [990] [perf_users]"}) {
			t.Errorf("%s: calls %q", sh, got)
		}
		for name, exists := range map[string]bool{"root": true, "perfprov-no-such-group": false} {
			g := mustNew(t, mkres("group", name, nil), nil)
			out, e, st := h.run(t, sh, g.ReadScript())
			if st != 0 || e != "" {
				t.Fatalf("%s: read exit %d: %s", sh, st, e)
			}
			parsed, err := g.Parse(Section{Stdout: []byte(out)})
			if err != nil {
				t.Fatal(err)
			}
			if gs := parsed.(groupState); gs.exists != exists || exists && gs.gid != "0" {
				t.Errorf("%s: group %s read without getent: %+v", sh, name, gs)
			}
		}
	}
}
