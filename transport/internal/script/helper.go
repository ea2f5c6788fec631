package script

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The remote helper: one long-lived /bin/sh per kept connection (the connection daemon holds it,
// see package persist), reading requests from its stdin and answering each on its stdout and
// stderr, so that a short read-only command over a kept connection is one write and one reply —
// no channel to open, no exec to confirm: one round trip where a session costs two or three.
// The idea is mitogen's (one interpreter per connection, an operation is a message and its
// reply), in the one interpreter every host has.
//
// A request is a header line and its bytes:
//
//	S<n>\n<n bytes: a script, then "\n#">        run the script (as StdinBoot runs it), stdin /dev/null
//	G<c> <n>\n<c bytes: a command, then "\n#"><n bytes: stdin, then "#">   run the command (as /bin/sh -c
//	                                             would) with that stdin, through a pipe: it is held in
//	                                             the helper's memory, never in a file (a sudo password
//	                                             may be in it)
//
// The helper runs each in a subshell of its own (an exit, a cd or a variable ends with it), and
// answers with a frame on each stream, after the command's own output:
//
//	stdout: ...\n<marker> <status>\n        stderr: ...\n<marker>\n
//
// The marker is random per helper and reaches it on stdin, never argv: no command's output can
// forge an end. The S form is what a read is: reading its body costs one process (head) and
// its subshell another, beyond the script's own.

// Helper is the remote helper's text, for /bin/sh -c. Its first stdin line is the marker; it
// answers that line with "<marker> ready" on stdout before the first request.
const Helper = `IFS= read -r _pp_m || exit 125
printf '%s ready\n' "$_pp_m"
while IFS= read -r _pp_h; do
case $_pp_h in
S*) _pp_s=$(head -c "${_pp_h#S}") || exit 125
( eval "unset _pp_h _pp_s _pp_m
$_pp_s" ) </dev/null ;;
G*) _pp_n=${_pp_h#G}; _pp_c=${_pp_n% *}; _pp_n=${_pp_n#* }
_pp_s=$(head -c "$_pp_c") || exit 125
_pp_i=$(head -c "$_pp_n") || exit 125
printf '%s' "${_pp_i%#}" | ( eval "unset _pp_h _pp_c _pp_n _pp_i _pp_s _pp_m
$_pp_s" ) ;;
*) exit 125 ;;
esac
_pp_r=$?
printf '\n%s %d\n' "$_pp_m" "$_pp_r"
printf '\n%s\n' "$_pp_m" >&2
done`

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
