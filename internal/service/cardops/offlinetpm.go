package cardops

import (
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// Offline unblock of TPM virtual cards and platform credentials (scheme
// lanyard-tpm; docs/lifecycle.md, "Offline unblock"). The card's TPM
// checks a one-time code the server armed in it (ARM OFFLINE UNBLOCK,
// with the card's PUK, in the management session; package tpmkeys): at
// issue, once the card has its own PUK, and again at the card's next
// connection after the code was used, used up or given out. The card
// shows the armed code's counter and nonce as its challenge; the server
// answers with the code, derived again from the card admin master secret
// (unblockcode.TPMKey) and never stored. offline_arms records, per card,
// the counter and nonce armed and the master secret's version.

// Steps of an issue that arms the card.
const (
	stepOfflineArmStart operation.Step = "offline_arm_start" // counter and nonce recorded
	stepOfflineArmed    operation.Step = "offline_armed"     // the card took the code, or cannot hold one
)

// tpmOffline reports whether cards of kind are unblocked offline with an
// armed code (their PIN is held by the TPM).
func tpmOffline(kind lanyard.CardKind) bool {
	return kind == lanyard.KindTPMVirtualCard || kind == lanyard.KindPlatformCredential
}

// armStep records one step of arming: at issue a step of the issue
// operation, at a card's connection a transaction of its own; each with
// its audit event.
type armStep func(ctx context.Context, step operation.Step, fn func(tx lanyard.Tx) error, ev *lanyard.AuditEvent) error

// offlineArmOf returns card cardID's armed code record, nil when none.
func offlineArmOf(tx lanyard.Tx, cardID int64) (*lanyard.OfflineArm, error) {
	a, err := tx.OfflineArmOf(cardID)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	return a, err
}

// armOffline arms card's next code with puk through admin, or sends
// again the code recorded as being armed (a resumed arm: the card takes
// the same counter and nonce without change). A code recorded as being
// armed that the server answered meanwhile is not sent again but
// replaced: the card may have taken it (its reply lost), shown it and
// used it, and must not take it twice (the card itself refuses a counter
// it armed before: piv.ErrCounterUsed). A card that cannot hold a code
// (a TPM card made before offline unblock, or no TPM card at all) is
// recorded unavailable; that is not an error.
func (s *Cards) armOffline(ctx context.Context, p *lanyard.Principal, admin *piv.Admin, card *lanyard.Card, puk string, record armStep) error {
	var cur *lanyard.OfflineArm
	resume := false
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if cur, err = offlineArmOf(tx, card.ID); err != nil || cur == nil || cur.State != lanyard.OfflineArming {
			return err
		}
		answered, err := tpmAnswered(tx, card.ID, cur)
		resume = !answered
		return err
	}); err != nil {
		return err
	}
	a := cur
	if !resume {
		next, err := s.nextArm(ctx, card, cur)
		if err != nil {
			return err
		}
		ev := s.rec.Event(p, "card.offline_unblock.arm.start", "card", card.Serial, map[string]any{"card_id": card.ID, "counter": next.Counter})
		if err := record(ctx, stepOfflineArmStart, func(tx lanyard.Tx) error { return tx.PutOfflineArm(next) }, ev); err != nil {
			return err
		}
		a = next
	}
	_, code, err := s.tpmCode(ctx, card, a)
	if err != nil {
		return err
	}
	err = admin.ArmOfflineUnblock(ctx, puk, uint16(a.Counter), uint64(a.Nonce), code)
	done := *a
	done.UpdatedAt = s.rec.Clock()
	action := "card.offline_unblock.arm"
	switch {
	case errors.Is(err, piv.ErrUnsupported):
		done.State, action = lanyard.OfflineUnavailable, "card.offline_unblock.arm.unavailable"
	case errors.Is(err, piv.ErrCounterUsed):
		return lanyard.Errorf(lanyard.EConflict, "card %s refused offline unblock code %d: it armed that counter or a later one before, so the server's record of the card is behind the card (restored from an older backup?); the card keeps its PIN and PUK, use Reset PIN; to unblock it offline again, replace it with a new virtual card", card.Serial, a.Counter)
	case err != nil:
		return personalize.CardError(err, "arming the card's offline unblock code failed")
	default:
		done.State = lanyard.OfflineArmed
	}
	ev := s.rec.Event(p, action, "card", card.Serial, map[string]any{"card_id": card.ID, "counter": done.Counter})
	return record(ctx, stepOfflineArmed, func(tx lanyard.Tx) error { return tx.PutOfflineArm(&done) }, ev)
}

// maxArmCounter is the last counter a card can arm: the challenge holds
// 16 bits, and the card takes only counters above those it armed before,
// so the counter does not wrap.
const maxArmCounter = 0xFFFF

