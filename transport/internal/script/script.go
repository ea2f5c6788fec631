// Package script is the shell text a transport.Command becomes on a host: its environment
// exported in front of it, the boot that reads it from stdin (never argv), the reaper that lets a
// cancel end it, and the scripts that write files atomically.
package script

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	pathpkg "path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/perfprov/perfprov/internal/shell"
	"github.com/perfprov/perfprov/spec"
	"github.com/perfprov/perfprov/transport"
)

// WithEnv is cmd.Script with cmd.Env exported in front of it: the text the host's shell runs
// (it reaches the shell on stdin: see StdinBoot).
// The environment goes inside the script because sshd accepts only the variables its AcceptEnv
// lists, and sudo resets the environment.
func WithEnv(cmd transport.Command) (string, error) {
	if len(cmd.Env) == 0 {
		return cmd.Script, nil
	}
	names := make([]string, 0, len(cmd.Env))
	for k := range cmd.Env {
		if !spec.ValidEnvName(k) {
			return "", fmt.Errorf("environment variable name %q is not a shell name", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString("export " + k + "=" + shell.Quote(cmd.Env[k]) + "\n")
	}
	b.WriteString(cmd.Script)
	return b.String(), nil
}

// reaper runs its arguments as a command in the background and waits for it, so that a signal
// reaches it at once (a shell runs traps only between foreground commands): on TERM, HUP or INT it
// signals its whole process group. It first reports its PID on stderr (one line, which Run takes
// out) so that a cancel can signal it from a second session. All this because OpenSSH forwards a
// client's signal request only for non-root logins ("session signalling requires privilege
// separation"), and closing the channel of a command without a pty signals nothing: without it, a
// cancelled command would run on. sshd made the session a process group of its own (setsid), so
// kill 0 reaches this command and its children, and nothing else. Stdin is handed over on fd 3
// because an asynchronous command's stdin is /dev/null otherwise.
const reaper = `printf '` + pidPrefix + `%s\n' "$$" >&2
` + QuietReaper

// QuietReaper is the reaper without the PID line, for the command under sudo: sudo relays TERM to
// the command alone, and a user's kill cannot reach root's processes, so the command sudo runs
// must itself take its children down.
const QuietReaper = `exec 3<&0
"$@" <&3 3<&- &
exec 3<&-
trap 'trap - TERM HUP INT; kill -TERM 0' TERM HUP INT
wait $!`

const pidPrefix = "perfprov-pid:"

// PIDFilter takes the reaper's first stderr line out of the stream and keeps the PID in it.
type PIDFilter struct {
	w    io.Writer
	head []byte
	done bool
	pid  chan int // receives the PID once (buffered)
}

func NewPIDFilter(w io.Writer) *PIDFilter {
	return &PIDFilter{w: w, pid: make(chan int, 1)}
}

func (f *PIDFilter) Write(p []byte) (int, error) {
	if f.done {
		return f.w.Write(p)
	}
	n := len(p)
	f.head = append(f.head, p...)
	i := bytes.IndexByte(f.head, '\n')
	if i < 0 && len(f.head) < 64 {
		return n, nil
	}
	f.done = true
	rest := f.head
	if i >= 0 && bytes.HasPrefix(f.head, []byte(pidPrefix)) {
		if pid, err := strconv.Atoi(string(f.head[len(pidPrefix):i])); err == nil && pid > 1 {
			f.pid <- pid
		}
		rest = f.head[i+1:]
	}
	f.head = nil
	if len(rest) > 0 {
		if _, err := f.w.Write(rest); err != nil {
			return n, err
		}
	}
	return n, nil
}

// WaitPID returns the PID the reaper reported, waiting up to limit for it (0: none came).
func (f *PIDFilter) WaitPID(limit time.Duration) int {
	select {
	case pid := <-f.pid:
		f.pid <- pid
		return pid
	default:
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case pid := <-f.pid:
		f.pid <- pid
		return pid
	case <-t.C:
		return 0
	}
}

// ShCommand is the command line sent to the login shell: CMD for /bin/sh -c, quoted once, under
// the reaper. CMD is fixed text (StdinBoot, perhaps behind runuser or sudo): the script itself
// comes on stdin (Framed), so that no value of it shows in a process listing.
func ShCommand(cmd string, quick bool) string {
	if quick {
		return "/bin/sh -c " + shell.Quote(cmd)
	}
	return "/bin/sh -c " + shell.Quote(reaper) + " perfprov /bin/sh -c " + shell.Quote(cmd)
}

// StdinBoot is what /bin/sh -c runs in place of a script: it reads the script from stdin, framed
// by Framed (its length on a line, then its text), and evaluates it in the same shell. The
// script's values (an environment it exports, a sensitive command) thus never appear in argv,
// where every user of the host can read them (ps, /proc/PID/cmdline). read takes the length line
// byte by byte and head -c reads exactly the script, so the rest of stdin is the command's own.
const StdinBoot = `IFS= read -r _pp_n || exit 125
_pp_s=$(head -c "$_pp_n") || exit 125
eval "unset _pp_n _pp_s
$_pp_s"`

// Framed is the stdin that StdinBoot reads: script framed, then rest (nil: nothing). A
// comment ends the frame, so that command substitution keeps the script's last newline (a here
// document's end).
func Framed(script string, rest io.Reader) io.Reader {
	body := script + "\n#"
	frame := strings.NewReader(strconv.Itoa(len(body)) + "\n" + body)
	if rest == nil {
		return frame
	}
	return io.MultiReader(frame, rest)
}

// AsUser wraps script so that a root login runs it as target, with target's supplementary groups
// (runuser and su both call initgroups), without sudo: root needs no become. For any other login,
// or no target, script is returned as it is (run.CheckPrivilege has refused what needs sudo). script
// is StdinBoot: the target's shell reads the script from the stdin it inherits.
// runuser is util-linux's; su is the fallback where it is missing (busybox systems).
func AsUser(login, target, script string) string {
	if login != "root" || target == "" || target == login {
		return script
	}
	run := shell.Join("runuser", "-u", target, "--", "/bin/sh", "-c", script)
	su := shell.Join("su", "-s", "/bin/sh", target, "-c", script)
	return "if command -v runuser >/dev/null 2>&1; then exec " + run + "; else exec " + su + "; fi"
}

// AtomicWrite copies src to a new temporary file beside dst (mktemp: 0600, owned by whoever
// runs it), sets mode, and renames it over dst.
func AtomicWrite(src, dst string, mode fs.FileMode) string {
	slash := strings.LastIndexByte(dst, '/')
	tmpl := dst[:slash+1] + "." + dst[slash+1:] + ".perfprov-XXXXXX"
	return strings.Join([]string{
		"set -e",
		"t=$(mktemp " + shell.Quote(tmpl) + ")",
		`trap 'rm -f "$t"' EXIT`,
		`cat -- ` + shell.Quote(src) + ` > "$t"`,
		"chmod " + chmodMode(mode) + ` "$t"`,
		`mv -f -- "$t" ` + shell.Quote(dst),
	}, "\n")
}

// chmodMode is mode as chmod's octal argument, special bits included.
func chmodMode(mode fs.FileMode) string {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return fmt.Sprintf("%04o", m)
}

// CheckPath refuses a remote path that is not absolute and clean: every path a script or SFTP
// request names is one.
func CheckPath(host, path string) error {
	if !pathpkg.IsAbs(path) || pathpkg.Clean(path) != path || path == "/" {
		return fmt.Errorf("%s: path %q must be absolute and clean", host, path)
	}
	return nil
}
