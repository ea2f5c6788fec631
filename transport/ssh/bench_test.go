package ssh_test

import (
	"context"
	"testing"

	"github.com/perfprov/perfprov/transport"
	"github.com/perfprov/perfprov/transport/ssh"
	"github.com/perfprov/perfprov/transport/ssh/sshtest"
)

// BenchmarkConnectRun is the cost of reaching a host: TCP connect, handshake, host key check,
// login, one command, close, against the in-process server on loopback.
func BenchmarkConnectRun(b *testing.B) {
	srv := sshtest.StartWithKeys(b, sshtest.Options{}, "host_ed25519")
	cfg := sshtest.Config(b, srv, sshtest.KnownHosts(b, "plain", srv))
	cfg.Keepalive = -1
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		c, err := ssh.Dial(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		res, err := c.Run(ctx, transport.Command{Script: "true"})
		if err != nil || !res.OK() {
			b.Fatal(res, err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/connect+run")
}

// BenchmarkRun is one more command on an open connection: the price of a round trip and a
// session channel, with the connection set up already.
func BenchmarkRun(b *testing.B) {
	c, _ := sshtest.Connected(b, sshtest.Options{})
	ctx := context.Background()
	for b.Loop() {
		res, err := c.Run(ctx, transport.Command{Script: "true"})
		if err != nil || !res.OK() {
			b.Fatal(res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/run")
}
