package personalize

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Earlier key management keys on a card: the retired key management
// slots 82 to 95 (SP 800-73-4 Part 1, 3.1.1 and table 4), their
// certificate objects 5FC10D to 5FC120, and the Key History Object
// 5FC10C (3.3.2, table 19) that says how many of them hold a key with its
// certificate on the card. Clients trust the Key History Object, not the
// slots: OpenSC's PIV driver (card-piv.c, piv_process_history) looks at
// retired certificate i only when i ≤ keysWithOnCardCerts, so the keys
// fill the slots from 82 up without a gap (3.3.2: "the retired keys …
// shall be stored contiguously starting at key reference '82'").

// MaxRetiredKeys is how many retired key management keys a PIV card holds.
const MaxRetiredKeys = int(pivspec.SlotRetiredLast-pivspec.SlotRetiredFirst) + 1

// KeyHistory is the content of the Key History Object.
type KeyHistory struct {
	// OnCard is keysWithOnCardCerts: the retired slots 82 up to 82+OnCard−1
	// hold a key and its certificate.
	OnCard int
	// OffCard is keysWithOffCardCerts: retired keys whose certificates
	// are only at URL.
	OffCard int
	// URL is offCardCertURL (empty: none).
	URL string
}

// Key History Object tags (SP 800-73-4 Part 1 table 19).
const (
	tagKeysOnCard  = 0xC1
	tagKeysOffCard = 0xC2
	tagOffCardURL  = 0xF3
	tagEDC         = 0xFE
)

// ReadKeyHistory reads the Key History Object; a card without one has
// no retired keys (the zero KeyHistory).
func ReadKeyHistory(ctx context.Context, c *piv.Card) (KeyHistory, error) {
	v, err := c.ReadObject(ctx, pivspec.ObjectKeyHistory)
	if errors.Is(err, piv.ErrNotFound) {
		return KeyHistory{}, nil
	}
	if err != nil {
		return KeyHistory{}, CardError(err, "reading the key history object")
	}
	h, err := ParseKeyHistory(v)
	if err != nil {
		return KeyHistory{}, lanyard.Wrap(lanyard.EConflict, err, "the card's key history object does not parse")
	}
	return h, nil
}

// ParseKeyHistory decodes the value of the Key History Object (inside its
// 53 container).
func ParseKeyHistory(v []byte) (KeyHistory, error) {
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return KeyHistory{}, err
	}
	var h KeyHistory
	for _, t := range tlvs {
		switch t.Tag {
		case tagKeysOnCard, tagKeysOffCard:
			if len(t.Value) != 1 || int(t.Value[0]) > MaxRetiredKeys {
				return KeyHistory{}, fmt.Errorf("key history: tag %02X is not a count of 0 to %d", t.Tag, MaxRetiredKeys)
			}
			if t.Tag == tagKeysOnCard {
				h.OnCard = int(t.Value[0])
			} else {
				h.OffCard = int(t.Value[0])
			}
		case tagOffCardURL:
			h.URL = string(t.Value)
		}
	}
	if h.OnCard+h.OffCard > MaxRetiredKeys {
		return KeyHistory{}, fmt.Errorf("key history: %d keys on card and %d off card are more than %d", h.OnCard, h.OffCard, MaxRetiredKeys)
	}
	return h, nil
}

// Encode returns the value of the Key History Object for h: C1 and C2 (both
// mandatory), F3 when there is a URL, and the empty error detection code.
func (h KeyHistory) Encode() []byte {
	tlvs := []apdu.TLV{{Tag: tagKeysOnCard, Value: []byte{byte(h.OnCard)}}, {Tag: tagKeysOffCard, Value: []byte{byte(h.OffCard)}}}
	if h.URL != "" {
		tlvs = append(tlvs, apdu.TLV{Tag: tagOffCardURL, Value: []byte(h.URL)})
	}
	return apdu.AppendTLVs(nil, append(tlvs, apdu.TLV{Tag: tagEDC})...)
}

