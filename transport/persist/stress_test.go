package persist

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// TestPersistManyChannelsAtOnce opens, through one connection daemon, many channels at once on
// many hosts whose servers allow sshd's default of 10 sessions: commands (quick and not), uploads
// and downloads in parallel, as the engine opens them. Every operation must succeed: a channel
// that does not fit waits its turn, as on a direct connection.
func TestPersistManyChannelsAtOnce(t *testing.T) {
	throughOneDaemon(t, 12, 40, sshtest.Options{MaxSessions: 10}, func(ctx context.Context, c *ssh.Conn, i int) error {
		return stressOp(ctx, c, t.TempDir(), i)
	})
}

// throughOneDaemon connects to hosts servers made with opts, all through one daemon, and runs
// op ops times at once on each; every op must succeed.
func throughOneDaemon(t *testing.T, hosts, ops int, opts sshtest.Options, op func(ctx context.Context, c *ssh.Conn, i int) error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "persist")
	var wg sync.WaitGroup
	errs := make(chan error, hosts*ops)
	for h := 0; h < hosts; h++ {
		srv := sshtest.StartWithKeys(t, opts, "host_ed25519")
		cfg := persistConfig(t, srv, sshtest.KnownHosts(t, "plain", srv), time.Minute)
		cfg.Persist.Dir, cfg.Persist.DaemonEnv = dir, []string{daemonHelperEnv + "=" + dir}
		cfg.Name = fmt.Sprintf("h%d", h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := cfg.Persist.Dial(ctx, cfg.Config)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if !c.Relayed() {
				errs <- fmt.Errorf("%s: not through the daemon", cfg.Name)
				return
			}
			var running sync.WaitGroup
			for i := 0; i < ops; i++ {
				running.Add(1)
				go func() {
					defer running.Done()
					if err := op(ctx, c, i); err != nil {
						errs <- fmt.Errorf("%s op %d: %w", cfg.Name, i, err)
					}
				}()
			}
			running.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Errorf("%d of %d operations failed", n, hosts*ops)
	}
}

func stressOp(ctx context.Context, c *ssh.Conn, tmp string, i int) error {
	path := filepath.Join(tmp, fmt.Sprintf("f%d", i))
	switch i % 4 {
	case 0, 1:
		res, err := c.Run(ctx, transport.Command{Script: fmt.Sprintf("echo %d", i), Quick: i%4 == 0})
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(i) {
			return fmt.Errorf("stdout %q", res.Stdout)
		}
	case 2:
		res, err := c.Run(ctx, transport.Command{Script: "cat", Stdin: strings.NewReader("in")})
		if err != nil {
			return err
		}
		if string(res.Stdout) != "in" {
			return fmt.Errorf("stdout %q", res.Stdout)
		}
	case 3:
		if err := c.Upload(ctx, path, strings.NewReader("x"), 0o600); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := c.Download(ctx, path, &b); err != nil {
			return err
		}
	}
	return nil
}

// TestPersistFastCommands runs, through the daemon, commands whose reply, exit status and close
// come from the server in one burst: the run must see each command start and end with status 0,
// never "start command: EOF" (the daemon closing the run's channel before passing on the reply).
func TestPersistFastCommands(t *testing.T) {
	throughOneDaemon(t, 4, 200, sshtest.Options{MaxSessions: 10, InstantExit: true}, func(ctx context.Context, c *ssh.Conn, i int) error {
		res, err := c.Run(ctx, transport.Command{Script: "true", Quick: true})
		if err == nil && res.ExitStatus != 0 {
			err = fmt.Errorf("exit status %d", res.ExitStatus)
		}
		return err
	})
}

// TestRetryBeforeStart: a channel that closes between the command's request and its confirmation
// is tried again for a read-only (Quick) command, and said so in the log; any other command is
// not tried again and fails saying it may have run. The same holds through the daemon, where a
// quick command goes to the remote helper first: its start is the first exec dropped, and quick
// commands then run in sessions of their own (said once in the log).
func TestRetryBeforeStart(t *testing.T) {
	const quickAttempts = 4 // package ssh's bound on the tries of a read-only command
	cases := []struct {
		name      string
		quick     bool
		drop      int
		wantErr   string // "" : the command succeeds
		wantExecs int64
		wantLogs  int
	}{
		{name: "quick retried", quick: true, drop: 2, wantExecs: 3, wantLogs: 2},
		{name: "quick gives up", quick: true, drop: quickAttempts, wantErr: "channel closed before the host confirmed the command (it may have run)", wantExecs: quickAttempts, wantLogs: quickAttempts - 1},
		{name: "change not retried", drop: 1, wantErr: "lab1: the channel closed before the host confirmed the command (it may have run)", wantExecs: 1},
	}
	for _, kept := range []bool{false, true} {
		for _, tc := range cases {
			if kept && tc.quick {
				// The helper's start takes one exec and says so once; the tries come after it.
				tc.drop++
				tc.wantExecs++
			}
			t.Run(fmt.Sprintf("%s kept=%v", tc.name, kept), func(t *testing.T) {
				srv := sshtest.StartWithKeys(t, sshtest.Options{DropExec: tc.drop}, "host_ed25519")
				kh := sshtest.KnownHosts(t, "plain", srv)
				cfg := keptConfig{Config: sshtest.Config(t, srv, kh)}
				if kept {
					dir := filepath.Join(t.TempDir(), "persist")
					cfg = persistConfig(t, srv, kh, time.Minute)
					cfg.Persist.Dir, cfg.Persist.DaemonEnv = dir, []string{daemonHelperEnv + "=" + dir}
				}
				var logs []string
				var mu sync.Mutex
				cfg.Log = func(format string, args ...any) {
					mu.Lock()
					defer mu.Unlock()
					if line := fmt.Sprintf(format, args...); !strings.Contains(line, ": channel ") {
						logs = append(logs, line) // the debug log's channel lines are not the retries counted here
					}
				}
				c := dial(t, cfg)
				if c.Relayed() != kept {
					t.Fatalf("persisted %v, want %v", c.Relayed(), kept)
				}
				res, err := c.Run(context.Background(), transport.Command{Script: "echo ok", Quick: tc.quick})
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("error %v", err)
				case tc.wantErr == "" && strings.TrimSpace(string(res.Stdout)) != "ok":
					t.Errorf("stdout %q", res.Stdout)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				if n := srv.Execs.Load(); n != tc.wantExecs {
					t.Errorf("%d exec requests, want %d", n, tc.wantExecs)
				}
				mu.Lock()
				defer mu.Unlock()
				if kept && tc.quick {
					tc.wantLogs++
				}
				if len(logs) != tc.wantLogs {
					t.Errorf("log %q, want %d lines", logs, tc.wantLogs)
				}
				for i, l := range logs {
					if kept && tc.quick && i == 0 {
						if !strings.Contains(l, "lab1: the remote helper did not start") || !strings.Contains(l, "run in sessions of their own") {
							t.Errorf("log line %q", l)
						}
						continue
					}
					if !strings.Contains(l, "trying again") {
						t.Errorf("log line %q", l)
					}
				}
			})
		}
	}
}
