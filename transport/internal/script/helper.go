package script

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/perfprov/perfprov/internal/shell"
)

// The remote helper: one long-lived /bin/sh per kept connection (the connection daemon holds it,
// see package persist), reading requests from its stdin and answering each on its stdout and
// stderr, so that a short read-only command over a kept connection is one write and one reply —
// no channel to open, no exec to confirm: one round trip where a session costs two or three.
// The idea is mitogen's (one interpreter per connection, an operation is a message and its
// reply), in the one interpreter every host has.
//
// A request, as a run sends it to the daemon, is a header line and its bytes:
//
//	S<n>\n<n bytes: a script, then "\n#">        run the script (as StdinBoot runs it), stdin /dev/null
//	G<c> <n>\n<c bytes: a command, then "\n#"><n bytes: stdin, then "#">   run the command (as /bin/sh -c
//	                                             would) with that stdin, through a pipe: it is held in
//	                                             the helper's memory, never in a file (a sudo password
//	                                             may be in it)
//
// The helper is /bin/sh with no command: it reads its commands from its stdin itself, and the daemon writes
// each request to it as shell (HelperShell): a comment line with its length, then one line that
// holds the script as a single-quoted word. So a request costs the host one process, the
// subshell the script runs in (an exit, a cd or a variable ends with it), and no reader of its
// bytes: the shell parses the line as it reads it, in blocks (a head -c started per request was
// one process more, on every read). Quoting makes every request one well-formed command,
// whatever its script holds: a syntax error in it is the eval's, in the subshell, and never ends
// the helper. bash is the exception that the length line is for: it reads a script from a pipe
// a byte at a time (so as not to read past what it runs), a system call per byte, so under bash
// the helper is a loop that takes each request whole with read -N, in blocks, and evaluates it.
// The answer is a frame on each stream, after the command's own output:
//
//	stdout: ...\n<marker> <status>\n        stderr: ...\n<marker>\n
//
// The marker is random per helper and reaches it on stdin (HelperInit), never argv: no command's
// output can forge an end.

// Helper is the remote helper's command line: a shell that reads its commands from stdin. The
// first thing written to it is HelperInit, then requests as HelperShell writes them.
const Helper = "/bin/sh"

// helperLoop is the helper under bash: each request's length line, then read -N of that many
// bytes (the C locale makes them bytes, not characters; the script's own locale is put back
// before it runs). A bash before 4.1, which has no read -N, reads the requests as any shell.
const helperLoop = `case ${BASH_VERSION-} in '' | [0-3].* | 4.0*) ;; *)
_pp_l=${LC_ALL-}; _pp_L=${LC_ALL+x}
while IFS= read -r _pp_h; do
LC_ALL=C; IFS= read -r -N "${_pp_h#\#}" _pp_s || exit 125
if [ -n "$_pp_L" ]; then LC_ALL=$_pp_l; else unset LC_ALL; fi
eval "unset _pp_h _pp_l _pp_L; $_pp_s"
_pp_l=${LC_ALL-}; _pp_L=${LC_ALL+x}
done
exit ;;
esac
`

// HelperInit is the helper's first input: it keeps marker and answers "<marker> ready" on stdout.
func HelperInit(marker string) []byte {
	return []byte("_pp_m=" + shell.Quote(marker) + "\nprintf '%s ready\\n' \"$_pp_m\"\n" + helperLoop)
}

// helperEnd is what follows each request's command on its line: the frames of its answer.
const helperEnd = "; _pp_r=$?; printf '\\n%s %d\\n' \"$_pp_m\" \"$_pp_r\"; printf '\\n%s\\n' \"$_pp_m\" >&2\n"

// HelperShell is req (a request CheckHelperRequest accepts) as the shell the helper runs: its
// length as a comment line, then the request's line.
func HelperShell(req []byte) ([]byte, error) {
	if err := CheckHelperRequest(req); err != nil {
		return nil, err
	}
	nl := bytes.IndexByte(req, '\n')
	body := req[nl+1:]
	var b strings.Builder
	switch req[0] {
	case 'S':
		// The body ends with "\n#", a comment, as the boot's does: a here document's end line
		// stays a line.
		b.WriteString("( unset _pp_m _pp_r; eval " + shell.Quote(string(body)) + " ) </dev/null")
	case 'G':
		c := wholeNumber(strings.SplitN(string(req[1:nl]), " ", 2)[0])
		cmd, in := string(body[:c]), string(body[c:])
		b.WriteString("printf '%s' " + shell.Quote(strings.TrimSuffix(in, "#")) +
			" | ( unset _pp_m _pp_r; eval " + shell.Quote(cmd) + " )")
	}
	b.WriteString(helperEnd)
	return []byte("#" + strconv.Itoa(b.Len()) + "\n" + b.String()), nil
}

