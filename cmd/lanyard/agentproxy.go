package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// agentProxyHeaderTimeout bounds how long a connection from a load
// balancer may take to send its PROXY header (as the agent listener's
// ReadHeaderTimeout bounds a request's headers).
const agentProxyHeaderTimeout = 10 * time.Second

// agentProxyListener applies --agent-proxy-protocol to the agent
// listener's TCP listener ln. cidrs lists the load balancers (addresses or
// CIDR ranges, comma-separated) that forward agents' TCP connections, TLS
// and all, with a PROXY protocol header (version 1 or 2, HAProxy's
// "send-proxy" or "send-proxy-v2"). A connection from one of them must
// open with the header, and the client address the header names becomes
// its remote address: the pairing throttle, the logs and the audit see
// the agent's address, not the load balancer's. A connection from any
// other address must not send one — it is closed if it does — so no
// client can choose the address it is throttled under; it is served as
// it connected (agents may still reach a replica directly). Whether a
// header is expected thus never depends on what the client sends, only
// on where it comes from (the PROXY protocol specification, section 2:
// the receiver must not guess). Empty cidrs leaves ln as it is.
func agentProxyListener(ln net.Listener, cidrs string) (net.Listener, error) {
	var ranges []string
	for it := range strings.SplitSeq(cidrs, ",") {
		if it = strings.TrimSpace(it); it != "" {
			ranges = append(ranges, it)
		}
	}
	if len(ranges) == 0 {
		return ln, nil
	}
	policy, err := proxyproto.PolicyFromRanges(ranges, proxyproto.REQUIRE, proxyproto.REJECT)
	if err != nil {
		return nil, fmt.Errorf("--agent-proxy-protocol: %v", err)
	}
	return &proxyproto.Listener{Listener: ln, ConnPolicy: policy, ReadHeaderTimeout: agentProxyHeaderTimeout}, nil
}
