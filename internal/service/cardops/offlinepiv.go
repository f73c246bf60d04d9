package cardops

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
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
// sealed was released. The card must still hold that PUK in its record:
// a rotation that committed meanwhile made the response carry a PUK the
// card no longer has.
func (s *Cards) markPUKReleased(tx lanyard.Tx, card *lanyard.Card, sealed []byte) error {
	if err := tx.LockCard(card.ID); err != nil {
		return err
	}
	cur, err := tx.CardByID(card.ID)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur.SealedPUK, sealed) || cur.PUKState != lanyard.PUKRandom {
		return lanyard.Errorf(lanyard.EConflict, "the Admin PIN (PUK) of card %s changed meanwhile: answer the challenge again", card.Serial)
	}
	if !cur.PUKReleasedAt.IsZero() {
		return nil // released before and not rotated since: nothing new
	}
	cur.PUKReleasedAt, cur.UpdatedAt = s.rec.Clock(), s.rec.Clock()
	return tx.UpdateCard(cur)
}

// releasedPUK reports whether card's own PUK was released by an offline
// unblock and is still to be rotated: cards in someone's hands, as for
// the shared PUK (rotatable).
func releasedPUK(c *lanyard.Card) bool {
	switch c.State {
	case lanyard.CardIssued, lanyard.CardPending, lanyard.CardPINSetup, lanyard.CardDisabled:
		return c.PUKState == lanyard.PUKRandom && !c.PUKReleasedAt.IsZero()
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
// recorded sealed in the operation (step puk_drawn) before CHANGE
// REFERENCE DATA sends it (SP 800-73-4 part 2, 3.2.2); a card pulled with
// the reply lost holds either, and the next arrival or reset tries both.
// personalize.UsePUK never lets a guess drop the PUK counter below two
// tries. The card record takes the new PUK and loses the release mark in
// the final step, one transaction with the audit event card.puk.rotate
// (reason offline_release). A card that refuses the PUKs the server knows
// is left for later (stopRotation).
func (s *Cards) RotateReleasedPUK(ctx context.Context, wsID int64, reader, serial string) (bool, error) {
	card, ct, err := s.arrivalCard(ctx, serial, releasedPUK)
	if card == nil || err != nil {
		return false, err
	}
	pc, sess, typePUK, err := s.arrivalSession(ctx, wsID, reader, serial, ct, card, releasedPUK)
	if pc == nil || err != nil {
		return false, err
	}
	defer sess.Close()
	run, err := s.startReset(ctx, lanyard.SystemPrincipal, card, "card.puk.rotate")
	if err != nil {
		return false, err
	}
	sent := len(run.Data.NewPUK) > 0 // drawn by an earlier run: maybe sent
	drawn, err := s.drawnPUK(ctx, run)
	if err == nil {
		// The drawn PUK can be on the card only if an earlier run (or
		// an escrow whose outcome the tool did not know) sent it: a PUK
		// drawn now is not tried, which would cost a try for nothing.
		var extra []personalize.PUKCandidate
		if sent {
			extra = append(extra, drawn)
		}
		var candidates []personalize.PUKCandidate
		if candidates, err = s.pukCandidates(run.Card, typePUK, extra...); err == nil {
			_, err = personalize.UsePUK(ctx, pc, candidates, false, "changing the released Admin PIN (PUK) of card "+card.Serial, func(cur string) error {
				return pc.ChangePUK(ctx, cur, drawn.PUK)
			})
		}
	}
	if err != nil {
		return false, s.stopRotation(ctx, run, err)
	}
	return true, s.finishRotation(ctx, run)
}

// stopRotation ends a rotation that failed with cause as interrupted:
// the card's next arrival resumes it. A card that refuses the released
// PUK (and the drawn one) keeps its release mark (card.puk.rotate.deferred
// rather than a PUK recorded unknown): the workstation tool may have
// rolled it forward with an escrow still on its way from that
// workstation's agent, which then records it; personalize.UsePUK keeps
// every later arrival from guessing below two tries.
func (s *Cards) stopRotation(ctx context.Context, run *operation.Run[resetData], cause error) error {
	action := "card.puk.rotate.interrupted"
	if errors.Is(cause, personalize.ErrWrongPUK) {
		action = "card.puk.rotate.deferred"
	}
	msg := lanyard.ErrorMessage(cause)
	ev := s.rec.Event(lanyard.SystemPrincipal, action, "card", strconv.FormatInt(run.Card.ID, 10), map[string]any{"operation": run.Op.ID, "step": run.Op.Step, "reason": "offline_release", "error": msg})
	if err := run.Stop(context.WithoutCancel(ctx), lanyard.OpInterrupted, msg, operation.Event(ev)); err != nil {
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
