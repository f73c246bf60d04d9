package cardops

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// RevokeAndClearCard is the guide's *Revoke and clear card*, offered when
// a card issue cannot finish (the CA rejected a request): every
// certificate Lanyard issued for the card is revoked (cessation of
// operation), pending requests are withdrawn, the certificates Lanyard
// wrote are deleted from the card, the card's unfinished operation fails
// and the card returns to clean, unowned, so the issue can start again.
// The card must be connected: its content is cleared through the same
// relayed, server-authenticated session as the issue. It runs as an
// operation (lanyard.OpClear) on the operation runner: the card's steps
// are recorded as they happen, the database changes are one final
// transaction with one audit event, and a card pulled midway fails the
// operation, leaving the certificates and the card's ownership as they
// were: the action is repeated, never resumed. A clear pulled while it
// initialized the card is finished by the next one, which initializes it
// again (interruptedInit, wipe.go).
func (s *Cards) RevokeAndClearCard(ctx context.Context, p *lanyard.Principal, cardID int64, in ClearInput) (*CardView, error) {
	t := in.CardTarget
	load := func() (*lanyard.Card, *lanyard.User, error) {
		var card *lanyard.Card
		var user *lanyard.User
		err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
			if card, err = tx.CardByID(cardID); err != nil {
				return err
			}
			if card.OwnerID != p.User.ID && !isCardStaff(p) {
				return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
			}
			if card.OwnerID != 0 {
				user, err = tx.UserByID(card.OwnerID)
			}
			return err
		})
		return card, user, err
	}
	_, user, err := load() // ownership, and whose workstation to use
	if err != nil {
		return nil, err
	}
	if user != nil {
		t.User = user.Login
	}
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	// Read again inside the exclusive session: a Continue that ran while
	// this call waited for the card must not be undone half-way.
	card, _, err := load()
	if err != nil {
		return nil, err
	}
	if card.State == lanyard.CardClean {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s is %s; there is nothing to revoke and clear", card.Serial, card.State)
	}
	if err := s.checkClear(ctx, p, card); err != nil {
		return nil, err
	}
	if cc.serial != card.Serial {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", cc.r.Name, cc.serial, card.Serial)
	}
	// A clear that stopped while it initialized the card is finished
	// by initializing it again (wipe.go): the card may be RESET already.
	resumeInit, initWS, err := s.interruptedInit(ctx, card.ID)
	if err != nil {
		return nil, err
	}
	if resumeInit && initWS != 0 && cc.ws.ID != initWS {
		return nil, lanyard.Errorf(lanyard.EConflict, "the initialization of card %s was interrupted at another workstation: finish it there, with the card in the same reader", card.Serial)
	}
	in.Initialize = in.Initialize || resumeInit
	// Before its PUK is sent: a card with another CHUID than the one
	// recorded is not the card (a static management key proves nothing).
	if !resumeInit {
		if err := personalize.CheckPUKHolder(card, cc.id); err != nil {
			return nil, err
		}
	}
	var certs []*lanyard.Certificate
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		certs, err = tx.ListCertificates(lanyard.CertFilter{CardID: card.ID})
		return err
	}); err != nil {
		return nil, err
	}
	if card.PUKState == lanyard.PUKUnknown && in.AdminPIN == "" && !in.Initialize {
		return nil, lanyard.Errorf(lanyard.EInvalid, "enter the Admin PIN chosen when the card was issued: clearing the card resets its PIN with it")
	}
	ct, err := s.catalog.GetCardType(ctx, card.CardType)
	if err != nil {
		return nil, err
	}
	if err := checkInitialize(in, ct); err != nil {
		return nil, err
	}
	secrets, err := s.catalog.CardTypeSecrets(ct)
	if err != nil {
		return nil, err
	}
	// An unfinished issue may have given the card its new PUK, its reply
	// lost (read before this clear records its own operation).
	var issuing personalize.PUKCandidate
	if op, err := s.unfinishedIssue(ctx, card.ID); err != nil {
		return nil, err
	} else if op != nil && op.Kind == lanyard.OpIssue {
		var d issueData
		if json.Unmarshal(op.Data, &d) == nil {
			issuing = s.sealedCandidate(card.ID, d.NewPUK)
		}
	}
	if issuing.PUK == "" {
		// An interrupted PIN reset's new PUK, likewise.
		if issuing, err = s.resetPUK(ctx, card.ID); err != nil {
			return nil, err
		}
	}
	// The card proves it is the one recorded (its own management key)
	// before anything is written: a card presenting a copied serial and
	// CHUID leaves no operation and no audit trail of a clear behind.
	var admin *piv.Admin
	if resumeInit {
		err = s.proveInterruptedInit(ctx, cc, ct, secrets, card) // wipe.go
	} else {
		admin, err = s.authenticateCard(ctx, cc, ct, secrets, card)
	}
	if err != nil {
		return nil, err
	}
	run, err := s.startClear(ctx, p, card)
	if err != nil {
		return nil, err
	}
	if in.Initialize {
		err = s.wipeCard(ctx, run, cc, ct, secrets) // wipe.go
	} else {
		err = s.clearCard(ctx, run, cc, admin, ct, secrets, certs, in.AdminPIN, issuing)
	}
	if err == nil {
		err = s.finishClear(ctx, p, run)
	}
	if err != nil {
		msg := lanyard.ErrorMessage(err)
		ev := s.rec.Event(p, "card.clear.fail", "card", strconv.FormatInt(card.ID, 10), map[string]any{"operation": run.Op.ID, "step": run.Op.Step, "error": msg})
		if serr := run.Stop(ctx, lanyard.OpFailed, msg, operation.Event(ev)); serr != nil {
			s.log.Error("recording a failed revoke and clear failed", "operation", run.Op.ID, "error", serr)
		}
		return nil, err
	}
	var out *CardView
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if out, err = s.cardView(tx, run.Card, true); err == nil {
			err = s.addAllowed(tx, p, out)
		}
		return err
	})
	return out, err
}

