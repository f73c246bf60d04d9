package cardops

import (
	"context"
	"encoding/json"
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

// AcceptPUKEscrow records the PUK workstation ws's tool gave the card
// after an offline unblock. Only a workstation with an owner, for a card
// of that owner (agentproto.CardPINRule.Owned tells its agent which), and
// only for the card's current release: the blob must open for the card's
// serial and a challenge the server answered with a PUK release made at
// or after the card's release mark (PUKReleasedAt, cleared whenever the
// card gets a PUK otherwise), so an escrow from before a rotation, a
// clear or a re-issue never overwrites a newer PUK. The same escrow again
// (its answer lost, its spool file left) is taken again without change.
// When the card took the new PUK, the card record holds it at once and
// the release is over (card.puk.escrow); when that is not known, the new
// PUK is kept as the sent PUK of an interrupted rotation, which the
// card's next arrival resumes (RotateReleasedPUK). Either way one
// transaction, one audit event naming the workstation.
func (s *Cards) AcceptPUKEscrow(ctx context.Context, ws *lanyard.Workstation, in PUKEscrowInput) error {
	if in.Changed != EscrowChanged && in.Changed != EscrowUnknown {
		return lanyard.Errorf(lanyard.EInvalid, "changed must be %q or %q", EscrowChanged, EscrowUnknown)
	}
	if ws.OwnerID == 0 {
		return lanyard.Errorf(lanyard.EForbidden, "workstation %s has no owner: Lanyard takes a card's new Admin PIN (PUK) only from its owner's computers", ws.Name)
	}
	ch, err := unblockcode.Decode(unblockcode.Challenge, in.Challenge)
	if err != nil {
		return lanyard.Errorf(lanyard.EInvalid, "the escrow's challenge is malformed")
	}
	f := unblockcode.UnpackChallenge(ch)
	card, _, err := s.arrivalCard(ctx, in.Serial, func(c *lanyard.Card) bool {
		return c.OwnerID == ws.OwnerID && c.OfflineScheme == unblockcode.SchemePIVPUK.String()
	})
	if err != nil {
		return err
	}
	if card == nil || f.Scheme != unblockcode.SchemePIVPUK || f.CardTag != unblockcode.CardTag(card.Serial) {
		return lanyard.Errorf(lanyard.ENotFound, "no card %s of this workstation's owner awaits an escrowed Admin PIN (PUK)", in.Serial)
	}
	release, err := s.pukRelease(ctx, card.ID, f)
	if err != nil {
		return err
	}
	if release == nil {
		return lanyard.Errorf(lanyard.ENotFound, "the server released no Admin PIN (PUK) of card %s for this challenge", card.Serial)
	}
	puk, err := s.openEscrow(ctx, card.Serial, ch, in.Sealed)
	if err != nil {
		return err
	}
	if _, err := unblockcode.PUKResponse(card.Serial, ch, puk); err != nil {
		return lanyard.Errorf(lanyard.EInvalid, "the escrowed Admin PIN (PUK) is not one Lanyard would draw")
	}
	op, d, err := s.unfinishedResetData(ctx, card.ID)
	if err != nil {
		return err
	}
	if s.escrowHeld(card, d, puk) {
		return nil // this very escrow, taken before
	}
	if !releasedPUK(card) || release.CreatedAt.Before(card.PUKReleasedAt) {
		return lanyard.Errorf(lanyard.ENotFound, "the Admin PIN (PUK) of card %s released for this challenge is no longer the card's: it was changed since", card.Serial)
	}
	sealed, err := s.sealer.Seal([]byte(puk), CardPUKAAD(card.ID))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the card's PUK")
	}
	details := map[string]any{"serial": card.Serial, "workstation_id": ws.ID, "workstation": ws.Name, "changed": in.Changed}
	switch {
	case op != nil && deferredFor(d, card):
		// The card refused its released PUK after this tool changed it:
		// it holds the escrowed one, whatever the tool learnt.
		details["operation"], details["after_refusal"] = op.ID, true
		run := operation.Attach(s.runner, op, card, &resetData{NewPUK: sealed, Sent: true})
		return s.recordDrawnPUK(ctx, run, s.rec.Event(lanyard.SystemPrincipal, "card.puk.escrow", "card", strconv.FormatInt(card.ID, 10), details), func(lanyard.Tx) error { return nil })
	case in.Changed == EscrowUnknown && op != nil:
		return lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished PIN reset or rotation; the escrow is tried again", card.Serial)
	case in.Changed == EscrowUnknown:
		return s.escrowPending(ctx, card, sealed, details)
	}
	return s.escrowDone(ctx, card, sealed, details)
}

