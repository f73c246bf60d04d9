package cardops

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// Offline unblock of a standard PIV card (scheme piv-puk; docs/lifecycle.md,
// "Offline unblock"): only the PUK sets a PIN on such a card (SP 800-73-4
// part 2, 3.2.3), so the response carries the card's own random PUK,
// masked and checked against the challenge (unblockcode.PUKResponse). The
// card record notes the release (PUKReleasedAt) in the transaction that
// records the answer, and the card's next online arrival rotates the PUK
// (RotateReleasedPUK).

// offlinePUK is the response releasing card's PUK, and the sealed PUK it
// carries. It refuses, before anything is recorded: a card not recorded
// as a standard PIV card (a Lanyard card claiming the piv-puk scheme to
// obtain its PUK, or a card whose scheme is not known), a card kind other
// than a PIV card, and a PUK that is not the card's own random one (a card
// type's shared default would open every card of the type).
func (s *Cards) offlinePUK(ct *lanyard.CardType, card *lanyard.Card, payload unblockcode.Payload) (unblockcode.Payload, []byte, error) {
	if card.OfflineScheme != unblockcode.SchemePIVPUK.String() || ct.Kind != lanyard.KindPIV {
		return unblockcode.Payload{}, nil, lanyard.Errorf(lanyard.EInvalid, "this challenge claims the standard PIV scheme, but card %s is not recorded as a standard PIV card: read the challenge from the card again", card.Serial)
	}
	if card.PUKState != lanyard.PUKRandom || len(card.SealedPUK) == 0 {
		return unblockcode.Payload{}, nil, lanyard.Errorf(lanyard.EConflict, "card %s does not have an Admin PIN (PUK) of its own, so it cannot be unblocked offline; connect it and use Reset PIN", card.Serial)
	}
	puk, err := s.openPUK(card.ID, card.SealedPUK)
	if err != nil {
		return unblockcode.Payload{}, nil, err
	}
	r, err := unblockcode.PUKResponse(card.Serial, payload, puk)
	if errors.Is(err, unblockcode.ErrPUKNotReleasable) {
		return unblockcode.Payload{}, nil, lanyard.Errorf(lanyard.EConflict, "the Admin PIN (PUK) of card %s is not one Lanyard drew, so it cannot be carried in a response; connect the card and use Reset PIN", card.Serial)
	}
	if err != nil {
		return unblockcode.Payload{}, nil, err
	}
	return r, card.SealedPUK, nil
}

// markPUKReleased records, in the answer's transaction, that card's PUK
// sealed was released. Under the card's lock, the card as it is now must
// still be one the caller may unblock offline (allowed: its state and
// owner, cardperm, as checked before the answer; a card reported lost or
// revoked meanwhile keeps its PUK) and still hold that PUK in its record:
// a rotation that committed meanwhile made the response carry a PUK the
// card no longer has. The mark (PUKReleasedAt) is the earliest time a
// challenge answered with this PUK was first recorded (since: now, or
// that of the challenge answered again): AcceptPUKEscrow takes escrows
// only for releases recorded at or after it.
func (s *Cards) markPUKReleased(tx lanyard.Tx, card *lanyard.Card, sealed []byte, allowed func(cur *lanyard.Card) error, since time.Time) error {
	if err := tx.LockCard(card.ID); err != nil {
		return err
	}
	cur, err := tx.CardByID(card.ID)
	if err != nil {
		return err
	}
	if err := allowed(cur); err != nil {
		return err
	}
	if !releasedPUKState(cur) {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed state meanwhile (%s); nothing was released", card.Serial, cur.State)
	}
	if !bytes.Equal(cur.SealedPUK, sealed) || cur.PUKState != lanyard.PUKRandom {
		return lanyard.Errorf(lanyard.EConflict, "the Admin PIN (PUK) of card %s changed meanwhile: answer the challenge again", card.Serial)
	}
	if !cur.PUKReleasedAt.IsZero() && !since.Before(cur.PUKReleasedAt) {
		return nil // released before and not rotated since: nothing new
	}
	cur.PUKReleasedAt, cur.UpdatedAt = since, s.rec.Clock()
	return tx.UpdateCard(cur)
}

