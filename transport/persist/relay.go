package persist

import (
	"errors"
	"fmt"
	"io"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/perfprov/perfprov/transport/ssh"
)

// relayChannel opens the run's channel on the host's connection and relays both ways: data,
// stderr, EOF and requests (exec, subsystem, signal, exit-status...). The host's answers go to the
// run in the order the host gave them: the reply to a request (exec's, above all) before the
// command's exit status and the channel's close, and the exit status after all of the output, as
// OpenSSH sends them. A quick command's reply, exit status and close come in one burst; relayed
// by two goroutines without that order, the run would see its channel close before exec's reply
// ("start command: EOF") for a command that did run.
func relayChannel(up *ssh.Conn, nch gossh.NewChannel) {
	uch, ureqs, err := up.Client().OpenChannel(nch.ChannelType(), nch.ExtraData())
	if err != nil {
		rejectChannel(up, nch, err)
		return
	}
	lch, lreqs, err := nch.Accept()
	if err != nil {
		uch.Close()
		return
	}
	var output sync.WaitGroup
	output.Add(2)
	go func() { _, _ = io.Copy(lch, uch); output.Done() }()
	go func() { _, _ = io.Copy(lch.Stderr(), uch.Stderr()); output.Done() }()
	go func() { output.Wait(); _ = lch.CloseWrite() }()
	go func() {
		_, _ = io.Copy(uch, lch)
		_ = uch.CloseWrite()
	}()
	// answering is held while a request of the run waits for the host's answer. The host
	// answered it before it ended the command (the request was sent first), so taking answering
	// before passing on the end waits for that answer to reach the run.
	var answering sync.Mutex
	go func() {
		for r := range lreqs {
			if !r.WantReply {
				_, _ = uch.SendRequest(r.Type, false, r.Payload)
				continue
			}
			answering.Lock()
			ok, err := uch.SendRequest(r.Type, true, r.Payload)
			if err == nil {
				_ = r.Reply(ok, nil)
			} // else the host's channel closed unanswered: so does the run's, below, as it would direct
			answering.Unlock()
		}
		uch.Close() // the run closed its channel
	}()
	answered := func() { answering.Lock(); answering.Unlock() }
	for r := range ureqs {
		if r.Type == "exit-status" || r.Type == "exit-signal" {
			answered()
			output.Wait()
		}
		ok, err := lch.SendRequest(r.Type, r.WantReply, r.Payload)
		if r.WantReply {
			_ = r.Reply(ok && err == nil, nil)
		}
	}
	answered()
	output.Wait()
	lch.Close()
}

// rejectChannel passes on why the host's connection did not open a channel: the host's own
// reason when it refused it (for lack of room: the run waits and tries again, as it does on a
// direct connection), or the connection's end in words when there is no connection any more.
func rejectChannel(up *ssh.Conn, nch gossh.NewChannel, err error) {
	var oce *gossh.OpenChannelError
	switch {
	case errors.As(err, &oce):
		_ = nch.Reject(oce.Reason, oce.Message)
	case up.Err() != nil:
		_ = nch.Reject(gossh.ConnectionFailed, up.Err().Error())
	default:
		_ = nch.Reject(gossh.ConnectionFailed, fmt.Sprintf("the connection to %s closed before the channel opened (%v)", up.Host(), err))
	}
}