// HelperScript is the helper request that runs script with no stdin.
func HelperScript(text string) []byte {
	body := text + "\n#"
	return []byte("S" + strconv.Itoa(len(body)) + "\n" + body)
}

// HelperCommand is the helper request that runs command (shell text, as /bin/sh -c would) with
// stdin as its standard input.
func HelperCommand(command string, stdin []byte) []byte {
	body := command + "\n#"
	var b bytes.Buffer
	fmt.Fprintf(&b, "G%d %d\n", len(body), len(stdin)+1)
	b.WriteString(body)
	b.Write(stdin)
	b.WriteByte('#')
	return b.Bytes()
}

// CheckHelperRequest says whether req is one whole request in the forms above, so that a
// malformed one never reaches a helper (whose stream it would desynchronise).
func CheckHelperRequest(req []byte) error {
	nl := bytes.IndexByte(req, '\n')
	if nl < 1 {
		return errors.New("helper request: no header")
	}
	head, rest := string(req[1:nl]), len(req)-nl-1
	want := -1
	switch req[0] {
	case 'S':
		want = wholeNumber(head)
	case 'G':
		c, n, ok := strings.Cut(head, " ")
		if ok && wholeNumber(c) >= 0 && wholeNumber(n) >= 0 {
			want = wholeNumber(c) + wholeNumber(n)
		}
	}
	if want < 0 || want != rest {
		return fmt.Errorf("helper request: header %q does not match its %d bytes", req[:nl], rest)
	}
	if bytes.IndexByte(req, 0) >= 0 {
		return errors.New("helper request: a NUL byte, which no shell word holds")
	}
	return nil
}

func wholeNumber(s string) int {
	if s == "" || len(s) > 10 || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	n, _ := strconv.Atoi(s)
	return n
}

// HelperFrames splits a helper's stream into its answers: Next returns the next complete
// answer's body (and, on stdout, its status) once it has been fed.
type HelperFrames struct {
	end        []byte // "\n<marker>"
	withStatus bool
	buf        []byte
	scanned    int // buf[:scanned] holds no end
}

// NewHelperFrames reads one stream of the helper that marker frames; withStatus for stdout.
func NewHelperFrames(marker string, withStatus bool) *HelperFrames {
	return &HelperFrames{end: []byte("\n" + marker), withStatus: withStatus}
}

// Feed adds what the stream gave.
func (f *HelperFrames) Feed(p []byte) { f.buf = append(f.buf, p...) }

// Next returns the next answer when it is complete: its body and status. ok is false while the
// answer is incomplete; err when the stream holds something that is not a frame.
func (f *HelperFrames) Next() (body []byte, status int, ok bool, err error) {
	from := max(f.scanned-len(f.end), 0)
	i := bytes.Index(f.buf[from:], f.end)
	if i < 0 {
		f.scanned = len(f.buf)
		return nil, 0, false, nil
	}
	i += from
	tail := f.buf[i+len(f.end):]
	nl := bytes.IndexByte(tail, '\n')
	if nl < 0 {
		f.scanned = i
		return nil, 0, false, nil
	}
	word := string(tail[:nl])
	if f.withStatus {
		st := wholeNumber(strings.TrimPrefix(word, " "))
		if !strings.HasPrefix(word, " ") || st < 0 {
			return nil, 0, false, fmt.Errorf("remote helper: bad end line %q", word)
		}
		status = st
	} else if word != "" {
		return nil, 0, false, fmt.Errorf("remote helper: bad end line %q", word)
	}
	body = append([]byte(nil), f.buf[:i]...)
	if rest := tail[nl+1:]; len(rest) > 0 {
		f.buf = append(f.buf[:0], rest...)
	} else {
		// Idle between runs: a kept connection holds no buffer the size of its largest answer.
		f.buf = nil
	}
	f.scanned = 0
	return body, status, true, nil
}

// Len is how much of the stream is waiting for its end.
func (f *HelperFrames) Len() int { return len(f.buf) }