// RetiredKey is an earlier key management key with its certificate, to be
// put in a retired slot (a recovered archived key,
// internal/service/archive).
type RetiredKey struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// WriteRetiredKeys puts keys (newest first, at most MaxRetiredKeys) into
// the retired key management slots from 82 up, each with IMPORT KEY and
// its certificate in the slot's object, and leaves the Key History Object
// with keysWithOnCardCerts = len(keys) and no off-card keys. The retired
// slots past len(keys) that an earlier write counted are emptied (their
// certificates deleted, their keys destroyed: wipeRetiredSlot), so the
// card neither lists nor holds a key the history no longer names.
//
// The count always covers every slot that may hold a key: a larger count
// is written before the first import, a smaller one only after the slots
// past it are emptied. A write interrupted anywhere therefore leaves no
// key past the count, and ClearRetiredKeys (Revoke and clear) finds it
// even on a card that cannot tell its keys. Running it again with the
// same keys writes the same slots: an interrupted write is simply
// repeated.
func WriteRetiredKeys(ctx context.Context, c *piv.Card, a *piv.Admin, keys []RetiredKey) error {
	if len(keys) > MaxRetiredKeys {
		return lanyard.Errorf(lanyard.EInvalid, "a PIV card holds %d retired keys, not %d", MaxRetiredKeys, len(keys))
	}
	for i, k := range keys {
		if k.Key == nil || k.Certificate == nil || !PublicKeysEqual(k.Key.Public(), k.Certificate.PublicKey) {
			return lanyard.Errorf(lanyard.EInvalid, "retired key %d is not the key of its certificate", i+1)
		}
	}
	old, err := ReadKeyHistory(ctx, c)
	if err != nil {
		return err
	}
	h := KeyHistory{OnCard: len(keys)}
	if len(keys) > old.OnCard {
		if err := writeKeyHistory(ctx, a, h); err != nil {
			return err
		}
	}
	for i, k := range keys {
		slot, _ := pivspec.RetiredSlot(i + 1)
		if err := a.ImportKey(ctx, slot, k.Key, piv.KeyPolicy{}); err != nil {
			return CardError(err, "importing the earlier key into slot "+SlotString(slot)+" failed")
		}
		if err := a.PutCertificate(ctx, slot, k.Certificate); err != nil {
			return CardError(err, "writing the earlier certificate to slot "+SlotString(slot)+" failed")
		}
	}
	if old.OnCard > len(keys) {
		canMove, err := CanMoveKeys(ctx, c)
		if err != nil {
			return err
		}
		for n := len(keys) + 1; n <= old.OnCard; n++ {
			slot, _ := pivspec.RetiredSlot(n)
			if err := wipeRetiredSlot(ctx, a, slot, canMove); err != nil {
				return err
			}
		}
	}
	if len(keys) > old.OnCard {
		return nil // written above
	}
	return writeKeyHistory(ctx, a, h)
}

// writeKeyHistory writes the Key History Object.
func writeKeyHistory(ctx context.Context, a *piv.Admin, h KeyHistory) error {
	if err := a.WriteObject(ctx, pivspec.ObjectKeyHistory, h.Encode()); err != nil {
		return CardError(err, "writing the key history object failed")
	}
	return nil
}

