package personalize

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// GenerateKey has the card generate a key pair of the domain algorithm
// alg in slot (GENERATE ASYMMETRIC KEY PAIR, SP 800-73-4 part 2, 3.3.2)
// and returns its public key; the private key never leaves the card.
func GenerateKey(ctx context.Context, a *piv.Admin, slot piv.Slot, alg lanyard.KeyAlgorithm) (crypto.PublicKey, error) {
	pub, err := generateKey(ctx, a, slot, alg)
	if err != nil {
		return nil, CardError(err, "generating the "+string(alg)+" key in slot "+SlotString(slot)+" failed")
	}
	return pub, nil
}

func generateKey(ctx context.Context, a *piv.Admin, slot piv.Slot, alg lanyard.KeyAlgorithm) (crypto.PublicKey, error) {
	id, err := KeyAlg(alg)
	if err != nil {
		return nil, fmt.Errorf("piv: GENERATE ASYMMETRIC KEY PAIR %02X: %w", byte(slot), err)
	}
	return a.GenerateKey(ctx, slot, id, piv.KeyPolicy{})
}

// ImportKey puts priv, a key pair generated on the server (an archived
// encryption key, internal/service/archive), into slot (IMPORT KEY,
// piv.Admin.ImportKey), with the same key policy as a key generated on
// the card.
func ImportKey(ctx context.Context, a *piv.Admin, slot piv.Slot, priv crypto.Signer) error {
	if err := a.ImportKey(ctx, slot, priv, piv.KeyPolicy{}); err != nil {
		return CardError(err, "importing the archived key into slot "+SlotString(slot)+" failed")
	}
	return nil
}

// WriteCertificate writes cert to slot (PUT DATA of the slot's
// certificate object, SP 800-73-4 part 2, 3.3.1), after checking that the
// slot's key is the certified one when the card can tell (vendor
// instruction GET METADATA): a card changed while the certificate waited
// is refused, not given a certificate for a key it no longer holds.
func WriteCertificate(ctx context.Context, c *piv.Card, a *piv.Admin, slot piv.Slot, cert *x509.Certificate) error {
	name := SlotString(slot)
	if md, err := c.Metadata(ctx, slot.Ref()); err == nil && md.PublicKey != nil {
		if !PublicKeysEqual(md.PublicKey, cert.PublicKey) {
			return lanyard.Errorf(lanyard.EConflict, "the key in slot %s is no longer the certified key; the card was changed during the issue", name)
		}
	} else if err != nil && !errors.Is(err, piv.ErrUnsupported) {
		return CardError(err, "reading the key in slot "+name)
	}
	if err := a.PutCertificate(ctx, slot, cert); err != nil {
		return CardError(err, "writing the certificate to slot "+name+" failed")
	}
	return nil
}

// DeleteCertificates deletes the certificates in the named slots (PUT DATA
// of an empty object, SP 800-73-4 part 2, 3.3.1); a slot already empty is
// no failure.
func DeleteCertificates(ctx context.Context, a *piv.Admin, slots []string) error {
	for _, name := range slots {
		slot, err := ParseSlot(name)
		if err != nil {
			return err
		}
		if err := a.DeleteCertificate(ctx, slot); err != nil && !errors.Is(err, piv.ErrNotFound) {
			return CardError(err, "deleting the certificate in slot "+name)
		}
	}
	return nil
}

// PublicKeysEqual compares public keys by their SubjectPublicKeyInfo.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}
