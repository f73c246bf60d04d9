package web

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Forwarding card requests across a cluster (docs/architecture.md,
// "Cluster"). A card workflow exchanges APDUs with the card through the
// agent of the workstation it is in, and the agent is connected to one
// replica: a card request reaching another replica is forwarded whole to
// that one over the peer link, which serves it as if the client had
// called it directly. At most one hop: a forwarded request whose
// workstation is not at the replica it reached answers 503 with
// Retry-After (the agent moved meanwhile; the operation stays resumable).

// Cluster is the replica's cluster (internal/cluster); nil in a single
// server.
type Cluster interface {
	// ID is this replica's.
	ID() string
	// Locate returns the live replica other than this one that holds
	// workstation id's agent connection, or "" (here, or nowhere).
	Locate(ctx context.Context, id int64) (string, error)
	// Forward sends the request to replica id's peer listener.
	Forward(ctx context.Context, id string, r *http.Request) (*http.Response, error)
	// States returns the live states of those of ids whose agents are
	// connected to other replicas (an AirCard service's without its
	// readers, only counted).
	States(ctx context.Context, ids []int64) map[int64]lanyard.WorkstationState
}

// The forwarding headers (internal/cluster's HeaderForwardedBy and
// HeaderClientAddr) and the card certificate a forwarding replica
// checked for a step-up by card: believed only in requests that came
// through ForwardedHandler, removed from all others.
const (
	headerForwardedBy  = "Lanyard-Forwarded-By"
	headerClientAddr   = "Lanyard-Client-Addr"
	headerClientChain  = "Lanyard-Client-Certificates"
	headerChainRefused = "Lanyard-Client-Certificates-Refused"
	// headerFreshHandshake, in a forwarded request's answer, asks the
	// forwarding replica to close its client's connection, so the retry
	// asks the card afresh (closeForFreshHandshake).
	headerFreshHandshake = "Lanyard-Fresh-Handshake"
)

var forwardingHeaders = []string{headerForwardedBy, headerClientAddr, headerClientChain, headerChainRefused}

// cardRoutes are the routes that may reach a card through a
// workstation's agent: a request naming a workstation connected to
// another replica is forwarded there before it runs, and one that learns
// only while running that the card is elsewhere (found by its serial) is
// forwarded then. Lists that span workstations (connected cards) gather
// instead (internal/cluster's card access).
var cardRoutes = map[string]bool{
	"POST /api/v1/issue/options":                     true,
	"POST /api/v1/issue":                             true,
	"POST /api/v1/cards/{id}/continue":               true,
	"POST /api/v1/cards/{id}/revoke-clear":           true,
	"POST /api/v1/virtual-cards":                     true,
	"POST /api/v1/software-stores":                   true,
	"POST /api/v1/cards/{id}/software-store/reissue": true,
	"POST /api/v1/cards/{id}/pin-setup":              true,
	"POST /api/v1/cards/{id}/pin-change":             true,
	"POST /api/v1/cards/{id}/pin-reset":              true,
	"POST /api/v1/cards/{id}/replace":                true,
	"POST /api/v1/cards/{id}/update/options":         true,
	"POST /api/v1/cards/{id}/update":                 true,
	"POST /api/v1/cards/{id}/update/continue":        true,
	"POST /api/v1/cards/{id}/recover-keys":           true,
}

// forwardedKey marks a request that came through ForwardedHandler.
type forwardedKey struct{}

func forwarded(r *http.Request) bool {
	v, _ := r.Context().Value(forwardedKey{}).(bool)
	return v
}

// stripForwarding removes the forwarding headers from requests that did
// not come over the peer link, so no client can claim another address or
// a card certificate.
func stripForwarding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range forwardingHeaders {
			r.Header.Del(h)
		}
		next.ServeHTTP(w, r)
	})
}

// ForwardedHandler serves the requests other replicas forward: mount it
// only behind the peer listener, which admits replicas alone
// (internal/cluster's PeerHandler). Its requests are served as the
// client's own, with the client's address from Lanyard-Client-Addr.
func (s *Server) ForwardedHandler() http.Handler {
	return s.strictTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(headerForwardedBy) == "" {
			writeError(w, r, s.log, lanyard.Errorf(lanyard.EInvalid, "a forwarded request must name its replica in %s", headerForwardedBy))
			return
		}
		// The client's address is the forwarding replica's judgement,
		// never this connection's nor an X-Forwarded-For (clientAddr).
		if forwardedClientAddr(r) == "" {
			writeError(w, r, s.log, lanyard.Errorf(lanyard.EInvalid, "a forwarded request must give its client's IP address in %s", headerClientAddr))
			return
		}
		s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true)))
	}))
}

// forwardedClientAddr is the client address a forwarding replica judged.
func forwardedClientAddr(r *http.Request) string {
	a := strings.TrimSpace(r.Header.Get(headerClientAddr))
	if net.ParseIP(a) == nil {
		return ""
	}
	return a
}

// forwardableAddr is a client address as Lanyard-Client-Addr carries it:
// an IP address without an IPv6 zone (a zone names an interface of this
// host, meaningless at another and refused by net.ParseIP).
func forwardableAddr(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil {
		return ip.WithZone("").String()
	}
	return a
}

// forwardedChain is the card certificate chain the forwarding replica
// accepted for its client's connection, and why it refused one.
func forwardedChain(r *http.Request) (chain []*x509.Certificate, refused string) {
	refused = r.Header.Get(headerChainRefused)
	for _, part := range strings.Split(r.Header.Get(headerClientChain), ",") {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(part))
		if err != nil || len(der) == 0 {
			continue
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, "the forwarded card certificate is malformed"
		}
		chain = append(chain, c)
	}
	return chain, refused
}

