//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentProxyProtocolHAProxy: Debian's HAProxy in TCP mode in front of
// the agent listener, sending the PROXY header (v2, then v1): TLS runs end
// to end through it (the client verifies the listener's own
// certificate), and the request's remote address is the client's, not
// HAProxy's. On one host, HAProxy connects from an address of its own
// (its "source" option, 127.0.0.2), the only one trusted, so agents on
// 127.0.0.1 may still connect to the listener directly.
func TestAgentProxyProtocolHAProxy(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy is not installed (apt-get install haproxy; make test's deps script installs it)")
	}
	s := startAgentProxyServer(t, "127.0.0.2")
	for _, send := range []string{"send-proxy-v2", "send-proxy"} {
		front := freeAddr(t)
		cfg := fmt.Sprintf(`global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend agents
    bind %s
    default_backend replicas
backend replicas
    server r1 %s %s source 127.0.0.2
`, front, s.addr, send)
		file := filepath.Join(t.TempDir(), "haproxy.cfg")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "-db", "-f", file)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := func() { cancel(); _ = cmd.Wait() }
		waitListening(t, front, &out)

		// The client connects to HAProxy from 127.0.0.9; HAProxy
		// connects to the listener from 127.0.0.2, the trusted address.
		through := &agentProxyServer{addr: front, roots: s.roots}
		code, err := through.pair(t, "127.0.0.9", nil)
		if err != nil || code != 400 {
			stop()
			t.Fatalf("%s: pairing request through HAProxy: %d, %v (haproxy: %s)", send, code, err, out.String())
		}
		if got := s.lastRemote(); !strings.HasPrefix(got, "127.0.0.9:") {
			stop()
			t.Fatalf("%s: remote address %q, want the client's 127.0.0.9", send, got)
		}
		stop()
	}
	if code, err := s.pair(t, "127.0.0.1", nil); err != nil || code != 400 {
		t.Fatalf("an agent connecting directly: %d, %v", code, err)
	}
	if got := s.lastRemote(); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Fatalf("direct connection's remote address %q", got)
	}
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s: %v (%s)", addr, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
