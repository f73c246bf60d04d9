package main

import (
	"testing"
	"time"
)

// TestParseServeCluster: PostgreSQL runs a cluster's peer listener on
// loopback unless told otherwise or "off"; SQLite runs none and refuses
// one asked for.
func TestParseServeCluster(t *testing.T) {
	pg := "postgres://u@h/db"
	for _, tc := range []struct {
		args    []string
		listen  string
		wantErr bool
	}{
		{[]string{"--database", pg}, "127.0.0.1:0", false},
		{[]string{"--database", pg, "--peer-listen", "0.0.0.0:8444", "--peer-url", "https://a.example.test:8444"}, "0.0.0.0:8444", false},
		{[]string{"--database", pg, "--peer-listen", "off"}, "", false},
		{[]string{}, "", false},
		{[]string{"--peer-listen", "off"}, "", false},
		{[]string{"--peer-listen", "127.0.0.1:0"}, "", true},
		{[]string{"--database", pg, "--replica-heartbeat", "0s"}, "", true},
	} {
		t.Setenv("LANYARD_DATABASE", "")
		t.Setenv("LANYARD_PEER_LISTEN", "")
		c, err := parseServe(tc.args)
		if (err != nil) != tc.wantErr || err == nil && c.peerListen != tc.listen {
			t.Errorf("parseServe(%q) = peer listen %q, %v; want %q (error %v)", tc.args, c.peerListen, err, tc.listen, tc.wantErr)
		}
	}
	c, err := parseServe([]string{"--database", pg, "--replica-heartbeat", "500ms"})
	if err != nil || c.replicaHeartbeat != 500*time.Millisecond {
		t.Errorf("--replica-heartbeat 500ms: %v %v", c.replicaHeartbeat, err)
	}
}
