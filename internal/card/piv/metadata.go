package piv

import (
	"context"
	"crypto"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Origin says where a slot's key came from (GET METADATA tag 03).
type Origin = pivspec.Origin

// Metadata describes a key reference as GET METADATA reports it (vendor
// instruction F7, YubiKey 5.3 and later). Fields the card left out are
// zero.
type Metadata struct {
	// Algorithm (tag 01): of the key in a slot, of the management key for
	// KeyAdmin, AlgPIN for the PIN and PUK.
	Algorithm Algorithm
	// PINPolicy and TouchPolicy (02) of the key.
	PINPolicy   PINPolicy
	TouchPolicy TouchPolicy
	// Origin (03) of a slot's key.
	Origin Origin
	// PublicKey (04) of a slot's key: *rsa.PublicKey or *ecdsa.PublicKey.
	PublicKey crypto.PublicKey
	// Default (05) reports that the PIN, PUK or management key still has
	// its factory value.
	Default bool
	// Retries and RetriesLeft (06): the PIN's or PUK's total and remaining
	// tries.
	Retries, RetriesLeft int
}

// Metadata returns what the card says about ref: a key slot (slot.Ref()),
// KeyPIN, KeyPUK or KeyAdmin. An empty slot is ErrNotFound; cards without
// the instruction fail with ErrUnsupported.
func (c *Card) Metadata(ctx context.Context, ref KeyRef) (Metadata, error) {
	op := fmt.Sprintf("GET METADATA %02X", byte(ref))
	b, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsGetMetadata, P2: byte(ref), Le: apdu.MaxShortLe})
	if err != nil {
		return Metadata{}, err
	}
	m, err := parseMetadata(b)
	if err != nil {
		return Metadata{}, fmt.Errorf("piv: %s: %w", op, err)
	}
	return m, nil
}

// parseMetadata decodes the TLVs of a GET METADATA response.
func parseMetadata(b []byte) (Metadata, error) {
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return Metadata{}, err
	}
	var m Metadata
	size := func(t apdu.TLV, n int) error {
		if len(t.Value) != n {
			return fmt.Errorf("%w metadata: tag %02X of %d bytes, want %d", apdu.ErrMalformed, t.Tag, len(t.Value), n)
		}
		return nil
	}
	var pub []byte
	havePub := false
	for _, t := range tlvs {
		switch t.Tag {
		case pivspec.MetaAlgorithm:
			if err := size(t, 1); err != nil {
				return Metadata{}, err
			}
			m.Algorithm = Algorithm(t.Value[0])
		case pivspec.MetaPolicy:
			if err := size(t, 2); err != nil {
				return Metadata{}, err
			}
			m.PINPolicy, m.TouchPolicy = PINPolicy(t.Value[0]), TouchPolicy(t.Value[1])
		case pivspec.MetaOrigin:
			if err := size(t, 1); err != nil {
				return Metadata{}, err
			}
			m.Origin = Origin(t.Value[0])
		case pivspec.MetaPublicKey:
			pub, havePub = t.Value, true
		case pivspec.MetaDefault:
			if err := size(t, 1); err != nil {
				return Metadata{}, err
			}
			m.Default = t.Value[0] != 0
		case pivspec.MetaRetries:
			if err := size(t, 2); err != nil {
				return Metadata{}, err
			}
			m.Retries, m.RetriesLeft = int(t.Value[0]), int(t.Value[1])
		}
	}
	if havePub {
		// The public key is encoded as in GENERATE's 7F49 template, so
		// its algorithm (01) must be known to read it.
		if m.PublicKey, err = parsePublicKey(m.Algorithm, pub); err != nil {
			return Metadata{}, err
		}
	}
	return m, nil
}
