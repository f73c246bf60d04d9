package piv

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// CHUID is the Card Holder Unique Identifier (SP 800-73-4 Part 1 3.1.2,
// table 9). Only GUID identifies cards reliably: many cards, Lanyard's
// among them, carry the "all nines" FASC-N of non-federal issuers.
type CHUID struct {
	// FASCN is the 25-byte Federal Agency Smart Credential Number (tag 30),
	// nil if absent; decode it with ParseFASCN.
	FASCN []byte
	// OrganizationID (32) and DUNS (33), optional.
	OrganizationID, DUNS []byte
	// GUID is the card's 16-byte Global Unique Identifier (34); nil if the
	// card left it out, which SP 800-73-4 does not allow.
	GUID []byte
	// Expiration is the expiration date (35); zero if absent.
	Expiration time.Time
	// CardholderUUID (36), optional.
	CardholderUUID []byte
	// Signature is the issuer asymmetric signature (3E), a CMS SignedData
	// over the CHUID; kept raw and not verified here.
	Signature []byte
}

// CHUID reads and parses the CHUID object (5FC102).
func (c *Card) CHUID(ctx context.Context) (CHUID, error) {
	v, err := c.ReadObject(ctx, pivspec.ObjectCHUID)
	if err != nil {
		return CHUID{}, err
	}
	ch, err := ParseCHUID(v)
	if err != nil {
		return CHUID{}, fmt.Errorf("piv: CHUID: %w", err)
	}
	return ch, nil
}

// ParseCHUID decodes the contents of a CHUID object (the value of its 53
// tag). Unknown tags, the buffer length EE and the error detection code FE
// are ignored; fields of the wrong size are errors wrapping
// apdu.ErrMalformed.
func ParseCHUID(b []byte) (CHUID, error) {
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return CHUID{}, err
	}
	var ch CHUID
	for _, t := range tlvs {
		switch t.Tag {
		case 0x30:
			if len(t.Value) != fascnLen {
				return CHUID{}, fmt.Errorf("%w CHUID: FASC-N of %d bytes, want %d", apdu.ErrMalformed, len(t.Value), fascnLen)
			}
			ch.FASCN = bytes.Clone(t.Value)
		case 0x32:
			ch.OrganizationID = bytes.Clone(t.Value)
		case 0x33:
			ch.DUNS = bytes.Clone(t.Value)
		case 0x34:
			if len(t.Value) != 16 {
				return CHUID{}, fmt.Errorf("%w CHUID: GUID of %d bytes, want 16", apdu.ErrMalformed, len(t.Value))
			}
			ch.GUID = bytes.Clone(t.Value)
		case 0x35:
			d, err := time.Parse("20060102", string(t.Value))
			if err != nil || len(t.Value) != 8 {
				return CHUID{}, fmt.Errorf("%w CHUID: expiration date %q is not YYYYMMDD", apdu.ErrMalformed, t.Value)
			}
			ch.Expiration = d
		case 0x36:
			ch.CardholderUUID = bytes.Clone(t.Value)
		case 0x3E:
			ch.Signature = bytes.Clone(t.Value)
		}
	}
	return ch, nil
}
