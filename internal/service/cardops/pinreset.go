package cardops

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// ResetPINInput is Reset user PIN (by an operator) or online unblock (by
// the owner): the new PIN, empty when the owner's policy sets random
// PINs, and the owner's answers to their secret questions when they are
// asked (always of the owner; of staff when the policy's administrator
// permissions say Validate answers). Where the card is may be given; by
// default it is found in a reader. Nothing of it is stored or logged.
type ResetPINInput struct {
	CardTarget
	NewPIN  string
	Answers []SecretAnswer
}

// ResetPINResult is the card after the reset, and its random PIN when the
// policy set one and the caller may see it (shown once).
type ResetPINResult struct {
	Card      *CardView
	RandomPIN string
	// PINHeldForOwner: staff were not shown the random PIN; the owner
	// sees it once in Self-Service (IssuedPINs, ShowIssuedPIN).
	PINHeldForOwner bool
	// PINMailedTo are the addresses the random PIN was mailed to by
	// policy; PINMailNote says why it was not, when it should have been.
	PINMailedTo []string
	PINMailNote string
}

// resetData is a PIN reset's record: the card's next PUK, drawn and
// sealed (CardPUKAAD) before it is sent to the card, until the card
// record holds it.
type resetData struct {
	NewPUK []byte `json:"new_puk,omitempty"`
	// Sent: NewPUK was sent to the card (a reset's PUK change, a
	// rotation's, or a workstation tool's roll-forward whose outcome is
	// unknown), so the card may hold it; a PUK never sent is not tried.
	Sent bool `json:"sent,omitempty"`
	// Refused is the card's recorded (sealed) PUK that the card refused
	// when the rotation of its released PUK was deferred: arrivals do not
	// try again while the record holds it (RotateReleasedPUK).
	Refused []byte `json:"refused,omitempty"`
}

// resetPlan is the new PIN and who learns it.
type resetPlan struct {
	pin        string
	random     bool
	showCaller bool                 // the caller sees the random PIN
	holdOwner  bool                 // staff reset: the owner sees it once later
	mailTo     lanyard.PINRecipient // by policy
}