// ClearRetiredKeys empties the retired key management slots of a card:
// every occupied slot's certificate is deleted and its key destroyed —
// DELETE KEY on a card that can move keys (CanMoveKeys), else overwritten
// by a throw-away key generated in the slot, as a standard PIV card
// cannot delete a key — and the key history is written back to none.
// Revoke and clear, and an issue onto a card not initialized, call it so
// that no retired key of one owner stays on a card behind its default PIN
// or goes to the next owner.
//
// It does not trust the Key History Object alone (a write interrupted
// before this package wrote the count first, or by another tool, leaves
// keys the count does not name): it looks at all MaxRetiredKeys slots. A
// slot is occupied when the history counts it, its certificate object is
// present, or GET METADATA reports a key in it. On a card that cannot
// report keys (GET METADATA unsupported) every retired slot is
// overwritten, as any of them may have been used (a slot the card has no
// key reference for, which it says by refusing the overwrite as not
// found or not supported, is skipped). It reports whether it
// changed the card; a card with no retired key found is left as it is.
func ClearRetiredKeys(ctx context.Context, c *piv.Card, a *piv.Admin) (bool, error) {
	h, err := ReadKeyHistory(ctx, c)
	if err != nil {
		return false, err
	}
	occupied := map[piv.Slot]slotUse{}
	for n := 1; n <= MaxRetiredKeys; n++ {
		slot, _ := pivspec.RetiredSlot(n)
		use := slotUsed
		if n > h.OnCard {
			if use, err = retiredSlotUse(ctx, c, slot); err != nil {
				return false, err
			}
		}
		if use != slotEmpty {
			occupied[slot] = use
		}
	}
	if len(occupied) == 0 && h == (KeyHistory{}) {
		return false, nil
	}
	canMove, err := CanMoveKeys(ctx, c)
	if err != nil {
		return false, err
	}
	for n := 1; n <= MaxRetiredKeys; n++ {
		slot, _ := pivspec.RetiredSlot(n)
		use, ok := occupied[slot]
		if !ok {
			continue
		}
		err := wipeRetiredSlot(ctx, a, slot, canMove)
		if err != nil && use == slotUnknown && (errors.Is(err, piv.ErrUnsupported) || errors.Is(err, piv.ErrNotFound)) {
			// A card that has no such key reference cannot hold a
			// key there either.
			continue
		}
		if err != nil {
			return false, err
		}
	}
	if err := writeKeyHistory(ctx, a, KeyHistory{}); err != nil {
		return false, err
	}
	return true, nil
}

// slotUse is what ClearRetiredKeys knows of a retired slot.
type slotUse int

const (
	slotEmpty   slotUse = iota // no certificate, and GET METADATA finds no key
	slotUsed                   // counted, a certificate, or a key reported
	slotUnknown                // no certificate; the card cannot report keys
)

// retiredSlotUse tells whether a retired slot the history does not count
// may hold a key: its certificate object is present, or GET METADATA
// reports a key, or the card cannot report keys (then any slot may hold
// one).
func retiredSlotUse(ctx context.Context, c *piv.Card, slot piv.Slot) (slotUse, error) {
	_, err := c.ReadObject(ctx, slot.Object())
	switch {
	case err == nil:
		return slotUsed, nil
	case !errors.Is(err, piv.ErrNotFound):
		return slotEmpty, CardError(err, "reading the certificate object of slot "+SlotString(slot))
	}
	_, err = c.Metadata(ctx, slot.Ref())
	switch {
	case err == nil:
		return slotUsed, nil
	case errors.Is(err, piv.ErrUnsupported):
		return slotUnknown, nil
	case errors.Is(err, piv.ErrNotFound):
		return slotEmpty, nil
	}
	return slotEmpty, CardError(err, "reading the key in slot "+SlotString(slot))
}

// wipeRetiredSlot deletes the certificate in a retired slot and destroys
// its key: DELETE KEY when the card can move keys, else a throw-away key
// generated over it (nobody keeps it; the slot no longer opens anything
// encrypted to the earlier certificate).
func wipeRetiredSlot(ctx context.Context, a *piv.Admin, slot piv.Slot, canMove bool) error {
	if err := a.DeleteCertificate(ctx, slot); err != nil && !errors.Is(err, piv.ErrNotFound) {
		return CardError(err, "deleting the certificate in slot "+SlotString(slot))
	}
	if canMove {
		if err := a.DeleteKey(ctx, slot); err != nil && !errors.Is(err, piv.ErrNotFound) {
			return CardError(err, "deleting the key in slot "+SlotString(slot))
		}
		return nil
	}
	if _, err := a.GenerateKey(ctx, slot, pivspec.AlgECCP256, piv.KeyPolicy{}); err != nil {
		return CardError(err, "overwriting the key in slot "+SlotString(slot))
	}
	return nil
}
