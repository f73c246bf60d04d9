package cardops

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/pukescrow"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// The roll-forward of an offline unblock on a standard PIV card
// (docs/lifecycle.md, "Offline unblock"): right after the unblock, the
// workstation tool changes the released PUK to a fresh one nobody has
// seen, sealed to the server's escrow public key (internal/pukescrow) and
// left with the agent, which uploads it before its next connection. The
// escrow key pair is made at the first start; its private key is sealed
// with the service's sealer like the card admin key master secret, and
// never leaves the server process.
const (
	settingPUKEscrowPrivate = "puk-escrow/v1"
	settingPUKEscrowPublic  = "puk-escrow/v1/public"
)

var pukEscrowAAD = []byte("puk-escrow:1")

// PUK escrow outcomes the tool reports: the card took the new PUK, or the
// answer to CHANGE REFERENCE DATA was lost (the card holds either).
const (
	EscrowChanged = "done"
	EscrowUnknown = "unknown"
)

// EnsurePUKEscrowKey creates the escrow key pair when none exists (racing
// replicas: the loser's transaction finds it present).
func (s *Cards) EnsurePUKEscrowKey(ctx context.Context) error {
	priv, pub, err := pukescrow.GenerateKey()
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "making the PUK escrow key")
	}
	defer clear(priv)
	sealed, err := s.sealer.Seal(priv, pukEscrowAAD)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the PUK escrow key")
	}
	return s.store.Update(ctx, func(tx lanyard.Tx) error {
		_, err := tx.Setting(settingPUKEscrowPublic)
		if err == nil || !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		if err := tx.PutSetting(settingPUKEscrowPrivate, sealed); err != nil {
			return err
		}
		if err := tx.PutSetting(settingPUKEscrowPublic, pub); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(lanyard.SystemPrincipal, "puk_escrow_key.create", "setting", settingPUKEscrowPrivate, map[string]any{"version": 1}))
	})
}

// PUKEscrowKey is the escrow public key agents keep for the tool.
func (s *Cards) PUKEscrowKey(ctx context.Context) ([]byte, error) {
	var pub []byte
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { pub, err = tx.Setting(settingPUKEscrowPublic); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "this server has no PUK escrow key yet")
	}
	return pub, err
}

// PUKEscrowInput is one roll-forward the agent uploads: the card, the
// challenge whose response released the old PUK, the new PUK sealed to
// the escrow key, and whether the card took it (EscrowChanged) or the
// answer was lost (EscrowUnknown).
type PUKEscrowInput struct {
	Serial    string
	Challenge string
	Sealed    []byte
	Changed   string
}

// AcceptPUKEscrow records the PUK a workstation of ownerID's gave the
// card after an offline unblock. The blob must open for the card's serial
// and a challenge the server answered for it with a PUK release, and the
// release must still stand (the card was not rotated since). When the
// card took the new PUK, the card record holds it at once and the release
// is over (card.puk.escrow); when that is not known, the new PUK is kept
// as the drawn PUK of an interrupted rotation, which the card's next
// arrival resumes, trying both (RotateReleasedPUK).
func (s *Cards) AcceptPUKEscrow(ctx context.Context, ownerID int64, in PUKEscrowInput) error {
	if in.Changed != EscrowChanged && in.Changed != EscrowUnknown {
		return lanyard.Errorf(lanyard.EInvalid, "changed must be %q or %q", EscrowChanged, EscrowUnknown)
	}
	ch, err := unblockcode.Decode(unblockcode.Challenge, in.Challenge)
	if err != nil {
		return lanyard.Errorf(lanyard.EInvalid, "the escrow's challenge is malformed")
	}
	f := unblockcode.UnpackChallenge(ch)
	card, _, err := s.arrivalCard(ctx, in.Serial, func(c *lanyard.Card) bool { return c.OwnerID == ownerID && releasedPUK(c) })
	if err != nil {
		return err
	}
	if card == nil || f.Scheme != unblockcode.SchemePIVPUK || f.CardTag != unblockcode.CardTag(card.Serial) {
		return lanyard.Errorf(lanyard.ENotFound, "no released Admin PIN (PUK) of a card %s of this workstation's owner awaits an escrow", in.Serial)
	}
	if ok, err := s.answeredRelease(ctx, card.ID, f); err != nil || !ok {
		if err == nil {
			err = lanyard.Errorf(lanyard.ENotFound, "the server released no Admin PIN (PUK) of card %s for this challenge", card.Serial)
		}
		return err
	}
	puk, err := s.openEscrow(ctx, card.Serial, ch, in.Sealed)
	if err != nil {
		return err
	}
	if _, err := unblockcode.PUKResponse(card.Serial, ch, puk); err != nil {
		return lanyard.Errorf(lanyard.EInvalid, "the escrowed Admin PIN (PUK) is not one Lanyard would draw")
	}
	sealed, err := s.sealer.Seal([]byte(puk), CardPUKAAD(card.ID))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the card's PUK")
	}
	if in.Changed == EscrowUnknown {
		return s.escrowPending(ctx, card, sealed)
	}
	card.SealedPUK, card.PUKReleasedAt = sealed, time.Time{}
	return s.recordPUK(ctx, card, "card.puk.escrow")
}

