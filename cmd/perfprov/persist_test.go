package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for perfprov when the code under test starts the
// connection daemon (os.Executable() is the test binary here): "__persist DIR" serves instead of
// running the tests again. So does "__complete ...", which the completion scripts call back.
func TestMain(m *testing.M) {
	if (len(os.Args) == 3 && os.Args[1] == persistCommand) || (len(os.Args) > 1 && os.Args[1] == completeCommand) {
		os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestPersistCommandIsHidden(t *testing.T) {
	env, _, stderr := benchEnv(nil)
	printUsage(stderr)
	if got := stderr.String(); len(got) == 0 || strings.Contains(got, persistCommand) {
		t.Errorf("usage lists the daemon command:\n%s", got)
	}
	if err := runPersist(t.Context(), env, nil); err == nil {
		t.Error("__persist without its directory ran")
	}
}

func TestPersistDaemonStopsOnSIGTERM(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "persist")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], persistCommand, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s4")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon exit: %v", err)
		}
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the daemon did not stop on SIGTERM")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}