// releasedPUK reports whether card's own PUK was released by an offline
// unblock and is still to be rotated: cards in someone's hands, as for
// the shared PUK (rotatable).
func releasedPUK(c *lanyard.Card) bool {
	return releasedPUKState(c) && c.PUKState == lanyard.PUKRandom && !c.PUKReleasedAt.IsZero()
}

// releasedPUKState reports whether c is in someone's hands, the states in
// which a released PUK is followed up (rotated, escrowed).
func releasedPUKState(c *lanyard.Card) bool {
	switch c.State {
	case lanyard.CardIssued, lanyard.CardPending, lanyard.CardPINSetup, lanyard.CardDisabled:
		return true
	}
	return false
}

// RotateReleasedPUK gives the card with serial, just connected in reader
// of workstation wsID, a new random PUK when an offline unblock released
// its PUK (PUKReleasedAt): the help desk or the Remote Self-Service user
// who heard both codes knows the released one, and it stays valid only
// until now. It reports whether it did.
//
// It runs as the PUK half of a PIN reset (lanyard.OpResetPIN, no PIN
// step), so it is resumable the same way: the new PUK is drawn and
// recorded sealed in the operation, marked sent (step puk_sent), before
// CHANGE REFERENCE DATA sends it (SP 800-73-4 part 2, 3.2.2); a card
// pulled with the reply lost holds either. Nothing is guessed
// (personalize.UsePUKSparing): the rotation runs only on a card with all
// its PUK tries and tries the likeliest PUK (the one sent before, else the
// recorded one), another only while a refusal leaves two tries. The card
// record takes the new PUK and loses the release mark in the final step,
// one transaction with the audit event card.puk.rotate (reason
// offline_release). A card that refuses is left for an escrow
// (stopRotation), and not tried again until one changes the recorded PUK.
func (s *Cards) RotateReleasedPUK(ctx context.Context, wsID int64, reader, serial string) (bool, error) {
	card, ct, err := s.arrivalCard(ctx, serial, releasedPUK)
	if card == nil || err != nil {
		return false, err
	}
	if deferred, err := s.rotationDeferred(ctx, card); deferred || err != nil {
		return false, err
	}
	pc, sess, _, err := s.arrivalSession(ctx, wsID, reader, serial, ct, card, releasedPUK)
	if pc == nil || err != nil {
		return false, err
	}
	defer sess.Close()
	run, err := s.startReset(ctx, lanyard.SystemPrincipal, card, "card.puk.rotate")
	if err != nil {
		return false, err
	}
	ownRefused, err := s.rotateOnCard(ctx, run, pc)
	if err != nil {
		return false, s.stopRotation(ctx, run, err, ownRefused)
	}
	return true, s.finishRotation(ctx, run)
}

// rotateOnCard changes the card's PUK to the run's drawn one (drawn now
// when there is none), recording it sent before the first CHANGE
// REFERENCE DATA. ownRefused reports whether the card refused the PUK its
// record holds (not only the drawn one).
func (s *Cards) rotateOnCard(ctx context.Context, run *operation.Run[resetData], pc *piv.Card) (ownRefused bool, err error) {
	next := run.Data.NewPUK
	if len(next) == 0 {
		sealed, err := s.randomPUK(run.Card.ID)
		if err != nil {
			return false, err
		}
		next = sealed
	}
	drawn, err := s.openPUK(run.Card.ID, next)
	if err != nil {
		return false, err
	}
	own, err := s.cardPUK(run.Card)
	if err != nil {
		return false, err
	}
	candidates := []personalize.PUKCandidate{{PUK: own, Sealed: run.Card.SealedPUK}}
	if run.Data.Sent {
		// Sent by an earlier run or a tool's roll-forward: most likely
		// on the card.
		candidates = append([]personalize.PUKCandidate{{PUK: drawn, Sealed: next}}, candidates...)
	}
	var stepErr error
	wasSent, triedDrawn, triedOwn := run.Data.Sent, false, false
	_, err = personalize.UsePUKSparing(ctx, pc, candidates, "changing the released Admin PIN (PUK) of card "+run.Card.Serial, func(cur string) error {
		triedDrawn = triedDrawn || cur == drawn
		triedOwn = triedOwn || cur == own
		if !run.Data.Sent {
			run.Data.NewPUK, run.Data.Sent = next, true
			if stepErr = run.Step(ctx, operation.PUKSent); stepErr != nil {
				run.Data.Sent = false
				return stepErr
			}
		}
		if cur == drawn {
			return pc.ChangePUK(ctx, cur, cur) // shows the card holds it, restores the tries
		}
		return pc.ChangePUK(ctx, cur, drawn)
	})
	if stepErr != nil {
		return false, stepErr
	}
	if errors.Is(err, personalize.ErrWrongPUK) && (!wasSent || triedDrawn) {
		// The card answered every change with a refusal: it did not take
		// the drawn PUK, nor holds it (refused itself, or never sent).
		run.Data.Sent = false
	}
	return errors.Is(err, personalize.ErrWrongPUK) && triedOwn, err
}

