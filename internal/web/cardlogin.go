package web

import (
	"crypto/tls"
	"crypto/x509"
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
func ListenerTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
}

func (s *Server) cardLoginRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/session/card", summary: "Sign in with a smart card: the card certificate the client presented in the TLS handshake of Lanyard's HTTPS listener (never a proxy's header); " +
			"the card counts as the second factor, so staff skip the authenticator app's code", tag: "sessions", public: true, out: apiv1.SessionInfo{}, status: 201, h: s.cardLogin},
		{method: "POST", path: v1 + "/session/second-factor/card", summary: "The login's second step by smart card instead of a code: the password was right (login cookie of POST /session) and the TLS connection presents the same user's card", tag: "sessions", public: true, out: apiv1.SessionInfo{}, status: 201, h: s.cardSecondFactor},
	}
}

// peerChain is the certificate chain the client presented in this
// connection's TLS handshake; nil on plain HTTP (also behind a
// TLS-terminating proxy, whose headers are never believed for this).
func peerChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

// withClientCertificates is p with the chain of r's TLS connection, for
// the step-up by card (identity.VerifySecondFactor); a copy, because
// the identity capability may hand out one principal to many requests
// (its token cache).
func withClientCertificates(p *lanyard.Principal, r *http.Request) *lanyard.Principal {
	chain := peerChain(r)
	if len(chain) == 0 {
		return p
	}
	cp := *p
	cp.ClientCertificates = chain
	return &cp
}

// cardLogin signs in with the connection's card certificate.
func (s *Server) cardLogin(c *call) (any, error) {
	res, err := s.identity.CardLogin(c.r.Context(), peerChain(c.r), s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	return s.startSession(c, res), nil
}

// cardSecondFactor completes a password login with the connection's card.
func (s *Server) cardSecondFactor(c *call) (any, error) {
	res, err := s.identity.CompleteLoginCard(c.r.Context(), s.loginChallenge(c.r), peerChain(c.r), s.clientAddr(c.r))
	if err != nil {
		return nil, err
	}
	s.setLoginCookie(c.w, "", time.Time{})
	return s.startSession(c, res), nil
}