// ResetPIN sets a new User PIN on a connected card with the card's own
// PUK (docs/lifecycle.md, "Reset user PIN" and "Online unblock"):
// cardperm decides who may (the owner as their policy's Issued card
// operations allow, staff as its Administrator permissions allow); the
// owner always answers their secret questions first, staff when the
// policy says Validate answers. The PIN is the one given, within the
// card type's and policy's rules, or a random one when the policy sets
// random PINs, shown as after an issue: to the owner per the policy, to
// staff only if the policy shows generated PINs to administrators (else
// held for the owner, who sees it once in Self-Service).
//
// On the card: RESET RETRY COUNTER with the card's PUK and the new PIN
// (SP 800-73-4 part 2, 3.2.3: the PIN's tries are restored), then the
// PUK is changed to a new random one (CHANGE REFERENCE DATA, 3.2.2): a
// PUK used is a PUK rotated. It runs as an operation (lanyard.OpResetPIN):
// the new PUK is recorded sealed in the operation (step puk_drawn) before
// it is sent, so a card pulled between the reset and the PUK change, or
// with the change's reply lost, loses nothing: the operation is left
// interrupted and the next reset of the card resumes it, trying the
// card's recorded PUK and the drawn one (personalize.UsePUK). The card
// record takes the new PUK in the final step, one transaction with the
// audit event card.pin.reset.
func (s *Cards) ResetPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in ResetPINInput) (*ResetPINResult, error) {
	c, dec, err := s.loadPINCard(ctx, p, cardID, cardperm.ResetPIN)
	if err != nil {
		return nil, err
	}
	if c.card.PUKState == lanyard.PUKUnknown {
		return nil, lanyard.Errorf(lanyard.EConflict, "Lanyard does not hold the Admin PIN (PUK) of card %s (chosen at an issue before cards got their own): its PIN cannot be reset; revoke and clear it, then issue it again", c.card.Serial)
	}
	owner := p.User.ID == c.card.OwnerID
	plan, err := s.planReset(c, owner, in.NewPIN)
	if err != nil {
		return nil, err
	}
	answered := owner || dec.AnswersFirst
	if answered {
		if err := s.elsewhere(in.CardTarget, func() (CardTarget, error) { return s.findCard(p, c.card) }); err != nil {
			return nil, err // before the answers count
		}
		if err := s.checkAnswers(ctx, p, c.owner, in.Answers); err != nil {
			return nil, err
		}
	}
	cc, err := s.openPINCard(ctx, p, c, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	if err := s.reloadPINCard(ctx, p, c, cc, cardperm.ResetPIN); err != nil {
		return nil, err
	}
	// The card's PUK goes only to the card it belongs to.
	if ok, err := s.cardProven(ctx, cc.pc, cc.ws.ID, c.ct, c.card, cc.id); err != nil {
		return nil, err
	} else if !ok {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s cannot prove it is the card Lanyard issued (its card type keeps a static management key): connect it at its owner's workstation", c.card.Serial)
	}
	secrets, err := s.catalog.CardTypeSecrets(c.ct)
	if err != nil {
		return nil, err
	}
	run, err := s.startReset(ctx, p, c.card, "card.pin.reset")
	if err != nil {
		return nil, err
	}
	if err := s.resetOnCard(ctx, run, cc, personalize.TypePUK(secrets), plan.pin); err != nil {
		msg := lanyard.ErrorMessage(err)
		ev := s.rec.Event(p, "card.pin.reset.interrupted", "card", strconv.FormatInt(c.card.ID, 10), map[string]any{"operation": run.Op.ID, "step": run.Op.Step, "error": msg})
		if serr := run.Stop(context.WithoutCancel(ctx), lanyard.OpInterrupted, msg, operation.Event(ev)); serr != nil {
			s.log.Error("recording an interrupted PIN reset failed", "operation", run.Op.ID, "error", serr)
		}
		return nil, err
	}
	held := s.holdResetPIN(run, plan)
	if err := s.finishReset(ctx, p, run, plan, answered, held); err != nil {
		return nil, err
	}
	// The owner hears of it (a reset they did not ask for is someone
	// holding their card and their answers), as the policy asks.
	s.notifyCardState(ctx, p, "card.pin.reset", c.owner, c.policy, run.Card)
	res := &ResetPINResult{PINHeldForOwner: held != nil}
	if plan.random {
		if plan.showCaller {
			res.RandomPIN = plan.pin
		}
		res.PINMailedTo, res.PINMailNote = s.mailPIN(ctx, plan.mailTo, c.owner, run.Card, plan.pin)
	}
	res.Card, err = s.viewFor(ctx, p, run.Card)
	return res, err
}

// planReset decides the new PIN: random when the owner's policy sets
// random user PINs (a platform credential's PIN is always chosen, as at
// its Set up PIN), else the one given, checked as at an issue.
func (s *Cards) planReset(c *pinCard, owner bool, newPIN string) (*resetPlan, error) {
	set := c.policy.Settings
	lo, hi := issuance.PINRange(set, c.ct)
	if !set.Issuance.RandomUserPIN || c.ct.Kind == lanyard.KindPlatformCredential {
		if newPIN == "" {
			return nil, lanyard.Errorf(lanyard.EInvalid, "enter the new PIN")
		}
		if err := issuance.CheckPIN("the new PIN", newPIN, lo, hi); err != nil {
			return nil, err
		}
		return &resetPlan{pin: newPIN}, nil
	}
	if newPIN != "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the policy sets a random user PIN; leave the new PIN empty")
	}
	rp := set.Issuance.RandomPIN
	if rp.Length < lo || rp.Length > hi {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the policy's random PIN length %d does not fit the card's %d-%d; ask your administrator", rp.Length, lo, hi)
	}
	pin, err := policy.RandomPIN(rp, s.rand)
	if err != nil {
		return nil, err
	}
	pl := &resetPlan{pin: pin, random: true, mailTo: rp.MailTo}
	if owner {
		pl.showCaller = rp.ShowToUser
	} else {
		pl.showCaller, pl.holdOwner = rp.ShowToAdmin, rp.ShowToUser
	}
	return pl, nil
}

// checkAnswers checks the owner's answers to their secret questions.
func (s *Cards) checkAnswers(ctx context.Context, p *lanyard.Principal, owner *lanyard.User, answers []SecretAnswer) error {
	if s.secretAnswers == nil {
		return lanyard.Errorf(lanyard.EUnavailable, "secret answers cannot be checked on this server")
	}
	if len(answers) == 0 {
		return lanyard.Errorf(lanyard.EInvalid, "answer the secret questions of %s first", owner.Login)
	}
	return s.secretAnswers.CheckSecretAnswers(ctx, p, owner.ID, answers)
}

