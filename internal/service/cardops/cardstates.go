package cardops

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card state operations that need no card in a reader
// (docs/lifecycle.md): Disable, Enable, Revoke with a reason and
// Withdraw. Each checks cardperm with the card owner's policy, then
// changes the card and its certificates in one transaction with one
// audit event; the CRLs concerned are re-signed in that transaction, so
// the CRL served and the OCSP answers follow from the commit on.

// RevokeCardInput is Revoke card's answer: the reason, and a comment for
// the audit log.
type RevokeCardInput struct {
	Reason  lanyard.CardRevocationReason
	Comment string
}

// WithdrawCardInput says where a withdrawn card goes: "stock" (clean, no
// owner; the default) or "owner" (clean, still its owner's, for a new
// issue).
type WithdrawCardInput struct {
	To string
}

// Where Withdraw sends a card.
const (
	WithdrawToStock = "stock"
	WithdrawToOwner = "owner"
)

// cardChange is one state operation's work inside its transaction: it
// changes card (locked, read in the transaction) and returns what the
// audit event says beyond the card's serial.
type cardChange func(tx lanyard.Tx, card *lanyard.Card) (map[string]any, error)

// DisableCard takes an issued card out of use for a while: the card
// becomes disabled, and each of its certificates whose template says
// "Put certificate on hold when the card is disabled" goes on hold (RFC
// 5280 certificateHold). Audit event card.disable.
func (s *Cards) DisableCard(ctx context.Context, p *lanyard.Principal, cardID int64) (*CardView, error) {
	return s.changeState(ctx, p, cardID, cardperm.Disable, "card.disable", nil, func(tx lanyard.Tx, card *lanyard.Card) (map[string]any, error) {
		held, err := s.holdCertificates(ctx, tx, card, true)
		if err != nil {
			return nil, err
		}
		card.State = lanyard.CardDisabled
		return map[string]any{"held": held}, nil
	})
}

// EnableCard puts a disabled card back in use: the card is issued again
// and its certificates on hold come off hold (they leave the CRL it
// signs in the same transaction; OCSP answers good). A certificate
// revoked for good stays revoked. Audit event card.enable.
func (s *Cards) EnableCard(ctx context.Context, p *lanyard.Principal, cardID int64) (*CardView, error) {
	return s.changeState(ctx, p, cardID, cardperm.Enable, "card.enable", nil, func(tx lanyard.Tx, card *lanyard.Card) (map[string]any, error) {
		released, err := s.holdCertificates(ctx, tx, card, false)
		if err != nil {
			return nil, err
		}
		card.State = lanyard.CardIssued
		return map[string]any{"released": released}, nil
	})
}

// RevokeCard takes a card out of use for good, with the card absent: the
// card becomes revoked with the reason recorded; every certificate
// Lanyard issued for it is revoked with the reason's RFC 5280 reason
// (CardRevocationReason.CertReason), those on hold included; the pending
// CA requests of its issues are withdrawn and its unfinished operations
// fail (retireCard, shared with Revoke and clear); the copies of its
// random PIN kept to be shown or mailed once are erased. Its content is
// removed later with Clear, when the card is connected. Audit event
// card.revoke.
func (s *Cards) RevokeCard(ctx context.Context, p *lanyard.Principal, cardID int64, in RevokeCardInput) (*CardView, error) {
	var reason lanyard.CardRevocationReason
	valid := func() (err error) {
		if reason, err = lanyard.ParseCardRevocationReason(string(in.Reason)); err != nil {
			return err
		}
		if len(in.Comment) > 500 {
			return lanyard.Errorf(lanyard.EInvalid, "a comment is at most 500 characters")
		}
		return nil
	}
	return s.changeState(ctx, p, cardID, cardperm.Revoke, "card.revoke", valid, func(tx lanyard.Tx, card *lanyard.Card) (map[string]any, error) {
		details, err := s.revokeInTx(ctx, tx, p, card, reason, "the card was revoked ("+string(reason)+")")
		if err != nil {
			return nil, err
		}
		details["reason"] = string(reason)
		if in.Comment != "" {
			details["comment"] = in.Comment
		}
		return details, nil
	})
}

// revokeInTx revokes card in tx (its lock held) for reason: its
// certificates and pending requests end (retireCard, why for its
// unfinished operations), the copies of its random PIN are erased, and
// card becomes revoked with the reason (the caller writes it). It returns
// what the audit event says of it. Revoke card, a permanent replacement
// and a temporary replacement's resolution end a card this way.
func (s *Cards) revokeInTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, card *lanyard.Card, reason lanyard.CardRevocationReason, why string) (map[string]any, error) {
	revoked, err := s.retireCard(ctx, tx, p, card, reason.CertReason(), 0, why)
	if err != nil {
		return nil, err
	}
	held, err := tx.DeleteCardHeldPINs(card.ID)
	if err != nil {
		return nil, err
	}
	card.State, card.RevocationReason = lanyard.CardRevoked, reason
	return map[string]any{"certificate_reason": reason.CertReason().String(), "revoked": revoked, "held_pins_erased": held}, nil
}

