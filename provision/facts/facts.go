// Package facts gathers what perfprov needs to know about a host in one round trip: one generated
// script runs on the host and its output is parsed into typed facts.
package facts

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/perfprov/perfprov/provision/transport"
)

// Facts is what one host told about itself. JSON keys are snake_case; they are also the keys of
// host.facts in specs.
type Facts struct {
	OSID              string `json:"os_id"`
	OSVersion         string `json:"os_version"`
	KernelRelease     string `json:"kernel_release"`
	Arch              string `json:"arch"`
	CapLastCap        int    `json:"cap_last_cap"`
	PerfEventParanoid int    `json:"perf_event_paranoid"`
	// ... the facts package completes this.
}

// Gather runs the facts script on the host and parses its output.
func Gather(ctx context.Context, conn transport.Conn) (*Facts, error) {
	panic("not implemented yet")
}

// Value returns the facts as the object that specs read as host.facts.
func (f *Facts) Value() cty.Value { panic("not implemented yet") }