// rotationDeferred reports whether the card's rotation was deferred
// because the card refused the PUK its record still holds: nothing is
// tried until an escrow (AcceptPUKEscrow) or a reset changes it.
func (s *Cards) rotationDeferred(ctx context.Context, card *lanyard.Card) (bool, error) {
	op, d, err := s.unfinishedResetData(ctx, card.ID)
	return op != nil && deferredFor(d, card), err
}

// deferredFor reports whether d is a rotation deferred because card
// refused the PUK its record still holds.
func deferredFor(d resetData, card *lanyard.Card) bool {
	return len(d.Refused) > 0 && bytes.Equal(d.Refused, card.SealedPUK)
}

// stopRotation ends a rotation that failed with cause as interrupted:
// the card's next arrival resumes it. A card that refuses the PUKs tried
// keeps its release mark (card.puk.rotate.deferred rather than a PUK
// recorded unknown): the workstation tool may have rolled it forward with
// an escrow still on its way from that workstation's agent, which then
// records it. The refused PUK is recorded in the operation (Refused), in
// the same transaction: arrivals try nothing more until the recorded PUK
// changes. Only a refusal of the recorded PUK itself (ownRefused) defers
// so: a card that refused only the PUK sent by an earlier run (the change
// never reached it) still holds its recorded one: the rotation stops
// interrupted, and the owner's online Reset PIN (which restores the tries
// and rotates the PUK) or a later arrival with all its tries uses it.
func (s *Cards) stopRotation(ctx context.Context, run *operation.Run[resetData], cause error, ownRefused bool) error {
	msg := lanyard.ErrorMessage(cause)
	details := map[string]any{"operation": run.Op.ID, "step": run.Op.Step, "reason": "offline_release", "error": msg}
	var err error
	switch {
	case ownRefused:
		ev := s.rec.Event(lanyard.SystemPrincipal, "card.puk.rotate.deferred", "card", strconv.FormatInt(run.Card.ID, 10), details)
		run.Data.Refused = run.Card.SealedPUK
		run.Op.State, run.Op.Error = lanyard.OpInterrupted, msg
		err = run.Step(context.WithoutCancel(ctx), operation.Step(run.Op.Step), operation.Event(ev))
	case errors.Is(cause, personalize.ErrWrongPUK):
		// Only the drawn PUK was refused: it is recorded as not on the
		// card (Sent cleared by rotateOnCard), in the same transaction.
		details["refused"] = "drawn"
		ev := s.rec.Event(lanyard.SystemPrincipal, "card.puk.rotate.interrupted", "card", strconv.FormatInt(run.Card.ID, 10), details)
		run.Op.State, run.Op.Error = lanyard.OpInterrupted, msg
		err = run.Step(context.WithoutCancel(ctx), operation.Step(run.Op.Step), operation.Event(ev))
	default:
		ev := s.rec.Event(lanyard.SystemPrincipal, "card.puk.rotate.interrupted", "card", strconv.FormatInt(run.Card.ID, 10), details)
		err = run.Stop(context.WithoutCancel(ctx), lanyard.OpInterrupted, msg, operation.Event(ev))
	}
	if err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// finishRotation records the card holding the drawn PUK, its release
// over, with the operation done: one transaction, one audit event.
func (s *Cards) finishRotation(ctx context.Context, run *operation.Run[resetData]) error {
	ev := s.rec.Event(lanyard.SystemPrincipal, "card.puk.rotate", "card", strconv.FormatInt(run.Card.ID, 10), map[string]any{
		"serial": run.Card.Serial, "operation": run.Op.ID, "reason": "offline_release", "puk_state": string(lanyard.PUKRandom)})
	return s.recordDrawnPUK(ctx, run, ev, func(lanyard.Tx) error { return nil })
}