// WithdrawCard returns a revoked card that holds nothing of Lanyard's
// (cleared since its certificates were written, or never written) to
// stock (clean, no owner) or to its owner for a new issue (clean, owner
// kept). A card still holding certificates Lanyard wrote is refused:
// clear it first. A clean card kept for its owner is withdrawn to stock
// the same way: until then no one else is issued it. Audit event
// card.withdraw.
func (s *Cards) WithdrawCard(ctx context.Context, p *lanyard.Principal, cardID int64, in WithdrawCardInput) (*CardView, error) {
	to := in.To
	if to == "" {
		to = WithdrawToStock
	}
	valid := func() error {
		if to != WithdrawToStock && to != WithdrawToOwner {
			return lanyard.Errorf(lanyard.EInvalid, "withdraw to %q: use stock or owner", in.To)
		}
		return nil
	}
	return s.changeState(ctx, p, cardID, cardperm.Withdraw, "card.withdraw", valid, func(tx lanyard.Tx, card *lanyard.Card) (map[string]any, error) {
		content, err := holdsContent(tx, card.ID)
		if err != nil {
			return nil, err
		}
		if content {
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s still holds the certificates Lanyard wrote to it: clear it first (connect it and choose Clear)", card.Serial)
		}
		if to == WithdrawToOwner && card.OwnerID == 0 {
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no owner to keep it; withdraw it to stock", card.Serial)
		}
		if to == WithdrawToOwner && card.State == lanyard.CardClean {
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s is already kept for its owner", card.Serial)
		}
		details := map[string]any{"to": to, "reason_was": string(card.RevocationReason)}
		// Back to stock or a new issue: a release by an offline unblock
		// is not followed up (its escrow is refused), the issue gives the
		// card a new PUK.
		card.State, card.RevocationReason, card.IssuedAt, card.PUKReleasedAt = lanyard.CardClean, "", time.Time{}, time.Time{}
		if to == WithdrawToStock {
			details["owner_was"] = card.OwnerID
			card.OwnerID, card.Name = 0, ""
		}
		// A withdrawn card starts afresh: the replacements it took part
		// in no longer bind it (docs/lifecycle.md, "Replace").
		ended, err := s.endReplacements(tx, card.ID)
		if len(ended) > 0 {
			details["replacements_ended"] = ended
		}
		return details, err
	})
}

// changeState runs a card state operation: in one transaction it locks
// and reads the card, lets only its owner and card staff see it, checks
// the input with valid (if any: a stranger to the card learns nothing
// from it), checks op with cardperm against the owner's policy (the
// error cardperm gives is what the caller sees), applies change and
// records the card with one audit event named action. The card's owner
// is notified after the commit (notifyCardState), and so are the agents
// of the computers an AirCard is connected to (notifyAirCards): a
// disabled or revoked AirCard leaves their readers, an enabled one comes
// back (Workstations.AirCardsFor lists only usable ones).
func (s *Cards) changeState(ctx context.Context, p *lanyard.Principal, cardID int64, op cardperm.Op, action string, valid func() error,
	change cardChange) (*CardView, error) {
	var card *lanyard.Card
	var owner *lanyard.User
	var pol *lanyard.Policy
	var details map[string]any
	var was lanyard.CardState
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		d := map[string]any{"serial": card.Serial, "from": string(was), "to": string(card.State)}
		for k, v := range details {
			d[k] = v
		}
		return s.rec.Event(p, action, "card", strconv.FormatInt(card.ID, 10), d)
	}, func(tx lanyard.Tx) (err error) {
		if err := tx.LockCard(cardID); err != nil {
			return err
		}
		if card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if valid != nil {
			if err := valid(); err != nil {
				return err
			}
		}
		if owner, pol, err = s.ownerPolicy(tx, card); err != nil {
			return err
		}
		pc, err := permCardTx(tx, card, owner)
		if err != nil {
			return err
		}
		if err := cardperm.Check(cardperm.ActorOf(p), workflowOf(pol), pc, op); err != nil {
			return err
		}
		was = card.State
		if details, err = change(tx, card); err != nil {
			return err
		}
		card.UpdatedAt = s.rec.Clock()
		if err := notifyAirCards(tx, card.ID); err != nil {
			return err
		}
		return tx.UpdateCard(card)
	})
	if err != nil {
		return nil, err
	}
	s.notifyCardState(ctx, p, action, owner, pol, card)
	return s.viewFor(ctx, p, card)
}

