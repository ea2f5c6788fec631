package connect

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/spec"
)

// TestResolveProxyCommand: ssh_config's ProxyCommand or the spec's proxy_command, with OpenSSH's
// tokens expanded for the host it reaches; ProxyJump and ProxyCommand exclude each other (the
// spec's wins over the file's); the first jump host's own ProxyCommand reaches it.
func TestResolveProxyCommand(t *testing.T) {
	ssm := "aws ssm start-session --target %s --document-name AWS-StartSSHSession --parameters portNumber=22"
	tests := []struct {
		name     string
		host     spec.Host
		want     string
		wantJump []string // addresses
		wantErr  string
	}{
		{name: "ssh -W", host: spec.Host{Name: "l", Address: "legacy"}, want: "ssh -W 10.1.0.5:2200 bastion"},
		{name: "%n is the alias", host: spec.Host{Name: "i", Address: "ssm-i1"}, want: strings.Replace(ssm, "%s", "ssm-i1", 1)},
		{name: "first hop's own", host: spec.Host{Name: "v", Address: "via-ssm-bastion"},
			want: strings.Replace(ssm, "%s", "ssm-bastion", 1), wantJump: []string{"ssm-bastion"}},
		{name: "%% is a %", host: spec.Host{Name: "p", Address: "percent"}, want: `sh -c 'printf "100%\n" >&2; exec nc percent 22'`},
		{name: "spec proxy_command wins over ProxyJump", host: spec.Host{Name: "v", Address: "via-ssm-bastion", Conn: spec.Connection{ProxyCommand: "nc %h %p"}},
			want: "nc via-ssm-bastion 22"},
		{name: "spec jump wins over ProxyCommand", host: spec.Host{Name: "l", Address: "legacy", Conn: spec.Connection{Jump: []string{"plainhop"}}},
			wantJump: []string{"plainhop"}},
		{name: "spec none", host: spec.Host{Name: "l", Address: "legacy", Conn: spec.Connection{ProxyCommand: "none"}}},
		{name: "spec host hop's proxy_command", host: spec.Host{Name: "t", Address: "10.0.0.9", Conn: spec.Connection{Jump: []string{"gw"}}},
			want: "ssh -W 192.0.2.1:2022 outer", wantJump: []string{"192.0.2.1"}},
		{name: "a value the shell would read", host: spec.Host{Name: "n", Address: "nasty"},
			wantErr: `n: proxy command "nc %h %p": %h would put "x;reboot" in the command, which is not a plain word to the shell`},
		{name: "a value that is an option", host: spec.Host{Name: "d", Address: "dashed"},
			wantErr: `d: proxy command "nc %h %p": %h would put "-oproxycommand=evil" in the command`},
		{name: "a user with a space", host: spec.Host{Name: "s", Address: "spaced-user", Conn: spec.Connection{ProxyCommand: "nc %h %p -u %r"}},
			wantErr: `s: proxy command "nc %h %p -u %r": %r would put "a b" in the command`},
		{name: "a value not used is not checked", host: spec.Host{Name: "s", Address: "spaced-user-unused"}, want: "nc spaced-user-unused 22"},
		{name: "unknown token", host: spec.Host{Name: "b", Address: "badtoken"},
			wantErr: `b: proxy command "nc %h %x": unknown token %x: a proxy command may use %%, %h, %n, %p and %r`},
	}
	gw := &spec.Host{Name: "gw", Address: "192.0.2.1", Port: 2022, Conn: spec.Connection{ProxyCommand: "ssh -W %h:%p outer"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(&tt.host, Options{SSHConfigPath: filepath.Join("testdata", "ssh_config", "proxy"), HomeDir: "/home/me", LocalUser: "me",
				Getenv: func(string) string { return "" }, Hosts: []*spec.Host{gw}})
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ProxyCommand != tt.want {
				t.Errorf("proxy command %q, want %q", got.ProxyCommand, tt.want)
			}
			var jumps []string
			for _, j := range got.Jump {
				jumps = append(jumps, j.Address)
			}
			if strings.Join(jumps, ",") != strings.Join(tt.wantJump, ",") {
				t.Errorf("jumps %q, want %q", jumps, tt.wantJump)
			}
		})
	}
}