// clearData is a Revoke and clear operation's record: the slots whose
// certificates it deleted from the card, or that it initialized the
// card instead (wipe.go).
type clearData struct {
	Slots       []string `json:"slots,omitempty"`
	Initialized bool     `json:"initialized,omitempty"`
	// RetiredCleared: the card's retired key slots were emptied
	// (personalize.ClearRetiredKeys).
	RetiredCleared bool `json:"retired_cleared,omitempty"`
	// Workstation is where an initialization ran (wipe.go): its retry,
	// which takes a card by its serial and a default key, is taken only
	// there.
	Workstation int64 `json:"workstation,omitempty"`
}

// startClear records the Revoke and clear of card as a running
// operation, if the card is still as read.
func (s *Cards) startClear(ctx context.Context, p *lanyard.Principal, card *lanyard.Card) (*operation.Run[clearData], error) {
	user := card.OwnerID
	if user == 0 {
		user = p.User.ID
	}
	was := card.UpdatedAt
	card.UpdatedAt = s.rec.Clock() // the clear starting is a change of the card: a reader of it before sees it moved
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: card, Op: lanyard.Operation{Kind: lanyard.OpClear, UserID: user, ActorID: p.User.ID},
		Check: func(tx lanyard.Tx) error {
			return lockUnchanged(tx, card, was, "while it was being read; look at the card and try again")
		},
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.rec.Event(p, "card.clear.start", "card", strconv.FormatInt(c.ID, 10), map[string]any{"serial": c.Serial, "operation": op.ID})
		}}, &clearData{})
	if err != nil {
		return nil, err
	}
	run.StepEvent = func(step operation.Step) *lanyard.AuditEvent {
		return s.rec.Event(p, "card.clear.step", "card", strconv.FormatInt(run.Card.ID, 10), map[string]any{"operation": run.Op.ID, "step": string(step)})
	}
	return run, nil
}