// viewFor is card with its contents and the operations p may start on it
// now, as an operation on it answers.
func (s *Cards) viewFor(ctx context.Context, p *lanyard.Principal, card *lanyard.Card) (*CardView, error) {
	var out *CardView
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if out, err = s.cardView(tx, card, true); err == nil {
			err = s.addAllowed(tx, p, out)
		}
		return err
	})
	return out, err
}

// notifyAirCards tells the agents of the workstations allowed to use
// AirCard cardID (none for any other card) to read their AirCards again,
// with a change notice in tx: sent when, and only if, the change to the
// card commits, and heard by whichever replica holds each agent
// (workstations.Workstations.Follow; docs/architecture.md, "Change
// notices").
func notifyAirCards(tx lanyard.Tx, cardID int64) error {
	list, err := tx.AirCardComputers(cardID)
	if err != nil {
		return err
	}
	ids := make([]int64, len(list))
	for i, c := range list {
		ids[i] = c.WorkstationID
	}
	return lanyard.NotifyIDs(tx, lanyard.NoticeAirCards, ids...)
}

// ownerPolicy returns card's owner and the owner's policy, which decides
// what may be done to the card (cardperm). A card in stock (no owner),
// or one whose owner no policy applies to, has none: then only what
// staff may do to any card applies.
func (s *Cards) ownerPolicy(tx lanyard.Tx, card *lanyard.Card) (*lanyard.User, *lanyard.Policy, error) {
	if card.OwnerID == 0 {
		return nil, nil, nil
	}
	owner, err := tx.UserByID(card.OwnerID)
	if err != nil {
		return nil, nil, err
	}
	pol, err := s.catalog.PolicyFor(tx, owner)
	if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, err
	}
	return owner, pol, nil
}

// workflowOf is pol's workflow settings, none without a policy.
func workflowOf(pol *lanyard.Policy) lanyard.WorkflowSettings {
	if pol == nil {
		return lanyard.WorkflowSettings{}
	}
	return pol.Settings.Workflow
}

// permCard is what cardperm needs of card and its owner (nil: none).
func permCard(card *lanyard.Card, owner *lanyard.User) cardperm.Card {
	c := cardperm.Card{State: card.State, OwnerID: card.OwnerID}
	if owner != nil {
		c.OwnerRoles = owner.Roles
	}
	return c
}

// addAllowed fills v.AllowedOperations with what p may start on v's
// card (docs/lifecycle.md, "Who may do what").
func (s *Cards) addAllowed(tx lanyard.Tx, p *lanyard.Principal, v *CardView) error {
	owner, pol, err := s.ownerPolicy(tx, v.Card)
	if err != nil {
		return err
	}
	pc, err := permCardTx(tx, v.Card, owner)
	if err != nil {
		return err
	}
	if pc.RetiredSlots, err = retiredSlotsTx(tx, v.Card); err != nil {
		return err
	}
	v.AllowedOperations = cardperm.Allowed(cardperm.ActorOf(p), workflowOf(pol), pc).Ops
	return nil
}

// retiredSlotsTx reports whether card has retired key management slots
// (cardperm.Card.RetiredSlots): every kind but a software store
// (holdsRetiredKeys). A card type since deleted
// has none Lanyard knows of.
func retiredSlotsTx(tx lanyard.Tx, card *lanyard.Card) (bool, error) {
	ct, err := tx.CardTypeByName(card.CardType)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return false, nil
	}
	return err == nil && holdsRetiredKeys(ct.Kind), err
}

// holdCertificates puts on hold (hold) or takes off hold the managed
// certificates of card whose template says RevokeOnDisable; on release
// every held certificate of the card comes off hold, whatever its
// template says now (the template may have changed while the card was
// disabled). It returns the serials changed.
func (s *Cards) holdCertificates(ctx context.Context, tx lanyard.Tx, card *lanyard.Card, hold bool) ([]string, error) {
	certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: card.ID})
	if err != nil {
		return nil, err
	}
	flagged := map[string]bool{}
	if hold {
		for _, c := range certs {
			if _, seen := flagged[c.Template]; seen || c.Source != lanyard.SourceManaged {
				continue
			}
			t, err := s.catalog.Template(tx, c.Template)
			if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
				return nil, err
			}
			flagged[c.Template] = t != nil && t.RevokeOnDisable
		}
	}
	return s.pki.HoldCertificates(ctx, tx, certs, hold, func(c *lanyard.Certificate) bool {
		if !hold {
			return true
		}
		switch c.Status {
		case lanyard.CertValid, lanyard.CertWritten:
			return c.Source == lanyard.SourceManaged && flagged[c.Template]
		}
		return false
	})
}

