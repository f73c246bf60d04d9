package pki

import (
	"context"
	"encoding/pem"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CAInfo describes a running CA.
type CAInfo struct {
	Name    string
	Subject string
	Issuer  string
	Chain   string // issuing certificate first, root last
	CRLURL  string
	OCSPURL string
}

// ListCAs describes the running CAs in configuration order.
func (s *PKI) ListCAs(ctx context.Context) ([]*CAInfo, error) {
	out := make([]*CAInfo, 0, len(s.caOrder))
	for _, n := range s.caOrder {
		info, err := s.GetCA(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// GetCA describes one CA.
func (s *PKI) GetCA(ctx context.Context, name string) (*CAInfo, error) {
	c, ok := s.cas[name]
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "CA %q not found", name)
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, cert := range chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	return &CAInfo{
		Name: name, Subject: chain[0].Subject.String(), Issuer: chain[0].Issuer.String(), Chain: b.String(),
		CRLURL: s.baseURL + "/crl/" + name + ".crl", OCSPURL: s.baseURL + "/ocsp",
	}, nil
}

// CACertificate returns the DER issuing certificate of name (served at the
// AIA caIssuers URL).
func (s *PKI) CACertificate(ctx context.Context, name string) ([]byte, error) {
	c, ok := s.cas[name]
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "CA %q not found", name)
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	return chain[0].Raw, nil
}

// GetCertificate returns a certificate by serial; users see only their own.
func (s *PKI) GetCertificate(ctx context.Context, p *lanyard.Principal, caName, serial string) (*lanyard.Certificate, string, error) {
	serial, err := parseSerial(serial)
	if err != nil {
		return nil, "", err
	}
	if caName == "" {
		caName = s.caOrder[0]
	}
	var c *lanyard.Certificate
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { c, err = tx.CertificateBySerial(caName, serial); return }); err != nil {
		return nil, "", err
	}
	if c.UserID != p.User.ID && !p.IsStaff() && !p.Has(lanyard.RoleAuditor) {
		return nil, "", lanyard.Errorf(lanyard.ENotFound, "certificate %s not found", serial)
	}
	return c, certPEM(c.DER), nil
}

// ListCertificates lists certificates; users see only their own.
func (s *PKI) ListCertificates(ctx context.Context, p *lanyard.Principal, f lanyard.CertFilter) ([]*lanyard.Certificate, error) {
	if !p.IsStaff() && !p.Has(lanyard.RoleAuditor) {
		f.UserID = p.User.ID
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*lanyard.Certificate
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListCertificates(f); return })
	return out, err
}
