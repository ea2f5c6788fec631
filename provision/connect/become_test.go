package connect

import (
	"testing"

	"github.com/perfprov/perfprov/spec"
)

// TestBecomePasswordSources: a host whose connection names become_password_env takes its
// variable; any other host takes the password typed at -ask-become-pass (Options.BecomePassword);
// become = "none" takes none.
func TestBecomePasswordSources(t *testing.T) {
	getenv := func(k string) string {
		if k == "BOB_PW" {
			return "from-env"
		}
		return ""
	}
	for _, tc := range []struct {
		name       string
		conn       spec.Connection
		typed      string
		pw, source string
		none       bool
	}{
		{"typed", spec.Connection{}, "typed-pw", "typed-pw", becomePromptSource, false},
		{"env wins", spec.Connection{BecomePasswordEnv: "BOB_PW"}, "typed-pw", "from-env", "$BOB_PW", false},
		{"env alone", spec.Connection{BecomePasswordEnv: "BOB_PW"}, "", "from-env", "$BOB_PW", false},
		{"neither", spec.Connection{}, "", "", "", false},
		{"become none", spec.Connection{Become: spec.BecomeNone}, "typed-pw", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(&spec.Host{Name: "h", Address: "127.0.0.1", Conn: tc.conn},
				Options{SSHConfigPath: "none", HomeDir: t.TempDir(), Getenv: getenv, BecomePassword: tc.typed})
			b, err := r.become()
			if err != nil || b.password != tc.pw || b.source != tc.source || b.none != tc.none {
				t.Errorf("become() = %+v, %v; want password %q from %q (none %v)", b, err, tc.pw, tc.source, tc.none)
			}
		})
	}
}