// answeredRelease reports whether the server answered challenge f of the
// card with a PUK release.
func (s *Cards) answeredRelease(ctx context.Context, cardID int64, f unblockcode.ChallengeFields) (bool, error) {
	var prev []*lanyard.OfflineUnblock
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { prev, err = tx.OfflineUnblocksOf(cardID); return }); err != nil {
		return false, err
	}
	for _, u := range prev {
		if u.Scheme == unblockcode.SchemePIVPUK.String() && u.Counter == int(f.Counter) && u.Nonce == int64(f.Nonce) {
			return true, nil
		}
	}
	return false, nil
}

// openEscrow opens a roll-forward blob with the escrow private key.
func (s *Cards) openEscrow(ctx context.Context, serial string, ch unblockcode.Payload, blob []byte) (string, error) {
	var sealedKey []byte
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { sealedKey, err = tx.Setting(settingPUKEscrowPrivate); return }); err != nil {
		return "", err
	}
	priv, err := s.sealer.Open(sealedKey, pukEscrowAAD)
	if err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "the PUK escrow key does not open")
	}
	defer clear(priv)
	puk, err := pukescrow.Open(priv, serial, ch, blob)
	if errors.Is(err, pukescrow.ErrOpen) {
		return "", lanyard.Errorf(lanyard.EInvalid, "the escrowed Admin PIN (PUK) does not open for card %s and this challenge", serial)
	}
	return puk, err
}

// escrowPending keeps sealed as the drawn PUK of an interrupted rotation
// of card (a reset_pin operation, as RotateReleasedPUK runs it), so the
// card's next arrival tries it beside the released one.
func (s *Cards) escrowPending(ctx context.Context, card *lanyard.Card, sealed []byte) error {
	if op, err := s.unfinishedReset(ctx, card.ID); err != nil || op != nil {
		if err == nil {
			err = lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished PIN reset or rotation; the escrow is tried again", card.Serial)
		}
		return err
	}
	run, err := s.startReset(ctx, lanyard.SystemPrincipal, card, "card.puk.escrow")
	if err != nil {
		return err
	}
	run.Data.NewPUK = sealed
	if err := run.Step(ctx, operation.PUKDrawn); err != nil {
		return err
	}
	ev := s.rec.Event(lanyard.SystemPrincipal, "card.puk.escrow.pending", "card", strconv.FormatInt(card.ID, 10), map[string]any{"serial": card.Serial, "operation": run.Op.ID})
	return run.Stop(context.WithoutCancel(ctx), lanyard.OpInterrupted, "the workstation does not know whether the card took its new Admin PIN (PUK); its next connection tries both", operation.Event(ev))
}
