package become

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/internal/script"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

func TestSudoCommand(t *testing.T) {
	tests := []struct {
		target   string
		password bool
		script   string
		want     string
	}{
		{"root", false, "id -u", `sudo -n -- /bin/sh -c R perfprov /bin/sh -c 'id -u'`},
		{"root", true, "id -u", `sudo -k -S -p '' -- /bin/sh -c R perfprov /bin/sh -c 'id -u'`},
		{"postgres", false, "echo 'a b'", `sudo -n -u postgres -- /bin/sh -c R perfprov /bin/sh -c 'echo '\''a b'\'''`},
		{"bob", true, "true", `sudo -k -S -p '' -u bob -- /bin/sh -c R perfprov /bin/sh -c true`},
	}
	for _, tt := range tests {
		got := strings.Replace(sudoCommand(tt.target, tt.password, tt.script), shell.Quote(script.QuietReaper), "R", 1)
		if got != tt.want {
			t.Errorf("sudoCommand(%q, %v, %q) = %s, want %s", tt.target, tt.password, tt.script, got, tt.want)
		}
	}
}

// sudoHost is an in-process server whose PATH has the fake sudo of testdata/bin.
func sudoHost(t *testing.T, password string) (*ssh.Conn, string) {
	t.Helper()
	bin, _ := filepath.Abs(filepath.Join("testdata", "bin"))
	log := filepath.Join(t.TempDir(), "sudo.log")
	// mktemp -d stages uploads here (see TestSudoUploadDownload).
	tmp := filepath.Join(filepath.Dir(log), "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	c, _ := sshtest.Connected(t, sshtest.Options{Env: []string{
		"PATH=" + bin + ":/usr/bin:/bin", "TMPDIR=" + tmp,
		"FAKE_SUDO_LOG=" + log,
		"FAKE_SUDO_PASSWORD=" + password,
	}})
	return c, log
}

func TestSudoRun(t *testing.T) {
	const secret = "s3cret 'pw' $x"
	tests := []struct {
		name       string
		hostPW     string // what the fake sudo wants ("": NOPASSWD)
		givenPW    string // what perfprov has
		cmd        transport.Command
		wantOut    string
		wantErr    []string
		wantInArgv string
		wantCalls  int // sudo's runs, probes included (0: not checked)
		wantStatus int
	}{
		{name: "nopasswd", cmd: transport.Command{Script: `echo "$FAKE_SUDO_USER"`, Privileged: true}, wantOut: "root\n", wantInArgv: "-n --", wantCalls: 2},
		{name: "a read needs no probe", cmd: transport.Command{Script: `echo "$FAKE_SUDO_USER"`, Privileged: true, Quick: true}, wantOut: "root\n", wantInArgv: "-n --", wantCalls: 1},
		{name: "a read that sudo refuses is run again with the password", hostPW: secret, givenPW: secret,
			cmd: transport.Command{Script: `echo "$FAKE_SUDO_USER"; exit 1`, Privileged: true, Quick: true}, wantOut: "root\n", wantInArgv: "-k -S -p  --", wantCalls: 4, wantStatus: 1},
		{name: "not privileged skips sudo", cmd: transport.Command{Script: `echo "${FAKE_SUDO_USER:-alice}"`}, wantOut: "alice\n"},
		{name: "run as", cmd: transport.Command{Script: `echo "$FAKE_SUDO_USER"`, RunAs: "postgres"}, wantOut: "postgres\n", wantInArgv: "-n -u postgres --"},
		{name: "run as self skips sudo", cmd: transport.Command{Script: `echo "${FAKE_SUDO_USER:-alice}"`, RunAs: "alice"}, wantOut: "alice\n"},
		{name: "env survives sudo", cmd: transport.Command{Script: `echo "$V"`, Env: map[string]string{"V": "kept"}, Privileged: true}, wantOut: "kept\n"},
		{name: "password on stdin", hostPW: secret, givenPW: secret,
			cmd:     transport.Command{Script: `echo "$FAKE_SUDO_USER"; cat`, Privileged: true, Stdin: strings.NewReader("command input\n")},
			wantOut: "root\ncommand input\n", wantInArgv: "-k -S -p  --"},
		{name: "password, no stdin of its own", hostPW: secret, givenPW: secret,
			cmd: transport.Command{Script: `cat; echo end`, Privileged: true}, wantOut: "end\n"},
		{name: "password needed, none given", hostPW: secret,
			cmd: transport.Command{Script: "true", Privileged: true}, wantErr: []string{"lab1: become: sudo needs a password for alice", "become_password_env"}},
		{name: "wrong password", hostPW: secret, givenPW: "wrong-guess",
			cmd: transport.Command{Script: "true", Privileged: true}, wantErr: []string{"lab1: become: sudo refused the password from $BOB_PW for alice", "incorrect password"}},
		{name: "bad user name", cmd: transport.Command{Script: "true", RunAs: "-u root"}, wantErr: []string{"not a valid user name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, log := sudoHost(t, tt.hostPW)
			s := NewSudo(c, "alice", tt.givenPW, "$BOB_PW")
			res, err := s.Run(context.Background(), tt.cmd)
			if len(tt.wantErr) > 0 {
				sshtest.CheckErr(t, err, tt.wantErr...)
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "wrong-guess") {
					t.Errorf("error shows the password: %v", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if string(res.Stdout) != tt.wantOut || res.ExitStatus != tt.wantStatus {
					t.Errorf("output %q (%q, status %d), want %q", res.Stdout, res.Stderr, res.ExitStatus, tt.wantOut)
				}
			}
			argv, _ := os.ReadFile(log)
			if strings.Contains(string(argv), secret) || strings.Contains(string(argv), "wrong-guess") {
				t.Errorf("password on sudo's command line:\n%s", argv)
			}
			if n := strings.Count(string(argv), "-- /bin/sh -c"); tt.wantCalls > 0 && n != tt.wantCalls {
				t.Errorf("sudo ran %d times, want %d:\n%s", n, tt.wantCalls, argv)
			}
			if tt.wantInArgv != "" && !strings.Contains(string(argv), tt.wantInArgv) {
				t.Errorf("sudo argv %q lacks %q", argv, tt.wantInArgv)
			}
		})
	}
}

func TestSudoUploadDownload(t *testing.T) {
	for _, pw := range []string{"", "pw"} {
		c, log := sudoHost(t, pw)
		s := NewSudo(c, "alice", pw, "")
		dir := t.TempDir()
		target := filepath.Join(dir, "perf-security.conf")
		if err := s.Upload(context.Background(), target, strings.NewReader("kernel.perf_event_paranoid = 2\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("mode %v", st.Mode())
		}
		var b bytes.Buffer
		if err := s.Download(context.Background(), target, &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != "kernel.perf_event_paranoid = 2\n" {
			t.Errorf("downloaded %q", b.String())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("left in the target directory: %v", entries)
		}
		// The move into place ran through sudo, with the script on stdin, not in sudo's argv.
		argv, _ := os.ReadFile(log)
		if !strings.Contains(string(argv), "-- /bin/sh -c") || strings.Contains(string(argv), "mv -f --") {
			t.Errorf("sudo's argv: want the stdin boot and no script, got %s", argv)
		}
		// The private staging directory is gone.
		if left, _ := os.ReadDir(filepath.Join(filepath.Dir(log), "tmp")); len(left) != 0 {
			t.Errorf("staging left behind: %v", left)
		}
	}
}
