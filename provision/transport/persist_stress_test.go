package transport

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfprov/perfprov/provision/transport/sshtest"
)

// TestPersistManyChannelsAtOnce opens, through one connection daemon, many channels at once on
// many hosts whose servers allow sshd's default of 10 sessions: commands (quick and not), uploads
// and downloads in parallel, as the engine opens them. Every operation must succeed: a channel
// that does not fit waits its turn, as on a direct connection.
func TestPersistManyChannelsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	const hosts, opsPerHost = 12, 40
	dir := filepath.Join(t.TempDir(), "persist")
	var wg sync.WaitGroup
	errs := make(chan error, hosts*opsPerHost)
	for h := 0; h < hosts; h++ {
		srv := startServer(t, sshtest.Options{MaxSessions: 10}, "host_ed25519")
		cfg := persistConfig(t, srv, knownHostsFor(t, "plain", srv), time.Minute)
		cfg.Persist.Dir, cfg.Persist.DaemonEnv = dir, []string{daemonHelperEnv + "=" + dir}
		cfg.Name = fmt.Sprintf("h%d", h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := DialSSH(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if !c.persisted {
				errs <- fmt.Errorf("%s: not through the daemon", cfg.Name)
				return
			}
			tmp := t.TempDir()
			var ops sync.WaitGroup
			for i := 0; i < opsPerHost; i++ {
				ops.Add(1)
				go func() {
					defer ops.Done()
					if err := stressOp(ctx, c, tmp, i); err != nil {
						errs <- fmt.Errorf("%s op %d: %w", cfg.Name, i, err)
					}
				}()
			}
			ops.Wait()
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
		t.Errorf("%d of %d operations failed", n, hosts*opsPerHost)
	}
}

func stressOp(ctx context.Context, c *SSHConn, tmp string, i int) error {
	path := filepath.Join(tmp, fmt.Sprintf("f%d", i))
	switch i % 4 {
	case 0, 1:
		res, err := c.Run(ctx, Command{Script: fmt.Sprintf("echo %d", i), Quick: i%4 == 0})
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(res.Stdout)) != fmt.Sprint(i) {
			return fmt.Errorf("stdout %q", res.Stdout)
		}
	case 2:
		res, err := c.Run(ctx, Command{Script: "cat", Stdin: strings.NewReader("in")})
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
	const hosts, runsPerHost = 4, 200
	dir := filepath.Join(t.TempDir(), "persist")
	var wg sync.WaitGroup
	errs := make(chan error, hosts*runsPerHost)
	for h := 0; h < hosts; h++ {
		srv := startServer(t, sshtest.Options{MaxSessions: 10, InstantExit: true}, "host_ed25519")
		cfg := persistConfig(t, srv, knownHostsFor(t, "plain", srv), time.Minute)
		cfg.Persist.Dir, cfg.Persist.DaemonEnv = dir, []string{daemonHelperEnv + "=" + dir}
		cfg.Name = fmt.Sprintf("h%d", h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := DialSSH(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var runs sync.WaitGroup
			for i := 0; i < runsPerHost; i++ {
				runs.Add(1)
				go func() {
					defer runs.Done()
					res, err := c.Run(ctx, Command{Script: "true", Quick: true})
					switch {
					case err != nil:
						errs <- fmt.Errorf("%s run %d: %w", cfg.Name, i, err)
					case res.ExitStatus != 0:
						errs <- fmt.Errorf("%s run %d: exit status %d", cfg.Name, i, res.ExitStatus)
					}
				}()
			}
			runs.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 5 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Errorf("%d of %d commands failed", n, hosts*runsPerHost)
	}
}
