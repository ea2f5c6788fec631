package debuglog

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
)

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Level
		bad  bool
	}{{"", Off, false}, {"off", Off, false}, {"DEBUG", Debug, false}, {" trace ", Trace, false}, {"verbose", Off, true}} {
		got, err := ParseLevel(tc.in)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil || !strings.Contains(err.Error(), "want debug, trace or off") {
		t.Errorf("error %v does not say what is accepted", err)
	}
}

// fakeConn answers every command with its script on stdout and records the stdin it got.
type fakeConn struct{ stdin []byte }

func (f *fakeConn) Run(_ context.Context, cmd transport.Command) (*transport.Result, error) {
	if cmd.Stdin != nil {
		f.stdin, _ = io.ReadAll(cmd.Stdin)
	}
	return &transport.Result{ExitStatus: 3, Stdout: []byte(cmd.Script), Stderr: []byte("failed with pw-123456 in it")}, nil
}
func (f *fakeConn) Upload(_ context.Context, _ string, r io.Reader, _ fs.FileMode) error {
	_, _ = io.Copy(io.Discard, r)
	return nil
}
func (f *fakeConn) Download(context.Context, string, io.Writer) error { return nil }
func (f *fakeConn) Host() string                                      { return "web1" }
func (f *fakeConn) Close() error                                      { return nil }

func TestConnLogsCommandsWithoutSecrets(t *testing.T) {
	var out bytes.Buffer
	l := New(&out, Trace)
	l.now = func() time.Time { return time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) }
	l.Secret("tok")
	l.Secret("tok-secret-42") // longer, and holding the shorter: replaced as a whole
	l.Secret("pw-123456")
	c := Conn(&fakeConn{}, l)
	res, err := c.Run(context.Background(), transport.Command{Script: "echo tok-secret-42 > /etc/x\n", Privileged: true, Quick: true, Stdin: strings.NewReader("pw-123456\n")})
	if err != nil || res.ExitStatus != 3 {
		t.Fatalf("Run: %v %v", res, err)
	}
	if err := c.Upload(context.Background(), "/etc/y", strings.NewReader("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		`10:00:00.000 debug: web1: command (privileged, quick, with stdin) "echo (sensitive) > /etc/x" (28 bytes) in `,
		"exit 3, 28 bytes out, 27 bytes err",
		"trace: web1: script of that command (28 bytes):\n    | echo (sensitive) > /etc/x\n",
		"trace: web1: its stderr:\n    | failed with (sensitive) in it\n",
		"debug: web1: upload /etc/y (mode 0640, 5 bytes) in ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	for _, s := range []string{"tok-secret-42", "pw-123456", "-secret-42"} {
		if strings.Contains(got, s) {
			t.Errorf("log shows %q:\n%s", s, got)
		}
	}
}

func TestOffLogsNothing(t *testing.T) {
	if l := New(&bytes.Buffer{}, Off); l != nil || l.Enabled(Debug) || l.Func() != nil {
		t.Fatal("an Off log must be nil and disabled")
	}
	var l *Log
	l.Printf(Debug, "x")
	l.Secret("x")
	inner := &fakeConn{}
	if Conn(inner, nil) != transport.Conn(inner) {
		t.Error("Conn must return the connection itself when the log is off")
	}
}
