package builtin

import (
	"context"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Sign issues a certificate for req. This is the hot path: everything that
// does not depend on the request (issuer name and key identifier, URLs) was
// computed by New, so the cost is one profile build, one signature (plus the
// check crypto/x509 makes of it) and one parse.
//
// The serial is random (randomSerial); validity starts a minute in the past
// and is clamped to the issuing certificate (ca.ValidityWindow).
func (c *CA) Sign(ctx context.Context, req *ca.SignRequest) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req == nil || req.Template == nil || req.User == nil || req.PublicKey == nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a sign request needs a template, a user and a public key")
	}
	if t := req.Template.CA; t != "" && t != c.name {
		return nil, lanyard.Errorf(lanyard.EInvalid, "template %q is issued by CA %q, not %q", req.Template.Name, t, c.name)
	}
	serial, err := randomSerial(c.rand)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := ca.ValidityWindow(c.now(), req.Template.ValidityDays, c.cert.NotAfter)
	if err != nil {
		return nil, err
	}
	tmpl, err := ca.BuildCertificate(&ca.CertSpec{
		Template:  req.Template,
		User:      req.User,
		PublicKey: req.PublicKey,
		Serial:    serial,
		NotBefore: notBefore,
		NotAfter:  notAfter,
		URLs:      c.urls,
	})
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, req.PublicKey, c.signer)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "signing the certificate failed")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the signed certificate does not parse")
	}
	return cert, nil
}
