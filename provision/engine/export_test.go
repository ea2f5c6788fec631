package engine

import "testing"

// The runs of the engine's test scenarios, for the golden files of their rendering
// (view_test.go, package engine_test: the view imports the engine, so these tests are outside).
var (
	PlanRun        = planRun
	InterruptedRun = interruptedRun
)

func FailureRun(t *testing.T) *Run {
	_, r, _ := failureRun(t)
	return r
}
