package clustertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HAProxy is Debian's HAProxy in front of the cluster, as
// docs/deployment.md describes the load balancer: HTTP mode for the API
// and pages (health check GET /readyz), TCP mode for the agent listeners
// so that TLS and the workstations' client certificates stay end to end,
// with the PROXY protocol v2 so that the replicas see the agents' real
// addresses. No stickiness: any replica serves any request.
type HAProxy struct {
	*Proc
	// URL is the HTTP frontend, AgentURL the TCP frontend balanced over
	// every agent listener (the first replica that is up takes the
	// connection: "balance first", so a test knows which one holds it).
	URL, AgentURL string
	// PinnedAgentURL[i] reaches only replica i's agent listener.
	PinnedAgentURL []string
	Config         string // the configuration file
}

// AgentSource is the loopback address HAProxy connects to the agent
// listeners from: not the agents' own 127.0.0.1, so that a replica that
// reads the PROXY protocol header is seen to log the agent's address, and
// one that does not would log this one. The replicas require the header
// from this address only (--agent-proxy-protocol); agents pinned to a
// replica may still connect directly.
const AgentSource = "127.0.0.3"

// ConfigText is the HAProxy configuration of a cluster whose replicas
// listen (HTTP) on web and (agents) on agents; httpPort, agentPort and
// pinned are the frontends' ports. proxyProtocol adds send-proxy-v2 on
// the agent servers, which HAProxy reaches from AgentSource.
// scripts/cluster.sh writes the same configuration.
func ConfigText(web, agents []string, httpPort, agentPort int, pinned []int, proxyProtocol bool) string {
	var b strings.Builder
	b.WriteString(`global
	log stderr format short local0 notice
	maxconn 4096

defaults
	log global
	timeout connect 2s
	timeout client 120s
	timeout server 120s
	timeout tunnel 1h
	retries 2
	option redispatch

`)
	send := ""
	if proxyProtocol {
		send = " send-proxy-v2 source " + AgentSource
	}
	fmt.Fprintf(&b, `frontend web
	mode http
	bind 127.0.0.1:%d
	option forwardfor
	default_backend replicas_web

backend replicas_web
	mode http
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
	default-server inter 500ms fall 2 rise 1
`, httpPort)
	for i, a := range web {
		fmt.Fprintf(&b, "\tserver %s %s check\n", Name(i), a)
	}
	fmt.Fprintf(&b, `
frontend agents
	mode tcp
	bind 127.0.0.1:%d
	default_backend replicas_agents

backend replicas_agents
	mode tcp
	balance first
	default-server inter 500ms fall 1 rise 1
`, agentPort)
	for i, a := range agents {
		fmt.Fprintf(&b, "\tserver %s %s check%s\n", Name(i), a, send)
	}
	for i, port := range pinned {
		fmt.Fprintf(&b, `
listen agents_%s
	mode tcp
	bind 127.0.0.1:%d
	server %s %s%s
`, Name(i), port, Name(i), agents[i], send)
	}
	return b.String()
}

// HAProxyBinary finds haproxy or fails the test.
func HAProxyBinary(tb testing.TB) string {
	tb.Helper()
	for _, p := range []string{"haproxy", "/usr/sbin/haproxy"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	tb.Fatal("haproxy is not installed (scripts/test-deps.sh installs Debian's; make test runs it)")
	return ""
}

func startHAProxy(tb testing.TB, c *Cluster) *HAProxy {
	tb.Helper()
	bin := HAProxyBinary(tb)
	var web, agents []string
	for _, r := range c.Replicas {
		web = append(web, strings.TrimPrefix(r.URL, "http://"))
		agents = append(agents, strings.TrimPrefix(r.AgentURL, "https://"))
	}
	ports := freePorts(tb, 2+len(c.Replicas))
	h := &HAProxy{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), AgentURL: fmt.Sprintf("https://127.0.0.1:%d", ports[1])}
	for _, p := range ports[2:] {
		h.PinnedAgentURL = append(h.PinnedAgentURL, fmt.Sprintf("https://127.0.0.1:%d", p))
	}
	h.Config = filepath.Join(c.Dir, "haproxy.cfg")
	text := ConfigText(web, agents, ports[0], ports[1], ports[2:], c.flags["agent-proxy-protocol"])
	if err := os.WriteFile(h.Config, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	// -db: stay in the foreground, log to stderr; -W: master-worker.
	h.Proc = startProc(tb, "haproxy", bin, nil, "-db", "-f", h.Config)
	deadline := time.Now().Add(15 * time.Second)
	for !ready(h.URL) {
		if !h.Running() || time.Now().After(deadline) {
			tb.Fatalf("HAProxy does not answer %s/readyz within 15 s\n%s\n%s", h.URL, text, h.Tail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return h
}

// freePorts finds n free loopback ports (HAProxy needs its ports in its
// configuration; the listeners are closed just before it binds them).
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
