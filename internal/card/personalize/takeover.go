package personalize

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Key is a management key with its algorithm.
type Key struct {
	Kind  lanyard.AdminKeyKind
	Value []byte
}

// Master is one version of the card admin key master secret.
type Master struct {
	Version int
	Secret  []byte
}

// LegacyCardID returns the identifier the diversified keys of cards taken
// over before issue 13 are bound to: the CHUID GUID, else the vendor
// serial number. A CHUID is readable by anyone and copied as easily, so
// new keys are bound to the store's identifier instead
// (Identity.KeyIdent); the server uses this one only for cards
// whose record names it, and only after the card presented the GUID and
// serial recorded for it.
func LegacyCardID(ctx context.Context, c *piv.Card) ([]byte, error) {
	ch, err := c.CHUID(ctx)
	if err == nil && len(ch.GUID) == 16 && !allZero(ch.GUID) {
		return append([]byte("guid:"), ch.GUID...), nil
	}
	serial, serr := c.Serial(ctx)
	if serr != nil {
		return nil, fmt.Errorf("personalize: the card has neither a CHUID GUID (%v) nor a serial number (%v)", err, serr)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], serial)
	return append([]byte("serial:"), b[:]...), nil
}

// Diversified returns the management key of kind for the card under m.
func Diversified(m Master, kind lanyard.AdminKeyKind, cardID []byte) (Key, error) {
	k, err := Derive(m.Secret, m.Version, kind, cardID)
	if err != nil {
		return Key{}, err
	}
	return Key{Kind: kind, Value: k}, nil
}

// DiversifiedKey is Diversified for the service: a failure (a master
// secret too short, an unknown kind) is an internal error.
func DiversifiedKey(m Master, kind lanyard.AdminKeyKind, ident []byte) (Key, error) {
	k, err := Diversified(m, kind, ident)
	if err != nil {
		return Key{}, lanyard.Wrap(lanyard.EInternal, err, "deriving the card's management key")
	}
	return k, nil
}

// AuthenticateStatic opens a management session with a key the server
// does not derive: the card type's default or the factory key
// (TypeKeys, FactoryKeys).
func AuthenticateStatic(ctx context.Context, c *piv.Card, k Key) (*piv.Admin, error) {
	admin, err := Authenticate(ctx, c, k)
	if err != nil {
		return nil, CardError(err, "authenticating to the card")
	}
	return admin, nil
}

// AuthenticateDerived opens a management session with the card's
// diversified key of kind under m for ident (KeyIdent, which checked that
// the card is the one recorded). GENERAL AUTHENTICATE is mutual
// (SP 800-73-4 part 2, 3.2.4; piv.Card.Authenticate checks the card's
// answer to our challenge): a card that does not hold the key fails,
// whatever serial and CHUID it presents.
func AuthenticateDerived(ctx context.Context, c *piv.Card, kind lanyard.AdminKeyKind, m Master, ident []byte) (*piv.Admin, error) {
	k, err := DiversifiedKey(m, kind, ident)
	if err != nil {
		return nil, err
	}
	admin, err := Authenticate(ctx, c, k)
	if err != nil {
		return nil, CardError(err, "authenticating to the card with its Lanyard key")
	}
	return admin, nil
}

// Takeover moves a card from the management key it has (from: the factory
// default or the card type's default) to its diversified key of kind under
// m for identifier id, and proves the new key by authenticating with it.
// The caller checked that the card is the one id belongs to, and records
// m.Version with the card so that the key can be derived again after
// master secrets rotate. It returns an authenticated administration
// session under the new key.
//
// If the card already has its diversified key (a takeover that was
// interrupted after SET MANAGEMENT KEY), that key is accepted as it is.
func Takeover(ctx context.Context, c *piv.Card, from Key, kind lanyard.AdminKeyKind, m Master, id []byte) (*piv.Admin, error) {
	to, err := Diversified(m, kind, id)
	if err != nil {
		return nil, err
	}
	admin, err := Authenticate(ctx, c, from)
	if errors.Is(err, piv.ErrManagementKey) {
		// Resuming: the key may already be the diversified one.
		if a, err2 := Authenticate(ctx, c, to); err2 == nil {
			return a, nil
		}
		return nil, fmt.Errorf("personalize: the card accepts neither its expected key nor its diversified key: %w", err)
	}
	if err != nil {
		return nil, err
	}
	if err := SetKey(ctx, admin, to); err != nil {
		return nil, err
	}
	return Authenticate(ctx, c, to)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
