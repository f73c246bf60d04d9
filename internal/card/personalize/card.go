package personalize

import (
	"context"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Keys are the card's secrets as they are before a step: its management
// key, PIN and PUK.
type Keys struct {
	Admin Key
	PIN   string
	PUK   string
}

// FactoryKeys are what a PIV card has after RESET: the YubiKey defaults
// that the emulator and most PIV cards use (3DES management key
// 010203…08 ×3, PIN 123456, PUK 12345678).
func FactoryKeys() Keys {
	return Keys{Admin: Key{Kind: lanyard.AdminKey3DES, Value: pivspec.DefaultManagementKey()}, PIN: pivspec.DefaultPIN, PUK: pivspec.DefaultPUK}
}

// TypeKeys are what a card of type ct holds before Lanyard gives it its
// own secrets: the card type's default management key, user PIN and PUK,
// each else the factory value.
func TypeKeys(ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets) Keys {
	keys := FactoryKeys()
	if secrets.UserPIN != "" {
		keys.PIN = secrets.UserPIN
	}
	keys.PUK = TypePUK(secrets)
	if len(secrets.AdminKey) > 0 {
		keys.Admin.Kind, keys.Admin.Value = ct.AdminKey, secrets.AdminKey
	}
	return keys
}

// Initialize deletes everything on the card (vendor RESET: keys,
// certificates, objects; PIN, PUK and management key back to the factory
// values) and sets the retry counters (vendor SET PIN RETRIES, which needs
// the management key and the PIN). pinTries or pukTries of 0 keep the
// card's defaults. It returns the keys the card then has.
func Initialize(ctx context.Context, c *piv.Card, pinTries, pukTries int) (Keys, error) {
	if err := c.Reset(ctx); err != nil {
		return Keys{}, CardError(err, "initializing the card (reset) failed")
	}
	keys := FactoryKeys()
	if pinTries == 0 && pukTries == 0 {
		return keys, nil
	}
	admin, err := Authenticate(ctx, c, keys.Admin)
	if err != nil {
		return Keys{}, CardError(err, "the card does not accept the factory management key after reset")
	}
	if pinTries == 0 {
		pinTries = 3
	}
	if pukTries == 0 {
		pukTries = 3
	}
	if err := admin.SetRetries(ctx, keys.PIN, pinTries, pukTries); err != nil {
		return Keys{}, CardError(err, "setting the PIN and PUK retry counters failed")
	}
	return keys, nil
}

// ParseSlot reads a slot name such as "9a".
func ParseSlot(name string) (piv.Slot, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(name), 16, 8)
	if err == nil {
		if s := piv.Slot(n); s.Valid() {
			return s, nil
		}
	}
	return 0, lanyard.Errorf(lanyard.EInvalid, "%q is not a PIV key slot", name)
}

// SlotString names a slot as templates do: "9a".
func SlotString(s piv.Slot) string { return strings.ToLower(strconv.FormatUint(uint64(s), 16)) }

// ReadFound reads the certificates on the card. managed reports the ones
// Lanyard issued, which are not third-party certificates.
func ReadFound(ctx context.Context, c *piv.Card, managed func(*x509.Certificate) bool) ([]issuance.Found, error) {
	certs, err := c.Certificates(ctx)
	if err != nil && len(certs) == 0 {
		return nil, CardError(err, "reading the certificates on the card failed")
	}
	out := []issuance.Found{}
	for _, sc := range certs {
		if managed(sc.Certificate) {
			continue
		}
		out = append(out, issuance.Found{
			Slot: SlotString(sc.Slot), Subject: sc.Certificate.Subject.String(), Issuer: sc.Certificate.Issuer.String(),
			Serial: sc.Certificate.SerialNumber.Text(16), NotAfter: sc.Certificate.NotAfter, Certificate: sc.Certificate,
		})
	}
	return out, nil
}

// ErrCard marks failures of the card itself (as opposed to the agent or
// the server); the operation then stops where it is and can be resumed.
var ErrCard = errors.New("card error")

// CardError turns a PIV error into a message for people, keeping the
// cause for the log.
func CardError(err error, what string) error {
	var auth *piv.AuthError
	switch {
	case errors.As(err, &auth) && auth.Ref == pivspec.KeyPIN:
		return lanyard.Wrap(lanyard.EConflict, err, what+": the card refused its PIN (it is not the card type's default; was the card used before? initialize it or ask an operator)")
	case errors.As(err, &auth):
		return lanyard.Wrap(lanyard.EConflict, err, what+": the card refused its Admin PIN (PUK)")
	case errors.Is(err, piv.ErrManagementKey), errors.Is(err, piv.ErrCardAuthentication):
		return lanyard.Wrap(lanyard.EConflict, err, what+": the card does not have the management key Lanyard expects for its card type")
	case errors.Is(err, piv.ErrBlocked):
		return lanyard.Wrap(lanyard.EConflict, err, what+": the card's PIN or PUK is blocked")
	case errors.Is(err, piv.ErrUnsupported):
		return lanyard.Wrap(lanyard.EConflict, err, what+": the card does not support this operation")
	}
	var le *lanyard.Error
	if errors.As(err, &le) {
		return err
	}
	return lanyard.Wrap(lanyard.EUnavailable, errors.Join(ErrCard, err), what)
}