// nextArm draws the card's next code: the counter after cur's, a random
// 36-bit nonce, the current master secret's version. A card that armed
// maxArmCounter codes gets no more: refused, with the way out.
func (s *Cards) nextArm(ctx context.Context, card *lanyard.Card, cur *lanyard.OfflineArm) (*lanyard.OfflineArm, error) {
	counter := 1
	if cur != nil {
		counter = cur.Counter + 1
	}
	if counter > maxArmCounter {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s armed all %d offline unblock codes its challenge can number, so it gets no new one; replace it with a new virtual card to unblock it offline again (Reset PIN works meanwhile)", card.Serial, maxArmCounter)
	}
	m, err := s.adminMaster(ctx, 0)
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "drawing an offline unblock nonce")
	}
	return &lanyard.OfflineArm{CardID: card.ID, Counter: counter, Nonce: int64(binary.BigEndian.Uint64(b[:]) & unblockcode.NonceMax),
		KeyVersion: m.Version, State: lanyard.OfflineArming, UpdatedAt: s.rec.Clock()}, nil
}

// tpmCode is the challenge the card shows for a and the code armed for
// it.
func (s *Cards) tpmCode(ctx context.Context, card *lanyard.Card, a *lanyard.OfflineArm) (ch, code unblockcode.Payload, err error) {
	ch, err = unblockcode.ChallengeFields{Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(card.Serial),
		Counter: uint16(a.Counter), Nonce: uint64(a.Nonce)}.Pack()
	if err != nil {
		return ch, code, lanyard.Wrap(lanyard.EInternal, err, "the card's armed code record is damaged")
	}
	m, err := s.adminMaster(ctx, a.KeyVersion)
	if err != nil {
		return ch, code, err
	}
	key, err := unblockcode.TPMKey(m.Secret, m.Version, card.ID, card.Serial)
	if err != nil {
		return ch, code, lanyard.Wrap(lanyard.EInternal, err, "deriving the card's unblock key")
	}
	return ch, unblockcode.ResponseMAC(key, card.Serial, ch), nil
}

// armAtIssue arms the code of a TPM card being issued, once it has its
// own PUK: steps of the issue operation, resumed like the others.
func (s *Cards) armAtIssue(ctx context.Context, j *issueJob, admin *piv.Admin) error {
	puk, err := s.cardPUK(j.card)
	if err != nil || puk == "" {
		return err
	}
	err = s.armOffline(ctx, j.p, admin, j.card, puk, func(ctx context.Context, step operation.Step, fn func(tx lanyard.Tx) error, ev *lanyard.AuditEvent) error {
		if step == stepOfflineArmed {
			j.data.OfflineArmed = true
		}
		err := j.run.Step(ctx, step, operation.Also(fn), operation.Event(ev))
		if err != nil && step == stepOfflineArmed {
			j.data.OfflineArmed = false
		}
		return err
	})
	return err
}

// offlineTPMResponse is the response to a lanyard-tpm challenge of card:
// the code armed for its counter and nonce. Refused when the card is not
// a TPM card (the scheme must be the card's), or no such code was armed
// (another, or a replaced one). The code of a record still being armed
// is answered too: the card may have taken it, its reply lost, and the
// user needs it now; once answered it is never sent to the card again
// (armOffline draws a new one).
func (s *Cards) offlineTPMResponse(ctx context.Context, ct *lanyard.CardType, card *lanyard.Card, ch unblockcode.ChallengeFields) (unblockcode.Payload, error) {
	if !tpmOffline(ct.Kind) || ch.Scheme != unblockcode.SchemeLanyardTPM {
		return unblockcode.Payload{}, lanyard.Errorf(lanyard.EInvalid, "this challenge is of scheme %s, which is not the scheme of card %s; read it from the card again", ch.Scheme, card.Serial)
	}
	var a *lanyard.OfflineArm
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { a, err = offlineArmOf(tx, card.ID); return }); err != nil {
		return unblockcode.Payload{}, err
	}
	switch {
	case a == nil || a.State == lanyard.OfflineUnavailable:
		return unblockcode.Payload{}, lanyard.Errorf(lanyard.EConflict, "card %s cannot be unblocked offline (it was made before offline unblock existed); connect it and use Reset PIN, or re-issue it", card.Serial)
	case a.Counter != int(ch.Counter) || a.Nonce != int64(ch.Nonce):
		return unblockcode.Payload{}, lanyard.Errorf(lanyard.EInvalid, "this challenge is not the code armed in card %s (it was replaced when the card last connected); read it from the card again", card.Serial)
	}
	_, code, err := s.tpmCode(ctx, card, a)
	return code, err
}

