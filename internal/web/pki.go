package web

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// maxOCSPRequest bounds OCSP request bodies (a request for one certificate
// is about 100 bytes).
const maxOCSPRequest = 8192

func (s *Server) serveCRL(c *call) (any, error) {
	name, ok := strings.CutSuffix(c.r.PathValue("file"), ".crl")
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "CRLs are served as /crl/NAME.crl")
	}
	der, err := s.pki.CRL(c.r.Context(), name)
	if err != nil {
		return nil, err
	}
	c.raw("application/pkix-crl", der)
	return nil, nil
}

func (s *Server) serveCACert(c *call) (any, error) {
	name, ok := strings.CutSuffix(c.r.PathValue("file"), ".crt")
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "CA certificates are served as /ca/NAME.crt")
	}
	der, err := s.pki.CACertificate(c.r.Context(), name)
	if err != nil {
		return nil, err
	}
	c.raw("application/pkix-cert", der)
	return nil, nil
}

func (s *Server) ocspPost(c *call) (any, error) {
	if ct := c.r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/ocsp-request") {
		return nil, lanyard.Errorf(codeUnsupportedMedia, "send the request as application/ocsp-request")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxOCSPRequest))
	if err != nil {
		return nil, lanyard.Errorf(lanyard.ETooLarge, "OCSP request exceeds %d bytes", maxOCSPRequest)
	}
	return s.answerOCSP(c, body)
}

func (s *Server) ocspGet(c *call) (any, error) {
	raw := c.r.PathValue("request")
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	der, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP GET path must be the base64 DER request")
	}
	return s.answerOCSP(c, der)
}

// answerOCSP answers with an OCSP response in every case the protocol
// covers: a request that does not parse gets malformedRequest and one about
// a CA not served here gets unauthorized (RFC 6960 2.3), as OCSP clients
// expect a response body rather than an HTTP error.
func (s *Server) answerOCSP(c *call, req []byte) (any, error) {
	resp, err := s.pki.OCSP(c.r.Context(), req)
	switch lanyard.ErrorCode(err) {
	case "":
	case lanyard.EInvalid:
		resp = ocsp.MalformedRequestErrorResponse
	case lanyard.ENotFound:
		resp = ocsp.UnauthorizedErrorResponse
	default:
		return nil, err
	}
	c.w.Header().Set("Cache-Control", "max-age=60, public")
	c.raw("application/ocsp-response", resp)
	return nil, nil
}
