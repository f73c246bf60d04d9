package personalize

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's identity (docs/security.md, "Cards": no card keeps a default
// or shared secret after issue). The management key is derived
// from the store's identifier of the card (Identity.KeyIdent), and used
// only on a card that presents the serial and CHUID GUID its record holds.

// Serial is how Lanyard names a PIV card to people: the vendor serial
// number in decimal, as printed on YubiKeys (vendor instruction GET
// SERIAL), else the CHUID's GUID in hex (SP 800-73-4 part 1, 3.1.2). The
// workstation agent reports the same value in its inventory.
func Serial(ctx context.Context, c *piv.Card) (string, error) {
	id, err := Identify(ctx, c)
	return id.Serial, err
}

// Identity is what a PIV card says it is, read once. Serial names the
// card in the store (with its card type) and, through KeyIdent, is what
// its diversified management key is bound to: one identifier for both, so
// a card presenting another card's CHUID is a different card and never
// obtains that card's key. GUID is the CHUID GUID in hex ("" without one,
// or all zero), recorded so that no second card presents it.
type Identity struct {
	Serial string
	GUID   string
}

// Identify reads the card's vendor serial number and CHUID.
func Identify(ctx context.Context, c *piv.Card) (Identity, error) {
	var id Identity
	ch, cerr := c.CHUID(ctx)
	if cerr == nil && len(ch.GUID) > 0 && !allZero(ch.GUID) {
		id.GUID = hex.EncodeToString(ch.GUID)
	}
	n, err := c.Serial(ctx)
	var answered *apdu.StatusError
	switch {
	case err != nil && !errors.As(err, &answered):
		// No answer at all: the card or its session went away.
		return Identity{}, CardError(err, "identifying the card")
	case err == nil:
		id.Serial = strconv.FormatUint(uint64(n), 10)
	case id.GUID != "":
		id.Serial = id.GUID
	case cerr == nil && len(ch.GUID) > 0:
		id.Serial = hex.EncodeToString(ch.GUID) // all zero: named, never bound
	default:
		return Identity{}, lanyard.Errorf(lanyard.EInvalid, "the card has neither a serial number nor a CHUID (%v; %v)", err, cerr)
	}
	return id, nil
}

// KeyIdent is the identifier the card's diversified management key is
// derived from (Derive): its store serial. Card types are told
// apart by the store, which holds each identifier for one card only.
func (id Identity) KeyIdent() []byte { return []byte("card:" + id.Serial) }

// Connect selects the PIV application on t (SELECT, SP 800-73-4 part 2,
// 3.1.1) and identifies the card; the serial must be expectSerial, the
// one the agent reported for reader, when that is known. rand is the PIV
// client's randomness (management key challenges).
func Connect(ctx context.Context, t apdu.Transport, rand io.Reader, expectSerial, reader string) (*piv.Card, Identity, error) {
	pc, err := piv.New(t, piv.Config{Rand: rand, MinPINLength: 4})
	if err != nil {
		return nil, Identity{}, err
	}
	if _, err := pc.Select(ctx); err != nil {
		return nil, Identity{}, CardError(err, "the card has no PIV application")
	}
	id, err := Identify(ctx, pc)
	if err != nil {
		return nil, Identity{}, err
	}
	if expectSerial != "" && id.Serial != expectSerial {
		return nil, Identity{}, lanyard.Errorf(lanyard.EConflict, "the card in reader %q changed (serial %s, expected %s); try again", reader, id.Serial, expectSerial)
	}
	return pc, id, nil
}

// CheckIdentity fails when card, bound to a derived management key,
// presents another CHUID GUID than the one recorded: a card with the same
// serial that is not the same card.
func CheckIdentity(card *lanyard.Card, id Identity) error {
	if card.Serial != "" && id.Serial != card.Serial {
		return lanyard.Errorf(lanyard.EConflict, "the card is %s, not card %s", id.Serial, card.Serial)
	}
	if card.CardID != "" && card.GUID != "" && id.GUID != card.GUID {
		return lanyard.Errorf(lanyard.EConflict, "card %s presents another CHUID than the one recorded for it; it is not the card Lanyard issued (initialize it or ask an operator)", card.Serial)
	}
	return nil
}

// CheckPUKHolder is CheckIdentity before a card's PUK (or a new one) is
// sent: the card must present the CHUID GUID recorded for it whenever one
// is recorded, bound to a derived management key or not (a card type's
// static management key is accepted by any card, so it proves nothing).
// A card whose CHUID was rewritten since is refused: initialize it.
func CheckPUKHolder(card *lanyard.Card, id Identity) error {
	if err := CheckIdentity(card, id); err != nil {
		return err
	}
	if card.GUID != "" && id.GUID != card.GUID {
		return lanyard.Errorf(lanyard.EConflict, "card %s presents another CHUID than the one recorded for it; its Admin PIN (PUK) is not sent to it (initialize it or ask an operator)", card.Serial)
	}
	return nil
}

// KeyIdent returns the identifier card's diversified management key is
// bound to, after checking that the card in the reader (pc, read as id) is
// the one recorded. A card not bound yet gets its store identifier
// (Identity.KeyIdent); a card bound before issue 13 keeps the CHUID- or
// serial-based identifier its record holds (LegacyCardID), which the card
// must still present.
func KeyIdent(ctx context.Context, pc *piv.Card, card *lanyard.Card, id Identity) ([]byte, error) {
	if err := CheckIdentity(card, id); err != nil {
		return nil, err
	}
	if card.CardID == "" {
		return id.KeyIdent(), nil
	}
	stored, err := hex.DecodeString(card.CardID)
	if err == nil && bytes.Equal(stored, id.KeyIdent()) {
		return stored, nil
	}
	if legacy, lerr := LegacyCardID(ctx, pc); err == nil && lerr == nil && bytes.Equal(stored, legacy) {
		return stored, nil
	}
	return nil, lanyard.Errorf(lanyard.EConflict, "card %s does not present the identity its management key is bound to; it is not the card Lanyard issued (initialize it or ask an operator)", card.Serial)
}
