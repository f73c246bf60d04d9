package web

import (
	"net"
	"net/http"
	"strings"

	"github.com/realclientip/realclientip-go"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// ranges ("127.0.0.1,10.0.0.0/8,::1") of the reverse proxies in front of
// the server, for Config.TrustedProxies.
func ParseTrustedProxies(list string) ([]net.IPNet, error) {
	var items []string
	for it := range strings.SplitSeq(list, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	nets, err := realclientip.AddressesAndRangesToIPNets(items...)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "trusted proxies: %v", err)
	}
	return nets, nil
}

// proxies are the trusted reverse proxies in front of the server.
type proxies struct {
	nets []net.IPNet
	xff  realclientip.Strategy // nil without trusted proxies
}

func newProxies(nets []net.IPNet) proxies {
	if len(nets) == 0 {
		return proxies{}
	}
	return proxies{nets: nets, xff: realclientip.Must(realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", nets))}
}

// trusts reports whether addr lies in the trusted proxy ranges.
func (p proxies) trusts(addr string) bool {
	host, _ := realclientip.SplitHostZone(addr)
	ip := net.ParseIP(host)
	for _, n := range p.nets {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientAddr returns the caller's address for audit events and throttling.
// It is the connection's peer unless that peer is a trusted proxy; then it
// is the rightmost X-Forwarded-For address that is not a trusted proxy: each
// proxy appends the address it was reached from, so that one was written by
// the last proxy we trust, while everything to its left came from the client
// and may be forged (realclientip's "rightmost trusted range" strategy).
func (s *Server) clientAddr(r *http.Request) string {
	if forwarded(r) {
		// Another replica forwarded the request over the peer link
		// and judged its client's address (forward.go); the connection
		// is that replica's, and an X-Forwarded-For it carried is the
		// client's own claim: neither counts. ForwardedHandler refuses
		// a forwarded request without a valid address.
		if a := forwardedClientAddr(r); a != "" {
			return a
		}
	}
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(nil, r.RemoteAddr)
	if peer == "" {
		return r.RemoteAddr
	}
	if forwarded(r) {
		return peer
	}
	if !s.proxies.trusts(peer) {
		return peer
	}
	if ip := s.proxies.xff.ClientIP(r.Header, r.RemoteAddr); ip != "" {
		return ip
	}
	// No usable X-Forwarded-For: the proxy itself is all we know.
	return peer
}
