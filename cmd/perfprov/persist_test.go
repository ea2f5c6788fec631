package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for perfprov when the code under test starts the
// connection daemon (os.Executable() is the test binary here): "__persist DIR" serves instead of
// running the tests again.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == persistCommand {
		os.Exit(realMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestPersistCommandIsHidden(t *testing.T) {
	env, _, stderr := benchEnv()
	printUsage(stderr)
	if got := stderr.String(); len(got) == 0 || strings.Contains(got, persistCommand) {
		t.Errorf("usage lists the daemon command:\n%s", got)
	}
	if err := runPersist(t.Context(), env, nil); err == nil {
		t.Error("__persist without its directory ran")
	}
}
