package hcl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/perfprov/perfprov/provision/resource"
)

func TestInventoryReplacesHosts(t *testing.T) {
	tests := []struct {
		name      string
		inventory []string
		wantHosts string // name@address:user, comma-separated
		wantErr   string // summary and line, "" for none
	}{
		{name: "spec's own", wantHosts: "web1@192.0.2.11:deploy"},
		{name: "lab inventory", inventory: []string{"testdata/inventory/lab.hcl.inv"},
			wantHosts: "lab1@127.0.0.11:root,lab2@127.0.0.12:root"},
		{name: "only hosts, groups, connection", inventory: []string{"testdata/inventory/bad.hcl.inv"},
			wantErr: "Unsupported block type@5"},
		{name: "missing file", inventory: []string{"testdata/inventory/none.hcl"},
			wantErr: "Cannot read the inventory@0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, diags := Load("testdata/inventory", LoadOptions{Resources: resource.Schemas(), Inventory: tt.inventory})
			if tt.wantErr != "" {
				var got []string
				for _, d := range diags {
					line := 0
					if d.Subject != nil {
						line = d.Subject.Start.Line
					}
					got = append(got, fmt.Sprintf("%s@%d", d.Summary, line))
				}
				if !strings.Contains(strings.Join(got, ";"), tt.wantErr) {
					t.Fatalf("diagnostics %v, want %q", got, tt.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("unexpected errors: %v", diags)
			}
			var got []string
			for _, h := range sp.Hosts {
				got = append(got, h.Name+"@"+h.Address+":"+h.Conn.User)
			}
			if strings.Join(got, ",") != tt.wantHosts {
				t.Errorf("hosts %v, want %s", got, tt.wantHosts)
			}
		})
	}
}
