package builtin

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var _ ca.MachineSigner = (*CA)(nil)

// SignMachine issues a machine certificate (ca.MachineSigner): a random
// serial, validity from a minute ago for req.Validity, clamped to the
// issuing CA's.
func (c *CA) SignMachine(ctx context.Context, req *ca.MachineRequest) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req == nil || req.Validity < 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a machine certificate needs a request with a positive validity")
	}
	serial, err := randomSerial(c.rand)
	if err != nil {
		return nil, err
	}
	days := int((req.Validity + 24*time.Hour - 1) / (24 * time.Hour))
	notBefore, notAfter, err := ca.ValidityWindow(c.now(), max(days, 1), c.cert.NotAfter)
	if err != nil {
		return nil, err
	}
	tmpl, err := ca.BuildMachineCertificate(&ca.MachineSpec{MachineRequest: req, Serial: serial, NotBefore: notBefore, NotAfter: notAfter, URLs: c.urls})
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, req.PublicKey, c.signer)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "signing the machine certificate failed")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the signed certificate does not parse")
	}
	return cert, nil
}
