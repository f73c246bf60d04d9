package builtin

import (
	"context"
	"crypto/x509"
	"math/big"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CreateCRL signs a complete CRL (RFC 5280 5) with the issuing key.
// crypto/x509 adds the authority key identifier (5.2.1) and the CRL number
// (5.2.3); each entry carries its reason code (5.3.1), left out when
// unspecified as 5.3.1 recommends. The caller keeps the number monotonic.
func (c *CA) CreateCRL(ctx context.Context, number int64, revoked []ca.RevokedEntry, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if number < 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "CRL number %d is negative (RFC 5280 5.2.3)", number)
	}
	if thisUpdate.IsZero() || !nextUpdate.After(thisUpdate) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "CRL nextUpdate %s must be after thisUpdate %s", nextUpdate, thisUpdate)
	}
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		if r.Serial == nil || r.Serial.Sign() <= 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "CRL entry with a missing or non-positive serial")
		}
		if r.RevokedAt.IsZero() {
			return nil, lanyard.Errorf(lanyard.EInvalid, "CRL entry %x has no revocation time", r.Serial)
		}
		if !validReason(r.Reason) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "CRL entry %x: reason %d is not allowed in a complete CRL", r.Serial, r.Reason)
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.RevokedAt.UTC(),
			ReasonCode:     int(r.Reason),
		})
	}
	der, err := x509.CreateRevocationList(c.rand, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate.UTC(),
		NextUpdate:                nextUpdate.UTC(),
		RevokedCertificateEntries: entries,
	}, c.cert, c.signer)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "signing the CRL failed")
	}
	return der, nil
}

// validReason accepts the RFC 5280 5.3.1 reason codes usable in a complete
// CRL or an OCSP response: 7 is unassigned, and removeFromCRL (8) belongs
// only in delta CRLs.
func validReason(r lanyard.RevocationReason) bool {
	return r >= lanyard.ReasonUnspecified && r <= lanyard.ReasonAACompromise && r != 7 && r != lanyard.ReasonRemoveFromCRL
}
