package piv

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Attest returns a certificate for the key in slot, signed by the card's
// attestation key (slot F9), which says the key was generated on the card
// or imported, with its policies (vendor instruction ATTEST, INS F9, P1
// the slot). An empty slot is ErrNotFound. Verify it against
// AttestationCertificate and that against the vendor's attestation CA.
func (c *Card) Attest(ctx context.Context, slot Slot) (*x509.Certificate, error) {
	op := fmt.Sprintf("ATTEST %02X", byte(slot))
	if err := checkSlot(op, slot); err != nil {
		return nil, err
	}
	der, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsAttest, P1: byte(slot), Le: apdu.MaxShortLe})
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return cert, nil
}

// AttestationCertificate reads the certificate of the attestation key
// (slot F9, object 5FFF01), issued by the card vendor's attestation CA.
func (c *Card) AttestationCertificate(ctx context.Context) (*x509.Certificate, error) {
	return c.Certificate(ctx, pivspec.SlotAttestation)
}
