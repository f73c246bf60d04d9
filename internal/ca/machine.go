package ca

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MachineSigner is implemented by CAs that certify Lanyard's own
// machines: the TLS server certificate of the agent listener and the
// client certificates of paired workstations. These certify hosts, not
// people, so they are built from a MachineRequest rather than from a
// template and a user.
type MachineSigner interface {
	SignMachine(ctx context.Context, req *MachineRequest) (*x509.Certificate, error)
}

// MachineRequest describes a machine certificate.
type MachineRequest struct {
	PublicKey   crypto.PublicKey
	CommonName  string
	DNSNames    []string
	IPAddresses []net.IP
	// Usage is x509.ExtKeyUsageServerAuth or x509.ExtKeyUsageClientAuth.
	Usage    x509.ExtKeyUsage
	Validity time.Duration
}

// MachineSpec is a MachineRequest with what the CA decided: serial,
// validity and URLs.
type MachineSpec struct {
	*MachineRequest
	Serial    *big.Int
	NotBefore time.Time
	NotAfter  time.Time
	URLs      URLs
}

// BuildMachineCertificate turns s into a template for
// x509.CreateCertificate: the common name, the DNS and IP subject
// alternative names (RFC 5280 4.2.1.6; TLS clients match only these, RFC
// 6125), digitalSignature (plus keyEncipherment for RSA, which TLS 1.2 RSA
// key exchange needs), one extended key usage and no CA rights.
func BuildMachineCertificate(s *MachineSpec) (*x509.Certificate, error) {
	r := s.MachineRequest
	if r == nil || r.PublicKey == nil || r.CommonName == "" {
		return nil, lanyard.Errorf(lanyard.EInternal, "machine certificate: public key and common name are required")
	}
	if r.Usage != x509.ExtKeyUsageServerAuth && r.Usage != x509.ExtKeyUsageClientAuth {
		return nil, lanyard.Errorf(lanyard.EInternal, "machine certificate: usage must be server or client authentication")
	}
	ski, err := subjectKeyID(r.PublicKey)
	if err != nil {
		return nil, err
	}
	ku := x509.KeyUsageDigitalSignature
	if _, ok := r.PublicKey.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	c := &x509.Certificate{
		SerialNumber:          s.Serial,
		Subject:               pkix.Name{CommonName: r.CommonName},
		NotBefore:             s.NotBefore,
		NotAfter:              s.NotAfter,
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{r.Usage},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		DNSNames:              r.DNSNames,
		IPAddresses:           r.IPAddresses,
	}
	if s.URLs.CRL != "" {
		c.CRLDistributionPoints = []string{s.URLs.CRL}
	}
	if s.URLs.OCSP != "" {
		c.OCSPServer = []string{s.URLs.OCSP}
	}
	if s.URLs.IssuerCert != "" {
		c.IssuingCertificateURL = []string{s.URLs.IssuerCert}
	}
	return c, nil
}
