package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Smart card sign-in (docs/security.md, "Smart card sign-in"): the
// HTTPS listener asks every client for a certificate (ListenerTLSConfig)
// and the two routes below hand what the TLS handshake proved to the
// identity capability, which decides.

// ListenerTLSConfig is the TLS configuration of `lanyard serve
// --tls-cert/--tls-key`: TLS 1.2 or newer, and a client certificate
// requested but neither required nor verified in the handshake
// (tls.RequestClientCert). Go still checks the client's CertificateVerify
// (RFC 8446 4.4.3), so a presented certificate's key is proven to be
// the client's; the certificate itself is judged by the sign-in
// endpoint, which can answer why it refuses one. Verifying in the
// handshake (VerifyClientCertIfGiven) would instead end the connection
// on a foreign or expired certificate with a bare TLS alert, so its
// holder could neither read the reason nor reach the password login;
// and the trusted CAs would be fixed when the listener starts.
//
// No session resumes (SessionTicketsDisabled; Go's server keeps no
// session-ID cache): a resumed session (RFC 8446 2.2, RFC 5077) brings
// back the client certificate of its first handshake, up to 7 days old,
// without the card signing anything now, so a browser whose card was
// pulled out would still "present" it. Every connection's handshake
// proves the key afresh instead; the card routes refuse a resumed
// connection besides (cardConnection), should a resumption ever slip
// through. Use ConnContext on the same http.Server for the handshake age.
func ListenerTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert, SessionTicketsDisabled: true}
}

// CardConnectionMaxAge is how long after a connection was accepted its
// TLS handshake's card still counts for sign-in, the login's second
// step and the step-up. A keep-alive connection (HTTP/1.1, HTTP/2) goes
// on carrying the certificate of its one handshake while the card may
// long be out of the reader; past this age the card check refuses and
// Lanyard closes the connection, so the browser's next try shakes hands
// again and the card must sign (and its PIN be known) once more.
const CardConnectionMaxAge = 5 * time.Minute

// connAcceptedKey is the context key of when the connection was accepted.
type connAcceptedKey struct{}

// ConnContext is the http.Server ConnContext of the HTTPS listener: it
// records when each connection was accepted (its TLS handshake follows
// at once), the connection age the card routes judge
// (CardConnectionMaxAge). A request whose context lacks it (a server
// without this hook) never counts a card.
func (s *Server) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connAcceptedKey{}, s.now())
}

// closeForFreshHandshake asks for r's connection to close after this
// response (for HTTP/2 Go's server sends GOAWAY), so that the client's
// next request shakes hands, and presents its card, anew.
func closeForFreshHandshake(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	// A forwarding replica closes its client's connection instead
	// (forward.go): the peer link's HTTP/2 carries no Connection header.
	w.Header().Set(headerFreshHandshake, "1")
}

// cardConnection is the chain r's TLS connection presented if it may
// stand for a card present now: the session was not resumed
// (r.TLS.DidResume) and the connection is at most CardConnectionMaxAge
// old. Otherwise the chain is nil and refused says why (empty when no
// certificate was presented at all).
func (s *Server) cardConnection(r *http.Request) (chain []*x509.Certificate, refused string) {
	if forwarded(r) {
		// The connection is the peer link, whose certificate is the
		// forwarding replica's; the client's card is what that replica
		// judged (forward.go).
		return forwardedChain(r)
	}
	chain = peerChain(r)
	if len(chain) == 0 {
		return nil, ""
	}
	if r.TLS.DidResume {
		return nil, "this TLS connection resumed an earlier session, whose card certificate proves nothing now; try again on a new connection"
	}
	at, ok := r.Context().Value(connAcceptedKey{}).(time.Time)
	if !ok {
		return nil, "this listener does not track its connections' age, so it cannot tell that the card is still there"
	}
	if age := s.now().Sub(at); age > CardConnectionMaxAge {
		return nil, fmt.Sprintf("the card certificate of this connection was checked %s ago (more than %s); try again: "+
			"Lanyard closed the connection, so your browser asks the card afresh", age.Round(time.Second), CardConnectionMaxAge)
	}
	return chain, ""
}

func (s *Server) cardLoginRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/session/card", summary: "Sign in with a smart card: the card certificate the client presented in the TLS handshake of Lanyard's HTTPS listener (never a proxy's header); " +
			"the card counts as the second factor, so staff skip the authenticator app's code", tag: "sessions", public: true, signIn: true, out: apiv1.SessionInfo{}, status: 201, h: s.cardLogin},
		{method: "POST", path: v1 + "/session/second-factor/card", summary: "The login's second step by smart card instead of a code: the password was right (login cookie of POST /session) and the TLS connection presents the same user's card", tag: "sessions", public: true, signIn: true, out: apiv1.SessionInfo{}, status: 201, h: s.cardSecondFactor},
	}
}

// peerChain is the certificate chain the client presented in this
// connection's TLS handshake; nil on plain HTTP (also behind a
// TLS-terminating proxy, whose headers are never believed for this).
func peerChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil || forwarded(r) {
		return nil
	}
	return r.TLS.PeerCertificates
}

// withClientCertificates is p with the chain of r's TLS connection, for
// the step-up by card (identity.VerifySecondFactor), or with why that
// chain does not count (cardConnection); a copy, because the identity
// capability may hand out one principal to many requests (its token
// cache).
func (s *Server) withClientCertificates(p *lanyard.Principal, r *http.Request) *lanyard.Principal {
	chain, refused := s.cardConnection(r)
	if len(chain) == 0 && refused == "" {
		return p
	}
	cp := *p
	cp.ClientCertificates, cp.ClientCertificatesRefused = chain, refused
	return &cp
}

// loginCard is the chain of c's connection for the card sign-in routes;
// a chain that does not count (cardConnection) is refused here, and the
// connection closed so that a retry shakes hands anew.
func (s *Server) loginCard(c *call) ([]*x509.Certificate, error) {
	chain, refused := s.cardConnection(c.r)
	if refused != "" {
		closeForFreshHandshake(c.w)
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "%s", refused)
	}
	return chain, nil
}

// cardLogin signs in with the connection's card certificate.
func (s *Server) cardLogin(c *call) (any, error) {
	chain, err := s.loginCard(c)
	if err != nil {
		return nil, err
	}
	res, err := s.identity.CardLogin(c.r.Context(), chain, s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	return s.startSession(c, res), nil
}

// cardSecondFactor completes a password login with the connection's card.
func (s *Server) cardSecondFactor(c *call) (any, error) {
	chain, err := s.loginCard(c)
	if err != nil {
		return nil, err
	}
	res, err := s.identity.CompleteLoginCard(c.r.Context(), s.loginChallenge(c.r), chain, s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	s.setLoginCookie(c.w, "", time.Time{})
	return s.startSession(c, res), nil
}
