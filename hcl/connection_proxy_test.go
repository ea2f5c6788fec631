package hcl

import (
	"reflect"
	"testing"

	"github.com/perfprov/perfprov/provision/resource"
)

// TestConnectionProxyCommand: jump and proxy_command exclude each other; the one set at the
// nearer level (top, group, host) wins and clears the other.
func TestConnectionProxyCommand(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.hcl": `
connection {
  jump = ["bastion"]
}
group "ssm" {
  hosts = ["i1"]
  connection {
    proxy_command = "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"
  }
}
host "i1" { address = "i-0123456789abcdef0" }
host "i2" {
  address = "10.0.0.2"
}
host "i3" {
  address = "10.0.0.3"
  groups  = ["ssm"]
  connection {
    jump = ["other-bastion"]
  }
}
host "i4" {
  address = "10.0.0.4"
  connection {
    proxy_command = "none"
  }
}
`})
	sp := mustLoad(t, dir, LoadOptions{Resources: resource.Schemas()})
	tests := []struct {
		host  string
		jump  []string
		proxy string
	}{
		{"i1", nil, "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"},
		{"i2", []string{"bastion"}, ""},
		{"i3", []string{"other-bastion"}, ""},
		{"i4", nil, "none"},
	}
	for _, tt := range tests {
		c := sp.Host(tt.host).Conn
		if !reflect.DeepEqual(c.Jump, tt.jump) || c.ProxyCommand != tt.proxy {
			t.Errorf("%s: jump %q proxy_command %q, want %q %q", tt.host, c.Jump, c.ProxyCommand, tt.jump, tt.proxy)
		}
	}
}
