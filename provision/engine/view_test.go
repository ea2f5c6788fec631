package engine_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/internal/view"
	"github.com/perfprov/perfprov/provision/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The plan and the recaps of the engine's scenarios, as perfprov prints them: the engine's
// results and their rendering checked together.

func TestPlanGolden(t *testing.T) {
	r := engine.PlanRun(t)
	defer r.Close()
	var out bytes.Buffer
	view.WritePlan(&out, r, false)
	golden(t, "plan.golden", out.Bytes())
	if strings.Contains(out.String(), "hunter2") {
		t.Error("a sensitive value was printed")
	}
}

func TestRecapFailureGolden(t *testing.T) {
	var recap bytes.Buffer
	view.WriteRecap(&recap, engine.FailureRun(t), false)
	golden(t, "recap-failure.golden", recap.Bytes())
}

func TestRecapInterruptedGolden(t *testing.T) {
	var recap bytes.Buffer
	view.WriteRecap(&recap, engine.InterruptedRun(t), false)
	golden(t, "recap-interrupted.golden", recap.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
