package persist

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// TestQuickCommandsOnTheHelper: through the daemon, quick commands go to one remote helper per
// kept connection (one exec on the host for all of them, across runs), with their output,
// stderr, stdin and exit status as a session gives them; other commands still get sessions.
func TestQuickCommandsOnTheHelper(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
	cases := []struct {
		cmd            transport.Command
		stdout, stderr string
		status         int
	}{
		{transport.Command{Script: "echo out; echo err >&2; exit 4", Quick: true}, "out\n", "err\n", 4},
		{transport.Command{Script: `printf '%s' "$V"`, Env: map[string]string{"V": "a b"}, Quick: true}, "a b", "", 0},
		{transport.Command{Script: "cat", Stdin: strings.NewReader("given\n"), Quick: true}, "given\n", "", 0},
		{transport.Command{Script: "cd /; X=1", Quick: true}, "", "", 0},
		{transport.Command{Script: `printf '%s' "$X"; [ "$PWD" != / ]`, Quick: true}, "", "", 0},
	}
	for run := 0; run < 2; run++ {
		c := dial(t, cfg)
		for i, tc := range cases {
			res, err := c.Run(context.Background(), tc.cmd)
			if tc.cmd.Stdin != nil {
				tc.cmd.Stdin = strings.NewReader("given\n")
				cases[i] = tc
			}
			if err != nil {
				t.Fatalf("run %d, %q: %v", run, tc.cmd.Script, err)
			}
			if string(res.Stdout) != tc.stdout || string(res.Stderr) != tc.stderr || res.ExitStatus != tc.status {
				t.Errorf("run %d, %q: %q %q %d, want %q %q %d", run, tc.cmd.Script, res.Stdout, res.Stderr, res.ExitStatus, tc.stdout, tc.stderr, tc.status)
			}
		}
		c.Close()
	}
	if n := srv.Execs.Load(); n != 1 {
		t.Errorf("%d exec requests on the host, want 1 (the helper)", n)
	}
	c := dial(t, cfg)
	defer c.Close()
	runOut(t, c, "true", "")
	if n := srv.Execs.Load(); n != 2 {
		t.Errorf("%d exec requests after a command that is not quick, want 2", n)
	}

	// Many at once: each gets its own answer.
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Run(context.Background(), transport.Command{Script: fmt.Sprintf("echo %d", i), Quick: true})
			if err != nil || string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				t.Errorf("command %d: %v %+v", i, err, res)
			}
		}()
	}
	wg.Wait()
}

// TestQuickCommandCancelled: a quick command cancelled on the helper ends the helper (its answer
// would hold up the next ones); the next quick command starts another and gets its answer.
func TestQuickCommandCancelled(t *testing.T) {
	srv := sshtest.StartWithKeys(t, sshtest.Options{}, "host_ed25519")
	cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
	c := dial(t, cfg)
	defer c.Close()
	start := time.Now()
	_, err := c.Run(context.Background(), transport.Command{Script: "sleep 5", Quick: true, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") || time.Since(start) > 2*time.Second {
		t.Errorf("after %v: %v", time.Since(start), err)
	}
	res, err := c.Run(context.Background(), transport.Command{Script: "echo next", Quick: true})
	if err != nil || string(res.Stdout) != "next\n" {
		t.Fatalf("next: %v %+v", err, res)
	}
	if n := srv.Execs.Load(); n != 2 {
		t.Errorf("%d exec requests, want 2 (a helper, then another)", n)
	}
}