// retireCard ends what Lanyard issued for card, in tx: its managed
// certificates (valid, approved or written, on hold or not) are revoked
// with reason, the pending CA requests of all its issues are withdrawn
// (no request for a key on this card may be approved later), and its
// unfinished operations other than keep fail with why. Revoke card and
// Revoke and clear both end a card's content this way. The caller holds
// the card's lock (tx.LockCard) and takes the card before its
// certificates, as ApproveRequest and DecideDocument do.
func (s *Cards) retireCard(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, card *lanyard.Card, reason lanyard.RevocationReason,
	keep int64, why string) ([]string, error) {
	certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: card.ID})
	if err != nil {
		return nil, err
	}
	revoked, err := s.pki.RevokeCertificatesFor(ctx, tx, certs, reason, func(c *lanyard.Certificate) bool {
		switch c.Status {
		case lanyard.CertValid, lanyard.CertApproved, lanyard.CertWritten:
			return c.Source == lanyard.SourceManaged
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	issues, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Kind: lanyard.OpIssue})
	if err != nil {
		return nil, err
	}
	// An update's requests wait like an issue's.
	updates, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Kind: lanyard.OpUpdate, Unfinished: true})
	if err != nil {
		return nil, err
	}
	for _, op := range append(issues, updates...) {
		var d issueData
		if json.Unmarshal(op.Data, &d) == nil {
			if err := s.withdrawRequests(tx, p, &d, why); err != nil {
				return nil, err
			}
		}
	}
	unfinished, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Unfinished: true})
	if err != nil {
		return nil, err
	}
	for _, op := range unfinished {
		if op.ID == keep {
			continue
		}
		prev := op.UpdatedAt
		op.State, op.Error, op.UpdatedAt = lanyard.OpFailed, why, s.rec.Clock()
		if err := tx.UpdateOperation(op, prev); err != nil {
			return nil, err
		}
	}
	return revoked, nil
}

// holdsContent reports whether card still holds certificates Lanyard
// wrote to it: an issue wrote one after the last completed clear. (A
// clear deletes every certificate Lanyard wrote; keys and the card's own
// PUK stay, and the next issue replaces them.)
func holdsContent(tx lanyard.Tx, cardID int64) (bool, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID})
	if err != nil {
		return false, err
	}
	// Newest first: the first clear done ends the search.
	for _, op := range ops {
		switch op.Kind {
		case lanyard.OpClear:
			if op.State == lanyard.OpDone {
				return false, nil
			}
		case lanyard.OpIssue, lanyard.OpUpdate:
			var d issueData
			if err := json.Unmarshal(op.Data, &d); err != nil {
				return true, nil // unreadable: assume the worst
			}
			for _, written := range d.Written {
				if written {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// stateNotices names the notification of each state operation; the
// others (withdraw) send none.
var stateNotices = map[string]string{"card.disable": "disabled", "card.enable": "enabled", "card.revoke": "revoked",
	"card.pin.reset": "pin_reset", "card.offline_unblock": "offline_unblock"}

// ownerRecipients are the addresses of the card state notifications to
// owner under policy pol: the owner's when the policy asks to notify the
// user, the manager's in copy when it asks for that; none without a
// policy.
func ownerRecipients(owner *lanyard.User, pol *lanyard.Policy) []string {
	if owner == nil || pol == nil {
		return nil
	}
	var to []string
	if pol.Settings.Notifications.NotifyUser && owner.Email != "" {
		to = append(to, owner.Email)
	}
	if pol.Settings.Notifications.NotifyManager && owner.ManagerEmail != "" {
		to = append(to, owner.ManagerEmail)
	}
	return to
}

// notifyCardState tells the card's owner that action changed the card,
// when the owner's policy asks for user notifications (Notifications →
// notify user) and the owner has an address, with their manager in copy
// when the policy asks for that too. A mail that cannot be queued is
// logged: the state change stands.
func (s *Cards) notifyCardState(ctx context.Context, p *lanyard.Principal, action string, owner *lanyard.User, pol *lanyard.Policy, card *lanyard.Card) {
	kind, ok := stateNotices[action]
	if !ok {
		return
	}
	s.sendCardState(ctx, owner, pol, CardStateEvent{Kind: kind, User: owner, Card: card, Reason: string(card.RevocationReason), By: p.User.Login})
}

// sendCardState queues ev for the card's owner, and their manager in copy,
// as the owner's policy says (ownerRecipients).
func (s *Cards) sendCardState(ctx context.Context, owner *lanyard.User, pol *lanyard.Policy, ev CardStateEvent) {
	to := ownerRecipients(owner, pol)
	if s.notifier == nil || len(to) == 0 {
		return
	}
	if err := s.notifier.CardState(context.WithoutCancel(ctx), to, ev); err != nil {
		s.log.Error("queueing the card state notification failed", "kind", ev.Kind, "card", ev.Card.ID, "err", err)
	}
}