// clearCard deletes the certificates Lanyard wrote from the card and
// resets its PIN, recording each as a step.
func (s *Cards) clearCard(ctx context.Context, run *operation.Run[clearData], cc *cardConn, admin *piv.Admin, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets,
	certs []*lanyard.Certificate, adminPIN string, issuing personalize.PUKCandidate) error {
	card := run.Card
	slots := map[string]bool{}
	for _, c := range certs {
		if onCard(card, c) {
			if slot := s.certSlot(ctx, c); slot != "" {
				slots[slot] = true
			}
		}
	}
	// A new certificate an unfinished or cancelled update wrote to its
	// staging slot, never moved into place, goes too.
	staged, err := s.stagedSlots(ctx, card.ID)
	if err != nil {
		return err
	}
	for _, r := range staged {
		slots[r] = true
	}
	run.Data.Slots = slices.Sorted(maps.Keys(slots))
	if err := personalize.DeleteCertificates(ctx, admin, run.Data.Slots); err != nil {
		return err
	}
	// The retired key slots (the owner's earlier keys recovered onto the
	// card) belong to no certificate of this card: they are emptied and
	// the key history written back to none, so that the card, back
	// behind its card type's default PIN, holds none of them.
	if run.Data.RetiredCleared, err = personalize.ClearRetiredKeys(ctx, cc.pc, admin); err != nil {
		return err
	}
	if err := run.Step(ctx, operation.CertificatesDeleted); err != nil {
		return err
	}

	// Back to the card type's user PIN, so that the next issue starts
	// from a value the server knows: the PUK resets the PIN (RESET RETRY
	// COUNTER), whatever the user set or was given. A card with its own
	// PUK keeps it (the next issue replaces it), as does one found holding
	// a new PUK an interrupted issue or rotation drew (the server holds it
	// sealed); one whose PUK the server never stored goes back to the card
	// type's default, the state of a card Lanyard has not issued. The
	// candidates are tried by personalize.UsePUK, each while two tries
	// remain.
	defaults := personalize.TypeKeys(ct, secrets)
	defPUK, defPIN := defaults.PUK, defaults.PIN
	named := defPUK
	if adminPIN != "" {
		named = adminPIN
	}
	candidates, err := s.pukCandidates(card, named, issuing)
	if err != nil {
		return err
	}
	used, err := personalize.UsePUK(ctx, cc.pc, candidates, false, "resetting the card's PIN with its Admin PIN", func(puk string) error {
		return cc.pc.UnblockPIN(ctx, puk, defPIN)
	})
	if err != nil {
		return err
	}
	switch {
	case len(used.Sealed) > 0:
		// A PUK the server holds sealed: the card keeps it.
		card.SealedPUK, card.PUKState = used.Sealed, lanyard.PUKRandom
	case used.PUK != defPUK:
		if err := cc.pc.ChangePUK(ctx, used.PUK, defPUK); err != nil {
			return personalize.CardError(err, "resetting the card's Admin PIN")
		}
		card.SealedPUK, card.PUKState = nil, lanyard.PUKDefault
	default:
		card.SealedPUK = nil
	}
	card.PUKReleasedAt = time.Time{} // a released PUK is the owner's business no more
	return run.Step(ctx, operation.PINReset, operation.WithCard())
}

// finishClear records the cleared card, in one transaction with one audit
// event: Lanyard's certificates of the card revoked (cessation of
// operation), the requests of its issues withdrawn, its other unfinished
// operations failed (retireCard), its held PIN copies erased. A card on
// its way to issue (or issued) becomes clean and unowned; a revoked card
// stays revoked, with its owner and reason, until it is withdrawn to
// stock or to its owner (WithdrawCard). It is recorded even if the
// caller goes away: the card is cleared.
func (s *Cards) finishClear(ctx context.Context, p *lanyard.Principal, run *operation.Run[clearData]) error {
	card := run.Card
	var revoked []string
	var ended []int64
	held := 0
	writes := func(tx lanyard.Tx) error {
		// The card first (as ApproveRequest and DecideDocument take it),
		// then its certificates as they are now: one approved or revoked
		// while the card was cleared is seen as it is.
		if err := tx.LockCard(card.ID); err != nil {
			return err
		}
		r, err := s.retireCard(ctx, tx, p, card, lanyard.ReasonCessationOfOperation, run.Op.ID, "the card was revoked and cleared")
		if err != nil {
			return err
		}
		revoked = r
		// The PIN was reset: no copy of the one an issue set is kept.
		if held, err = tx.DeleteCardHeldPINs(card.ID); err != nil || card.State != lanyard.CardClean {
			return err
		}
		// Back to stock, no owner: the replacements it took part in no
		// longer bind it (docs/lifecycle.md, "Replace").
		ended, err = s.endReplacements(tx, card.ID)
		return err
	}
	was := *card
	if card.State != lanyard.CardRevoked {
		card.State, card.OwnerID, card.IssuedAt, card.Name = lanyard.CardClean, 0, time.Time{}, ""
	}
	run.Op.State = lanyard.OpDone
	err := run.Step(ctx, operation.Done, operation.WithCard(), operation.Also(writes), operation.EventAfter(func() *lanyard.AuditEvent {
		d := map[string]any{
			"serial": card.Serial, "operation": run.Op.ID, "revoked": revoked, "cleared_slots": len(run.Data.Slots), "held_pins_erased": held,
			"state": string(card.State), "initialized": run.Data.Initialized, "retired_keys_cleared": run.Data.RetiredCleared}
		if len(ended) > 0 {
			d["replacements_ended"] = ended
		}
		return s.rec.Event(p, "card.revoke_clear", "card", strconv.FormatInt(card.ID, 10), d)
	}))
	if err != nil {
		*card = was
		run.Op.State = lanyard.OpRunning
	}
	return err
}