// startReset resumes the card's unfinished PIN reset (its drawn PUK may be
// on the card), else records a new one. action names its audit events
// (action.start, .step, .resume): card.pin.reset, or card.puk.rotate for
// the PUK half alone (RotateReleasedPUK).
func (s *Cards) startReset(ctx context.Context, p *lanyard.Principal, card *lanyard.Card, action string) (*operation.Run[resetData], error) {
	unfinished, err := s.unfinishedReset(ctx, card.ID)
	if err != nil {
		return nil, err
	}
	stepEvent := func(run *operation.Run[resetData]) {
		run.StepEvent = func(step operation.Step) *lanyard.AuditEvent {
			return s.rec.Event(p, action+".step", "card", strconv.FormatInt(card.ID, 10), map[string]any{"operation": run.Op.ID, "step": string(step)})
		}
	}
	if unfinished != nil {
		var d resetData
		if err := json.Unmarshal(unfinished.Data, &d); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "reading the unfinished PIN reset")
		}
		run := operation.Attach(s.runner, unfinished, card, &d)
		if err := run.Resume(ctx, s.rec.Event(p, action+".resume", "card", strconv.FormatInt(card.ID, 10), map[string]any{"operation": unfinished.ID, "step": unfinished.Step})); err != nil {
			return nil, err
		}
		stepEvent(run)
		return run, nil
	}
	was := card.UpdatedAt
	card.UpdatedAt = s.rec.Clock()
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: card, Op: lanyard.Operation{Kind: lanyard.OpResetPIN, UserID: card.OwnerID, ActorID: p.User.ID},
		Check: func(tx lanyard.Tx) error { return lockUnchanged(tx, card, was, "while it was being read; try again") },
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.rec.Event(p, action+".start", "card", strconv.FormatInt(c.ID, 10), map[string]any{"serial": c.Serial, "operation": op.ID})
		}}, &resetData{})
	if err != nil {
		return nil, err
	}
	stepEvent(run)
	return run, nil
}

// unfinishedReset is the card's interrupted PIN reset, or nil.
func (s *Cards) unfinishedReset(ctx context.Context, cardID int64) (*lanyard.Operation, error) {
	var ops []*lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpResetPIN, Unfinished: true, Limit: 1})
		return err
	})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// resetPUK is the PUK the card's latest PIN reset drew when that reset
// did not record it on the card: an interrupted one (its change's reply
// lost), or one failed by a revocation that ended it mid-way (the card may
// hold the new PUK all the same). A candidate for every action that needs
// the card's PUK; empty when there is none (a finished reset moved it to
// the card record and cleared it from its own).
func (s *Cards) resetPUK(ctx context.Context, cardID int64) (personalize.PUKCandidate, error) {
	var ops []*lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpResetPIN, Limit: 1})
		return err
	})
	if err != nil || len(ops) == 0 {
		return personalize.PUKCandidate{}, err
	}
	op := ops[0]
	var d resetData
	if json.Unmarshal(op.Data, &d) != nil {
		return personalize.PUKCandidate{}, nil
	}
	return s.sealedCandidate(cardID, d.NewPUK), nil
}

// resetOnCard draws and records the card's next PUK (once per operation),
// sets the PIN with the card's current PUK (RESET RETRY COUNTER) and
// changes the PUK to the drawn one. The PUKs tried are the card's
// recorded one (else the card type's, typePUK) and the drawn one, which
// the card holds when an earlier run's change reached it with the reply
// lost; personalize.UsePUK never spends the card's last tries guessing.
func (s *Cards) resetOnCard(ctx context.Context, run *operation.Run[resetData], cc *cardConn, typePUK, pin string) error {
	card := run.Card
	drawn, err := s.drawnPUK(ctx, run)
	if err != nil {
		return err
	}
	next := drawn.PUK
	candidates, err := s.pukCandidates(card, typePUK, drawn)
	if err != nil {
		return err
	}
	used, err := personalize.UsePUK(ctx, cc.pc, candidates, false, "resetting the PIN with the card's Admin PIN (PUK)", func(puk string) error {
		return cc.pc.UnblockPIN(ctx, puk, pin)
	})
	if err != nil {
		return err
	}
	run.Data.Sent = true // the card holds it, or gets it next
	if err := run.Step(ctx, operation.PINUnblocked); err != nil {
		return err
	}
	if used.PUK != next {
		if err := cc.pc.ChangePUK(ctx, used.PUK, next); err != nil {
			return personalize.CardError(err, "giving the card a new Admin PIN (PUK) after the reset")
		}
	}
	return nil
}

// drawnPUK is the card's next PUK: drawn, sealed and recorded in the
// run (step puk_drawn) before it is sent, once per operation.
func (s *Cards) drawnPUK(ctx context.Context, run *operation.Run[resetData]) (personalize.PUKCandidate, error) {
	if len(run.Data.NewPUK) == 0 {
		sealed, err := s.randomPUK(run.Card.ID)
		if err != nil {
			return personalize.PUKCandidate{}, err
		}
		run.Data.NewPUK = sealed
		if err := run.Step(ctx, operation.PUKDrawn); err != nil {
			run.Data.NewPUK = nil
			return personalize.PUKCandidate{}, err
		}
	}
	next, err := s.openPUK(run.Card.ID, run.Data.NewPUK)
	if err != nil {
		return personalize.PUKCandidate{}, err
	}
	return personalize.PUKCandidate{PUK: next, Sealed: run.Data.NewPUK}, nil
}