// cardBody reads a card route's body (bounded as every body is) so it
// can be both run here and forwarded, and returns the workstation it
// names (the JSON body's workstation_id, else the query's), or 0.
func cardBody(r *http.Request) ([]byte, int64, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, 0, lanyard.Errorf(lanyard.EInvalid, "reading the request body failed")
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	var named struct {
		WorkstationID int64 `json:"workstation_id"`
		// A replacement AirCard is made and issued at an AirCard
		// service: the workstation it is bound to does not say where
		// (the card workflows answer ElsewhereError for the service).
		AirCard bool `json:"aircard"`
	}
	var id int64
	if len(body) > 0 && json.Unmarshal(body, &named) == nil {
		if named.AirCard {
			return body, 0, nil // neither the body's nor the query's workstation
		}
		id = named.WorkstationID
	}
	if id == 0 {
		id, _ = strconv.ParseInt(r.URL.Query().Get("workstation_id"), 10, 64)
	}
	return body, max(id, 0), nil
}

// forwardCard runs before a card route's handler: if the request names a
// workstation connected to another replica, it is forwarded there and
// forwardCard reports true. body is the request's body for a later
// forward (forwardElsewhere).
func (s *Server) forwardCard(c *call) (body []byte, done bool) {
	body, ws, err := cardBody(c.r)
	if err != nil {
		writeError(c.w, c.r, s.log, err)
		return nil, true
	}
	if ws == 0 || forwarded(c.r) {
		return body, false
	}
	replica, err := s.cluster.Locate(c.r.Context(), ws)
	if err != nil {
		s.log.Warn("reading an agent route failed; running the card request here", "workstation", ws, "err", err)
		return body, false
	}
	if replica == "" {
		return body, false
	}
	s.forward(c, replica, body, "workstation")
	return body, true
}

// forwardElsewhere handles a card route's error: the card turned out to
// be at a workstation connected to another replica (the card workflows
// open the card before they change anything, so the request repeats no
// side effect there). A request forwarded already is not forwarded again.
func (s *Server) forwardElsewhere(c *call, body []byte, err error) bool {
	var ee *lanyard.ElsewhereError
	if s.cluster == nil || c.wrote || !errors.As(err, &ee) {
		return false
	}
	if forwarded(c.r) {
		c.w.Header().Set("Retry-After", "1")
		writeError(c.w, c.r, s.log, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent moved to another server of the cluster; try again"))
		return true
	}
	s.forward(c, ee.Replica, body, "elsewhere")
	return true
}

// agentMoved adds Retry-After to the answer of a card request whose
// agent went away during it (in a cluster it reconnects to another
// replica within seconds, and the operation is resumable).
func agentMoved(w http.ResponseWriter, err error) {
	if errors.Is(err, agenthub.ErrAgentGone) || errors.Is(err, agenthub.ErrOffline) {
		w.Header().Set("Retry-After", "1")
	}
}

// hopByHop are the headers of one connection (RFC 9110 7.6.1), not to be
// forwarded.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the request, with body, to replica and copies its answer
// to the client.
func (s *Server) forward(c *call, replica string, body []byte, reason string) {
	r := c.r
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength, out.TransferEncoding = int64(len(body)), nil
	out.Host = r.Host // the origin check (Sec-Fetch-Site, Origin) compares with the host the client called
	for _, h := range hopByHop {
		out.Header.Del(h)
	}
	out.Header.Del("Expect") // the body is read already
	out.Header.Set(headerClientAddr, forwardableAddr(s.clientAddr(r)))
	if chain, refused := s.cardConnection(r); len(chain) > 0 || refused != "" {
		parts := make([]string, len(chain))
		for i, cert := range chain {
			parts[i] = base64.StdEncoding.EncodeToString(cert.Raw)
		}
		out.Header.Set(headerClientChain, strings.Join(parts, ","))
		if refused != "" {
			out.Header.Set(headerChainRefused, refused)
		}
	}
	resp, err := s.cluster.Forward(r.Context(), replica, out)
	if err != nil {
		s.metrics.forwarded.WithLabelValues(reason, "failed").Inc()
		c.w.Header().Set("Retry-After", "1")
		writeError(c.w, r, s.log, err)
		return
	}
	defer resp.Body.Close()
	s.metrics.forwarded.WithLabelValues(reason, "ok").Inc()
	// The replica that ran the request closes the connection after a
	// refused card step-up (closeForFreshHandshake), so that the retry
	// asks the card in a new handshake: that is this replica's client's
	// connection to close. Over HTTP/2 it says so in headerFreshHandshake
	// (RFC 9113 8.2.2: no Connection header), over HTTP/1.1 in Connection.
	fresh := resp.Header.Get(headerFreshHandshake) != "" || connectionClose(resp.Header)
	resp.Header.Del(headerFreshHandshake)
	for _, h := range hopByHop {
		resp.Header.Del(h)
	}
	if fresh {
		closeForFreshHandshake(c.w)
		c.w.Header().Del(headerFreshHandshake)
	}
	for k, vs := range resp.Header {
		c.w.Header()[k] = vs
	}
	c.w.WriteHeader(resp.StatusCode)
	io.Copy(c.w, resp.Body)
	c.wrote = true
}

// connectionClose reports whether h's Connection header has the close
// option (RFC 9110 7.6.1: a comma-separated list of case-insensitive
// tokens).
func connectionClose(h http.Header) bool {
	for _, v := range h.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "close") {
				return true
			}
		}
	}
	return false
}
