package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A ProxyCommand connection, as OpenSSH makes one (sshconnect.c ssh_proxy_connect): the command
// runs locally under /bin/sh -c "exec COMMAND", and its stdin and stdout are the transport. Its
// stderr is passed on line by line (Config.ProxyStderr), and the last line is kept for the error
// when it ends. It runs in a process group of its own, which is ended when the connection is.

// proxyGrace is how long a proxy command has after SIGTERM before its process group is killed.
const proxyGrace = 2 * time.Second

// maxStderrLine bounds one line of the command's stderr that is kept or passed on.
const maxStderrLine = 1024

type proxyConn struct {
	command string
	cmd     *exec.Cmd
	in      *os.File // the command's stdin, our end
	out     *os.File // the command's stdout, our end

	mu       sync.Mutex
	lastLine string
	stderrOK chan struct{} // closed once stderr is read to its end

	exited chan struct{} // closed once the command has exited
	state  *os.ProcessState
	// killed: perfprov ended the command (the connection was closed) before it exited.
	killed    bool
	closeOnce sync.Once
	// eof: the command closed its stdout (or stdin), so the connection's end is its doing.
	eof atomic.Bool
}

// startProxy starts command (already expanded), with stderr lines given to stderr (nil: dropped).
func startProxy(command string, stderr func(line string)) (*proxyConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proxy command: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("proxy command: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("proxy command: %w", err)
	}
	// "exec": the shell becomes the command, as OpenSSH does, so that signals reach it.
	cmd := exec.Command("/bin/sh", "-c", "exec "+command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	// Its own process group, so that closing ends everything it started; and SIGTERM if perfprov
	// dies without closing it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("proxy command %q: %w", command, err)
	}
	p := &proxyConn{command: command, cmd: cmd, in: inW, out: outR,
		stderrOK: make(chan struct{}), exited: make(chan struct{})}
	go p.readStderr(errR, stderr)
	go func() {
		_ = cmd.Wait() // the state says how it ended
		p.mu.Lock()
		p.state = cmd.ProcessState
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

func (p *proxyConn) readStderr(r *os.File, sink func(string)) {
	defer close(p.stderrOK)
	defer r.Close()
	br := bufio.NewReaderSize(r, maxStderrLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			// A longer line is passed on in pieces; the last piece is kept.
			s := strings.TrimRight(string(line), "\r\n")
			if strings.TrimSpace(s) != "" {
				p.mu.Lock()
				p.lastLine = s
				p.mu.Unlock()
				if sink != nil {
					sink(s)
				}
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func (p *proxyConn) Read(b []byte) (int, error) {
	n, err := p.out.Read(b)
	if errors.Is(err, io.EOF) {
		p.eof.Store(true)
	}
	return n, err
}

// ended says whether the command ended the connection (closed its output or input) rather than
// perfprov.
func (p *proxyConn) ended() bool { return p.eof.Load() }
func (p *proxyConn) Write(b []byte) (int, error) {
	n, err := p.in.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.eof.Store(true)
	}
	return n, err
}

// Close ends the connection: the command's process group (SIGTERM, then SIGKILL after
// proxyGrace), then both pipes, and waits for the command to exit. The group is signalled even
// when the command has exited already: what it started in the background goes with it.
func (p *proxyConn) Close() error {
	p.closeOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		p.mu.Lock()
		p.killed = p.state == nil
		p.mu.Unlock()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		p.in.Close()
		p.out.Close()
		select {
		case <-p.exited:
		case <-time.After(proxyGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.exited
		}
	})
	return nil
}

// failure says why the command ended the connection, once it has exited (within wait; nil if
// it still runs then): its exit status, or that perfprov ended it after it closed its output,
// and its last line of stderr. when ("before the SSH handshake") follows the status.
func (p *proxyConn) failure(wait time.Duration, when string) error {
	select {
	case <-p.exited:
	case <-time.After(wait):
		return nil
	}
	// Its stderr ends with it, unless something it started holds it open.
	select {
	case <-p.stderrOK:
	case <-time.After(200 * time.Millisecond):
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	status := fmt.Sprintf("exited with status %d", p.state.ExitCode())
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		status = "was killed by signal " + ws.Signal().String()
		if p.killed && (ws.Signal() == syscall.SIGTERM || ws.Signal() == syscall.SIGKILL) {
			// A command that ends the connection but not itself: perfprov's close ended it.
			status = "closed the connection (perfprov then ended it)"
		}
	}
	last := p.lastLine
	if last == "" {
		last = "(nothing on its stderr)"
	}
	if when != "" {
		status += " " + when
	}
	return fmt.Errorf("proxy command %q %s: %s", p.command, status, last)
}

func (p *proxyConn) LocalAddr() net.Addr  { return proxyAddr("perfprov") }
func (p *proxyConn) RemoteAddr() net.Addr { return proxyAddr(p.command) }

func (p *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(p.in.SetWriteDeadline(t), p.out.SetReadDeadline(t))
}
func (p *proxyConn) SetReadDeadline(t time.Time) error  { return p.out.SetReadDeadline(t) }
func (p *proxyConn) SetWriteDeadline(t time.Time) error { return p.in.SetWriteDeadline(t) }

// proxyAddr is the "address" of a connection through a proxy command: the command.
type proxyAddr string

func (a proxyAddr) Network() string { return "proxy-command" }
func (a proxyAddr) String() string  { return string(a) }

var _ net.Conn = (*proxyConn)(nil)