// holdResetPIN seals a random PIN for the card's owner when staff reset it
// and were not shown it, as an issue by someone else does
// (keepPINForOwner); nil otherwise or when sealing fails (logged: the
// owner then needs another reset).
func (s *Cards) holdResetPIN(run *operation.Run[resetData], plan *resetPlan) *lanyard.HeldPIN {
	if !plan.random || !plan.holdOwner {
		return nil
	}
	return s.ownerPINCopy(run.Op.ID, run.Card.ID, run.Card.OwnerID, plan.pin)
}

// finishReset records the reset in one transaction with one audit event
// (card.pin.reset): the card holds the drawn PUK, the copies of its
// earlier PINs are erased (it has a new one) and the owner's copy of a
// random PIN staff did not see is held. Recorded even if the caller went
// away: the card already has both.
func (s *Cards) finishReset(ctx context.Context, p *lanyard.Principal, run *operation.Run[resetData], plan *resetPlan, answered bool, held *lanyard.HeldPIN) error {
	card := run.Card
	by := "staff"
	if p.User.ID == card.OwnerID {
		by = "owner"
	}
	ev := s.rec.Event(p, "card.pin.reset", "card", strconv.FormatInt(card.ID, 10), map[string]any{"serial": card.Serial, "operation": run.Op.ID,
		"by": by, "answers_checked": answered, "random_pin": plan.random, "shown_to_caller": plan.random && plan.showCaller, "held_for_owner": held != nil, "puk_rotated": true})
	return s.recordDrawnPUK(ctx, run, ev, func(tx lanyard.Tx) error {
		if _, err := tx.DeleteCardHeldPINs(card.ID); err != nil {
			return err
		}
		if err := s.pinRestored(tx, card.ID); err != nil {
			return err
		}
		if held != nil {
			return tx.CreateHeldPIN(held)
		}
		return nil
	})
}

// recordDrawnPUK ends run (done) with the card record holding the drawn
// PUK, in one transaction with ev and extra: only the PUK fields are
// written, on the card as it is now, so a disable or revoke committed
// while the card was worked on stays (the record read before the card
// I/O would undo it). The PUK is a new one, so a release by an offline
// unblock is over (RotateReleasedPUK has nothing left to do). Recorded
// even if the caller went away: the card already has the PUK.
func (s *Cards) recordDrawnPUK(ctx context.Context, run *operation.Run[resetData], ev *lanyard.AuditEvent, extra func(tx lanyard.Tx) error) error {
	card := run.Card
	sealed := run.Data.NewPUK
	run.Data.NewPUK = nil // the card record holds it now
	run.Op.State = lanyard.OpDone
	var fresh *lanyard.Card
	writes := func(tx lanyard.Tx) error {
		if err := tx.LockCard(card.ID); err != nil {
			return err
		}
		cur, err := tx.CardByID(card.ID)
		if err != nil {
			return err
		}
		cur.SealedPUK, cur.PUKState, cur.PUKReleasedAt, cur.UpdatedAt = sealed, lanyard.PUKRandom, time.Time{}, s.rec.Clock()
		if err := tx.UpdateCard(cur); err != nil {
			return err
		}
		fresh = cur
		return extra(tx)
	}
	err := run.Step(context.WithoutCancel(ctx), operation.Done, operation.Also(writes), operation.Event(ev))
	if err != nil {
		run.Data.NewPUK, run.Op.State = sealed, lanyard.OpRunning
		return err
	}
	*card = *fresh
	return nil
}

// ResetPINAt is the online unblock of a workstation's command line
// (lanyard agent unblock): ResetPIN of p's card with serial (empty: their
// only card) connected at workstation wsID, or an AirCard of theirs that
// the AirCard service hosts.
func (s *Cards) ResetPINAt(ctx context.Context, p *lanyard.Principal, wsID int64, serial string, in ResetPINInput) (*ResetPINResult, error) {
	connected, err := s.ConnectedCards(ctx, p, true)
	if err != nil {
		return nil, err
	}
	var match []*ConnectedCard
	for _, c := range connected {
		if c.CardID != 0 && c.Owner == p.User.Login && (c.WorkstationID == wsID || c.Kind == lanyard.KindAirCard) && (serial == "" || c.Serial == serial) {
			match = append(match, c)
		}
	}
	switch {
	case len(match) == 0 && serial != "":
		return nil, lanyard.Errorf(lanyard.ENotFound, "your card %s is not connected at this workstation", serial)
	case len(match) == 0:
		return nil, lanyard.Errorf(lanyard.ENotFound, "none of your cards is connected at this workstation")
	case len(match) > 1:
		return nil, lanyard.Errorf(lanyard.EInvalid, "several of your cards are connected; name one with --card")
	}
	in.CardTarget = CardTarget{WorkstationID: match[0].WorkstationID, Reader: match[0].Reader}
	return s.ResetPIN(ctx, p, match[0].CardID, in)
}
