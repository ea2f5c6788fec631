package ssh

import (
	"errors"
	"io"
	"testing"
)

func TestStartFailed(t *testing.T) {
	cases := []struct {
		name      string
		err, dead error
		want      string
	}{
		{"channel closed", io.EOF, nil, "h1: the channel closed before the host confirmed the command (it may have run)"},
		{"connection lost", io.EOF, errors.New("connection to h1 lost: closed by the host or the network"),
			"connection to h1 lost: closed by the host or the network, before the host confirmed the command (it may have run)"},
		{"refused", errors.New("ssh: command /bin/sh -c 'secret' failed"), nil, "h1: the host refused to start the command (it did not run)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := startFailed("h1", tc.err, tc.dead).Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