// pukRelease is the record of the PUK release answering challenge f of
// the card, or nil.
func (s *Cards) pukRelease(ctx context.Context, cardID int64, f unblockcode.ChallengeFields) (*lanyard.OfflineUnblock, error) {
	var prev []*lanyard.OfflineUnblock
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { prev, err = tx.OfflineUnblocksOf(cardID); return }); err != nil {
		return nil, err
	}
	for _, u := range prev {
		if u.Scheme == unblockcode.SchemePIVPUK.String() && u.Counter == int(f.Counter) && u.Nonce == int64(f.Nonce) {
			return u, nil
		}
	}
	return nil, nil
}

// unfinishedResetData is the card's unfinished PIN reset (or rotation)
// with its record, or nil.
func (s *Cards) unfinishedResetData(ctx context.Context, cardID int64) (*lanyard.Operation, resetData, error) {
	var d resetData
	op, err := s.unfinishedReset(ctx, cardID)
	if err != nil || op == nil {
		return nil, d, err
	}
	if err := json.Unmarshal(op.Data, &d); err != nil {
		return nil, d, lanyard.Wrap(lanyard.EInternal, err, "reading the unfinished PIN reset")
	}
	return op, d, nil
}

// escrowHeld reports whether the server already holds puk as card's PUK
// (an escrow taken as done) or as the sent PUK of its unfinished
// rotation d (one taken as unknown).
func (s *Cards) escrowHeld(card *lanyard.Card, d resetData, puk string) bool {
	if own, err := s.cardPUK(card); err == nil && card.PUKState == lanyard.PUKRandom && own == puk {
		return true
	}
	return d.Sent && s.sealedCandidate(card.ID, d.NewPUK).PUK == puk
}

// escrowDone records sealed as the card's PUK, its release over, with the
// audit event card.puk.escrow (details), provided the card did not change
// since it was read.
func (s *Cards) escrowDone(ctx context.Context, card *lanyard.Card, sealed []byte, details map[string]any) error {
	was := card.UpdatedAt
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, "card.puk.escrow", "card", strconv.FormatInt(card.ID, 10), details)
	}, func(tx lanyard.Tx) error {
		if err := lockUnchanged(tx, card, was, "meanwhile; the escrow is tried again"); err != nil {
			return err
		}
		next := *card
		next.SealedPUK, next.PUKReleasedAt, next.UpdatedAt = sealed, time.Time{}, s.rec.Clock()
		return tx.UpdateCard(&next)
	})
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

// escrowPending keeps sealed as the sent PUK of an interrupted rotation
// of card (a reset_pin operation, as RotateReleasedPUK runs it), so the
// card's next arrival tries it first: one transaction with the audit
// event card.puk.escrow.pending (details).
func (s *Cards) escrowPending(ctx context.Context, card *lanyard.Card, sealed []byte, details map[string]any) error {
	was := card.UpdatedAt
	card.UpdatedAt = s.rec.Clock()
	_, err := operation.Interrupted(ctx, s.runner, operation.Begin{
		Card: card,
		Op: lanyard.Operation{Kind: lanyard.OpResetPIN, UserID: card.OwnerID, ActorID: lanyard.SystemPrincipal.User.ID,
			Error: "the workstation does not know whether the card took its new Admin PIN (PUK); its next connection tries it"},
		Check: func(tx lanyard.Tx) error { return lockUnchanged(tx, card, was, "meanwhile; the escrow is tried again") },
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			details["operation"] = op.ID
			return s.rec.Event(lanyard.SystemPrincipal, "card.puk.escrow.pending", "card", strconv.FormatInt(c.ID, 10), details)
		}}, &resetData{NewPUK: sealed, Sent: true}, operation.PUKSent)
	if err != nil {
		card.UpdatedAt = was
	}
	return err
}
