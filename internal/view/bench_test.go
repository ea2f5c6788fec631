package view

import (
	"bytes"
	"testing"
	"time"

	"github.com/perfprov/perfprov/provision/bench"
)

func TestWriteBenchChanges(t *testing.T) {
	var b bytes.Buffer
	WriteBenchChanges(&b, nil, nil)
	if got := b.String(); got != "No previous run to compare with.\n" {
		t.Errorf("no previous run: %q", got)
	}
	prev := &bench.Record{Time: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}
	b.Reset()
	WriteBenchChanges(&b, prev, nil)
	if got, want := b.String(), "Changes since 2026-11-26T18:00:00Z:\n  none\n"; got != want {
		t.Errorf("no change: %q, want %q", got, want)
	}
	b.Reset()
	WriteBenchChanges(&b, prev, []bench.Change{{Host: "vm-9/counters", What: "new host: pass-software-only"}})
	if got, want := b.String(), "Changes since 2026-11-26T18:00:00Z:\n  vm-9/counters: new host: pass-software-only\n"; got != want {
		t.Errorf("one change: %q, want %q", got, want)
	}
}

func TestPlural(t *testing.T) {
	if got := Plural(1, "host", "hosts") + ", " + Plural(0, "host", "hosts"); got != "1 host, 0 hosts" {
		t.Error(got)
	}
}