// checkClear checks with cardperm that p may clear card: Clear for a
// revoked card (its certificates are revoked already), Revoke for any
// other, whose certificates Revoke and clear revokes first.
func (s *Cards) checkClear(ctx context.Context, p *lanyard.Principal, card *lanyard.Card) error {
	op := cardperm.Revoke
	if card.State == lanyard.CardRevoked {
		op = cardperm.Clear
	}
	return s.rec.View(ctx, func(tx lanyard.Tx) error {
		owner, pol, err := s.ownerPolicy(tx, card)
		if err != nil {
			return err
		}
		return cardperm.Check(cardperm.ActorOf(p), workflowOf(pol), permCard(card, owner), op)
	})
}

// onCard reports whether cert is one Lanyard wrote to card that a clear
// deletes: a managed certificate written to it, or, on a revoked card,
// one revoked with it (Revoke card revokes the certificates and leaves
// them on the card until it is connected).
func onCard(card *lanyard.Card, c *lanyard.Certificate) bool {
	if c.Source != lanyard.SourceManaged {
		return false
	}
	return c.Status == lanyard.CertWritten || card.State == lanyard.CardRevoked && c.Status == lanyard.CertRevoked && c.Slot != ""
}

// ClearInput names the connected card to revoke and clear; AdminPIN is
// the Admin PIN (PUK) chosen at an issue before Lanyard gave cards their
// own PUK (PUK state unknown); other cards need none. Initialize wipes
// the whole card instead (wipe.go), for a card type that supports
// initialization; it needs no Admin PIN.
type ClearInput struct {
	CardTarget
	AdminPIN   string
	Initialize bool
}

// authenticateCard opens a management session with the key the server
// recorded for the card: its diversified key (only once the card proved
// to be the one recorded), or the card type's default (else the factory
// key) for a card never taken over.
func (s *Cards) authenticateCard(ctx context.Context, cc *cardConn, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets, card *lanyard.Card) (*piv.Admin, error) {
	if card.AdminKeyVersion > 0 {
		return s.derivedAdmin(ctx, cc.pc, ct, card, cc.id)
	}
	return personalize.AuthenticateStatic(ctx, cc.pc, personalize.TypeKeys(ct, secrets).Admin)
}

// derivedAdmin opens a management session with card's diversified key
// (AdminKeyVersion > 0), once the card in the reader (read as id) proved
// to be the one recorded (personalize.KeyIdent,
// personalize.AuthenticateDerived). The master secret is unsealed here.
func (s *Cards) derivedAdmin(ctx context.Context, pc *piv.Card, ct *lanyard.CardType, card *lanyard.Card, id personalize.Identity) (*piv.Admin, error) {
	ident, err := personalize.KeyIdent(ctx, pc, card, id)
	if err != nil {
		return nil, err
	}
	m, err := s.adminMaster(ctx, card.AdminKeyVersion)
	if err != nil {
		return nil, err
	}
	return personalize.AuthenticateDerived(ctx, pc, ct.AdminKey, m, ident)
}

// cardProven reports whether the card in a reader of workstation wsID,
// read as id, may be sent card's PUK (or a new one). A card with a
// diversified management key must prove it holds it (derivedAdmin): a
// programmable card or a modified agent can answer with anyone's serial
// and CHUID, but not with their key. A card without one (its card type
// keeps a static management key, which any card accepts) is trusted only
// in its owner's own workstation or, an AirCard, at the AirCard service
// hosting it; elsewhere it is not proven (false, no error).
func (s *Cards) cardProven(ctx context.Context, pc *piv.Card, wsID int64, ct *lanyard.CardType, card *lanyard.Card, id personalize.Identity) (bool, error) {
	if err := personalize.CheckPUKHolder(card, id); err != nil {
		return false, err
	}
	if card.AdminKeyVersion > 0 {
		_, err := s.derivedAdmin(ctx, pc, ct, card, id)
		return err == nil, err
	}
	// The hub's record of the connected workstation (its owner and role
	// come from its pairing, not from what the agent says).
	access := s.cardAccess()
	if access == nil {
		return false, nil
	}
	ws, ok := access.WorkstationState(wsID)
	if !ok {
		return false, nil
	}
	switch {
	case ws.OwnerID != 0 && ws.OwnerID == card.OwnerID:
		return true, nil
	case ct.Kind == lanyard.KindAirCard && ws.Role == lanyard.RoleAirCardService && card.WorkstationID == ws.ID:
		return true, nil
	}
	return false, nil
}