// RearmOffline arms a new code in the TPM card with serial, just
// connected in reader of workstation wsID, when its armed code was used,
// used up or given out (a response was answered for it), or when arming
// it was interrupted; the card's next offline unblock then has a code
// nobody has seen. It reports whether it armed. A card never armed (issued
// before offline unblock) is tried once: one that cannot hold a code is
// recorded so and left alone.
func (s *Cards) RearmOffline(ctx context.Context, wsID int64, reader, serial string) (bool, error) {
	card, ct, a, err := s.armedCard(ctx, serial)
	if card == nil || err != nil {
		return false, err
	}
	for _, unfinished := range []func(context.Context, int64) (*lanyard.Operation, error){s.unfinishedIssue, s.unfinishedReset} {
		if op, err := unfinished(ctx, card.ID); err != nil || op != nil {
			return false, err // the issue arms the card itself; a reset holds the PUK
		}
	}
	puk, err := s.cardPUK(card)
	if err != nil || puk == "" {
		return false, err
	}
	cc, err := s.openArrived(ctx, wsID, reader, serial)
	if cc == nil || err != nil {
		return false, err
	}
	defer cc.sess.Close()
	if fresh, err := s.armFresh(ctx, cc.pc, card, a); err != nil || fresh {
		return false, err
	}
	if ok, err := s.cardProven(ctx, cc.pc, wsID, ct, card, cc.id); !ok || err != nil {
		return false, err
	}
	secrets, err := s.catalog.CardTypeSecrets(ct)
	if err != nil {
		return false, err
	}
	admin, err := s.authenticateCard(ctx, cc, ct, secrets, card)
	if err != nil {
		return false, err
	}
	err = s.armOffline(ctx, lanyard.SystemPrincipal, admin, card, puk, func(ctx context.Context, _ operation.Step, fn func(tx lanyard.Tx) error, ev *lanyard.AuditEvent) error {
		return s.rec.Update(ctx, func() *lanyard.AuditEvent { return ev }, fn)
	})
	return err == nil, err
}

// openArrived opens the card with serial that arrived in reader of
// workstation wsID, in a card operation slot, and identifies it; nil
// without error when no card can be reached (no agents). The caller
// closes cc.sess.
func (s *Cards) openArrived(ctx context.Context, wsID int64, reader, serial string) (*cardConn, error) {
	access := s.cardAccess()
	if access == nil {
		return nil, nil
	}
	release, err := s.cardSlots.acquire(ctx)
	if err != nil {
		return nil, err
	}
	raw, err := access.Open(ctx, wsID, reader)
	if err != nil {
		release()
		return nil, err
	}
	cc := &cardConn{sess: &slotSession{CardSession: raw, release: release}, serial: serial}
	if cc.pc, cc.id, err = personalize.Connect(ctx, cc.sess, s.rand, serial, reader); err != nil {
		cc.sess.Close()
		return nil, err
	}
	return cc, nil
}

// armedCard returns the TPM card with serial that is in someone's hands,
// its card type and its armed code record (nil: never armed); nil when
// there is none or it cannot hold a code.
func (s *Cards) armedCard(ctx context.Context, serial string) (*lanyard.Card, *lanyard.CardType, *lanyard.OfflineArm, error) {
	var card *lanyard.Card
	var ct *lanyard.CardType
	var a *lanyard.OfflineArm
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		for _, t := range types {
			if !tpmOffline(t.Kind) {
				continue
			}
			c, err := tx.CardBySerial(t.Name, serial)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				continue
			}
			if err != nil {
				return err
			}
			switch c.State {
			case lanyard.CardIssued, lanyard.CardPINSetup, lanyard.CardDisabled:
			default:
				continue
			}
			if a, err = offlineArmOf(tx, c.ID); err != nil {
				return err
			}
			if a == nil || a.State != lanyard.OfflineUnavailable {
				card, ct = c, t
			}
			return nil
		}
		return nil
	})
	return card, ct, a, err
}

// armFresh reports whether card's armed code a is still fresh: armed,
// shown by the card with all its tries, and never answered by the
// server.
func (s *Cards) armFresh(ctx context.Context, pc *piv.Card, card *lanyard.Card, a *lanyard.OfflineArm) (bool, error) {
	if a == nil || a.State != lanyard.OfflineArmed {
		return false, nil
	}
	shown, err := pc.UnblockChallenge(ctx)
	if errors.Is(err, piv.ErrNoChallenge) {
		return false, nil // used, or used up
	}
	if err != nil {
		return false, err
	}
	want, _, err := s.tpmCode(ctx, card, a)
	if err != nil {
		return false, err
	}
	if !shown.Armed || shown.Payload != want || shown.TriesLeft != pivspec.ArmedCodeTries {
		return false, nil
	}
	var answered bool
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) { answered, err = tpmAnswered(tx, card.ID, a); return })
	return !answered, err
}

// tpmAnswered reports whether the server answered the challenge of code
// a of card cardID (offline_unblocks): its code was given out.
func tpmAnswered(tx lanyard.Tx, cardID int64, a *lanyard.OfflineArm) (bool, error) {
	prev, err := tx.OfflineUnblocksOf(cardID)
	for _, u := range prev {
		if u.Scheme == unblockcode.SchemeLanyardTPM.String() && u.Counter == a.Counter && u.Nonce == a.Nonce {
			return true, err
		}
	}
	return false, err
}
