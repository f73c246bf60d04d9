package cardops

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Replace card (docs/lifecycle.md, "Replace"). A permanent replacement
// revokes the old card with the reason given and issues a new card to
// its owner under the owner's current policy; a temporary one disables
// the original and issues a temporary card with the policy's shorter
// validity, until the original is found (ResolveReplacement). The new
// card is issued by Issue card's own code (issueCard): the old card's
// change and the link between the cards (lanyard.CardReplacement) are
// written in the transaction that starts the new card's issue, with one
// audit event, card.replace. If the new card's issue then stops or waits
// (approvals, documents), the old card stays revoked or disabled and the
// link pending; Continue card issue finishes it and makes it active.

// ReplaceCardInput is the Replace card dialog's answer.
type ReplaceCardInput struct {
	// Kind is permanent (the default) or temporary.
	Kind lanyard.ReplacementKind
	// Reason is why the card is replaced: lost, compromised or damaged.
	// A permanent replacement revokes the old card with it (lost and
	// compromised revoke every certificate as keyCompromise); a
	// temporary one records it (default lost) and the original is
	// revoked with it if it is not found.
	Reason  lanyard.CardRevocationReason
	Comment string
	// CardTarget is the new card, in a reader of a workstation. Its User
	// is ignored: the new card is the old card's owner's.
	CardTarget
	// AirCard: the new card is an AirCard made for the owner (when the
	// policy allows AirCards), bound to WorkstationID; Reader is ignored.
	AirCard bool
	// Templates: for a temporary card, the policy's templates it gets
	// (default: the required ones); for a permanent one, the optional
	// templates (default: those of the old card the policy still
	// offers).
	Templates []string
	UserPIN   string
	AdminPIN  string
	Name      string
	// Recovery is the authority to put the owner's earlier archived keys
	// on the new card (IssueCardInput.Recovery); without it it gets none.
	Recovery *HistoryAuthority
}

// ReplaceCardResult reports a replacement: the new card's issue, the old
// card as it is now, and the link.
type ReplaceCardResult struct {
	*IssueCardResult
	Old         *CardView
	Replacement *lanyard.CardReplacement
}

// ResolveReplacementInput says whether the original of a temporary
// replacement was found.
type ResolveReplacementInput struct {
	Found bool
}

// ResolveReplacementResult is both cards after the resolution, and the
// link.
type ResolveReplacementResult struct {
	Original    *CardView
	Temporary   *CardView
	Replacement *lanyard.CardReplacement
}

// replaceReasons are the reasons a card is replaced for; superseded and
// withdrawn are what a replacement does, not why.
var replaceReasons = []lanyard.CardRevocationReason{lanyard.CardLost, lanyard.CardCompromised, lanyard.CardDamaged}

// replaceStart is a replacement under way: what issueCard asks of it, and
// the old card's change in the transaction that starts the new card's
// issue.
type replaceStart struct {
	s       *Cards
	ctx     context.Context
	p       *lanyard.Principal
	in      ReplaceCardInput
	op      cardperm.Op
	old     lanyard.Card // as the check read it
	oldTpls []string     // the old card's templates, from its last issue
	link    *lanyard.CardReplacement
	details map[string]any // what the old card's change did, for the event
	// grant is the checked authority for the owner's earlier keys (nil:
	// none), checked before the new card is touched.
	grant *historyGrant
	// started is set once the transaction that changes the old card and
	// records the link committed (startIssue): only then is the card
	// replaced, and its owner told.
	started bool
}

// ReplaceCard replaces card cardID (see the top of this file). The caller
// needs cardperm's Replace (permanent) or ReplaceTemporary (temporary) on
// the old card, with its owner's policy. Refused, with nothing changed:
// a card not issued, disabled or revoked (a revoked card only for good,
// and once), one a temporary replacement stands in for or that is
// itself temporary, the old card as its own
// replacement, a new card issued or assigned to someone else or kept
// for them (withdrawn to its owner). A disabled card gets a temporary
// replacement from its owner only when the policy also lets them enable
// it (cardperm). A temporary card whose certificates wait for a CA
// manager's approval is not refused: its issue waits like any other, and
// the approved certificates get the temporary validity too.
func (s *Cards) ReplaceCard(ctx context.Context, p *lanyard.Principal, cardID int64, in ReplaceCardInput) (*ReplaceCardResult, error) {
	rs, owner, err := s.checkReplace(ctx, p, cardID, &in)
	if err != nil {
		return nil, err
	}
	// In a cluster, the new card's session is made where its agent is
	// connected: a request arriving elsewhere goes there before the
	// step-up spends a code or an AirCard is made (docs/architecture.md,
	// "Cluster").
	air, err := s.replaceHere(p, in)
	if err != nil {
		return nil, err
	}
	if rs.grant, err = s.checkHistoryAuthority(ctx, p, owner, in.Recovery); err != nil {
		return nil, err
	}
	target := in.CardTarget
	target.User = owner.Login
	var made *ConnectedCard // the new AirCard, once made
	if in.AirCard {
		// At the service chosen above, not one chosen again: the
		// request is at that service's replica.
		cc, err := s.createVirtualCard(ctx, p, CreateVirtualInput{WorkstationID: in.WorkstationID, Kind: lanyard.KindAirCard, User: owner.Login, Name: in.Name}, air)
		if err != nil {
			return nil, err
		}
		made = cc
		target.WorkstationID, target.Reader = cc.WorkstationID, cc.Reader
	}
	res, err := s.issueCard(ctx, p, IssueCardInput{CardTarget: target, UserPIN: in.UserPIN, AdminPIN: in.AdminPIN, Name: in.Name}, rs)
	if made != nil && err != nil {
		// The AirCard exists at this replica's service: the service's
		// agent having moved to another replica meanwhile must not
		// forward the whole Replace card there (web's forwardElsewhere),
		// which would make a second AirCard. The caller tries again.
		var elsewhere *lanyard.ElsewhereError
		if errors.As(err, &elsewhere) {
			err = lanyard.Errorf(lanyard.EUnavailable, "the AirCard service moved to another server of the cluster while the new AirCard was made")
		}
		if !rs.started {
			// The new AirCard stays, registered, clean and the owner's,
			// as a virtual card whose first issue failed does: removing
			// it at the service would leave its card row pointing at
			// nothing (cards are never deleted). Say which it is, so
			// that it is issued rather than another one made.
			err = lanyard.Wrap(lanyard.ErrorCode(err), nil, "the new AirCard "+made.Serial+" was made but the replacement did not start ("+
				lanyard.ErrorMessage(err)+"); try again, or issue AirCard "+made.Serial+" and replace the card with it")
		}
	}
	if !rs.started {
		return nil, err // refused, or its transaction failed: nothing changed but the AirCard made
	}
	// The old card changed and the link is recorded: the owner is told
	// even when the new card's issue stopped (it continues later).
	s.notifyReplaced(ctx, p, rs)
	if err != nil {
		// Say that the old card changed: the caller continues the new
		// card's issue, they do not replace the card again.
		// Not forwardable either: the replacement is done here.
		cause := err
		if errors.As(err, new(*lanyard.ElsewhereError)) {
			cause = nil
		}
		return nil, lanyard.Wrap(lanyard.ErrorCode(err), cause, "card "+rs.old.Serial+" is "+string(rs.old.State)+" and replaced (pending) by the new card, whose issue stopped: "+lanyard.ErrorMessage(err))
	}
	out := &ReplaceCardResult{IssueCardResult: res}
	// The issue result's view was read before the link was active: both
	// cards are read again.
	views, err := s.viewsOf(ctx, p, cardID, res.Card.ID)
	if err != nil {
		return nil, err
	}
	out.Old, out.Card = views[0], views[1]
	if out.Card.Replaces != nil {
		out.Replacement = out.Card.Replaces.CardReplacement
	}
	return out, nil
}

// replaceHere answers *lanyard.ElsewhereError when the new card is
// reached through another replica of the cluster: the card in the named
// reader, or for a new AirCard the AirCard service it will be made at,
// which it returns (chosen once: the AirCard is made there and nowhere
// else). No AirCard service connected anywhere is refused here, before
// a step-up code is spent.
func (s *Cards) replaceHere(p *lanyard.Principal, in ReplaceCardInput) (*lanyard.WorkstationState, error) {
	if !in.AirCard {
		return nil, s.elsewhere(in.CardTarget, nil)
	}
	ca := s.cardAccess()
	if ca == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	// The workstation the AirCard is bound to, checked as
	// createVirtualCard checks it, but before the step-up is spent.
	if ws, ok := ca.WorkstationState(in.WorkstationID); !ok || (ws.OwnerID != p.User.ID && !isCardStaff(p)) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d is not connected or not yours", in.WorkstationID)
	}
	host, ok := airCardService(ca)
	if !ok {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service is not connected; ask your administrator")
	}
	if host.Replica != "" {
		return nil, &lanyard.ElsewhereError{WorkstationID: host.ID, Replica: host.Replica}
	}
	return &host, nil
}

// viewsOf reads the cards ids as p sees them now, with their allowed
// operations, in one read transaction.
func (s *Cards) viewsOf(ctx context.Context, p *lanyard.Principal, ids ...int64) ([]*CardView, error) {
	out := make([]*CardView, len(ids))
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		for i, id := range ids {
			c, err := tx.CardByID(id)
			if err != nil {
				return err
			}
			if out[i], err = s.cardView(tx, c, false); err != nil {
				return err
			}
			if err := s.addAllowed(tx, p, out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// checkReplace checks in and the old card before any card is touched, and
// returns the replacement to start and the old card's owner.
func (s *Cards) checkReplace(ctx context.Context, p *lanyard.Principal, cardID int64, in *ReplaceCardInput) (*replaceStart, *lanyard.User, error) {
	rs := &replaceStart{s: s, ctx: ctx, p: p, op: cardperm.Replace}
	if in.Kind == "" {
		in.Kind = lanyard.ReplacePermanent
	}
	if in.Kind == lanyard.ReplaceTemporary {
		rs.op = cardperm.ReplaceTemporary
		if in.Reason == "" {
			in.Reason = lanyard.CardLost
		}
	}
	valid := func() error {
		if !in.Kind.Valid() {
			return lanyard.Errorf(lanyard.EInvalid, "replacement kind %q: use permanent or temporary", in.Kind)
		}
		if !slices.Contains(replaceReasons, in.Reason) {
			return lanyard.Errorf(lanyard.EInvalid, "replacement reason %q: use lost, compromised or damaged", in.Reason)
		}
		if len(in.Comment) > 500 {
			return lanyard.Errorf(lanyard.EInvalid, "a comment is at most 500 characters")
		}
		if in.AirCard && in.WorkstationID == 0 {
			return lanyard.Errorf(lanyard.EInvalid, "an AirCard is bound to a workstation: name it")
		}
		if !in.AirCard && (in.WorkstationID == 0 || in.Reader == "") {
			return lanyard.Errorf(lanyard.EInvalid, "name the new card: a workstation and the reader it is in (or an AirCard)")
		}
		return nil
	}
	var owner *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		card, o, err := s.replaceable(tx, p, cardID, rs.op, valid)
		if err != nil {
			return err
		}
		owner, rs.old = o, *card
		rs.oldTpls, err = issuedTemplates(tx, card.ID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	rs.in = *in
	return rs, owner, nil
}

// replaceable reads card cardID in tx and checks that p may start op on it
// (ReplaceCard, and again in the transaction that starts it): only its
// owner and card staff see it; valid checks the input first, so that a
// stranger to the card learns nothing from it.
func (s *Cards) replaceable(tx lanyard.Tx, p *lanyard.Principal, cardID int64, op cardperm.Op, valid func() error) (*lanyard.Card, *lanyard.User, error) {
	card, err := tx.CardByID(cardID)
	if err != nil {
		return nil, nil, err
	}
	if card.OwnerID != p.User.ID && !isCardStaff(p) {
		return nil, nil, lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
	}
	if valid != nil {
		if err := valid(); err != nil {
			return nil, nil, err
		}
	}
	owner, pol, err := s.ownerPolicy(tx, card)
	if err != nil {
		return nil, nil, err
	}
	if owner == nil {
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "card %s has no owner to replace it for", card.Serial)
	}
	pc, err := permCardTx(tx, card, owner)
	if err != nil {
		return nil, nil, err
	}
	if err := cardperm.Check(cardperm.ActorOf(p), workflowOf(pol), pc, op); err != nil {
		return nil, nil, err
	}
	return card, owner, nil
}

// issuedTemplates are the templates of card's last issue that finished.
func issuedTemplates(tx lanyard.Tx, cardID int64) ([]string, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpIssue})
	if err != nil {
		return nil, err
	}
	for _, op := range ops { // newest first
		var d issueData
		if op.State == lanyard.OpDone && unmarshalIssue(op, &d) == nil {
			return planTemplates(&d.Plan), nil
		}
	}
	return nil, nil
}

// loaded checks the new card as Issue card read it: not the old card, and
// not someone else's, nor kept for someone else (issuance.OtherOwner, as
// Offer refuses it). The old card no longer counts against the owner's
// maximum cards when it counted (oldCounted); startIssue checks the
// maximum again, locked, with the same rule.
func (rs *replaceStart) loaded(j *issueJob, in *issuance.Input) error {
	if j.card != nil {
		if j.card.ID == rs.old.ID {
			return lanyard.Errorf(lanyard.EInvalid, "card %s cannot replace itself; put the new card in the reader", j.card.Serial)
		}
		if err := issuance.OtherOwner(j.card, rs.old.OwnerID); err != nil {
			return err
		}
	}
	if in.OwnedCards > 0 && rs.oldCounted() {
		in.OwnedCards--
	}
	j.replace = rs
	return nil
}

// oldCounted reports whether the old card counts among its owner's cards
// (tx.CountCards counts every card not revoked): an issued or disabled
// card does, and the replacement takes its place; a card revoked before
// (replaced for good afterwards) does not, and the new card is one more.
func (rs *replaceStart) oldCounted() bool { return rs.old.State != lanyard.CardRevoked }

// optional picks the new card's optional templates among those the policy
// offers (o): a temporary card's chosen ones; a permanent card's chosen
// ones, or by default the old card's that are still offered. A name the
// policy offers neither as required nor as optional is refused.
func (rs *replaceStart) optional(o *issuance.Options) ([]string, error) {
	offered := map[string]bool{}
	for _, t := range o.Required {
		offered[t.Name] = true
	}
	var out []string
	for _, t := range o.Optional {
		offered[t.Name] = true
		if rs.in.Templates == nil && rs.in.Kind == lanyard.ReplacePermanent && o.OptionalSelectable && slices.Contains(rs.oldTpls, t.Name) {
			out = append(out, t.Name)
		}
	}
	if rs.in.Templates == nil {
		return out, nil
	}
	for _, name := range rs.in.Templates {
		if !offered[name] {
			return nil, lanyard.Errorf(lanyard.EInvalid, "template %q is not among the owner's policy's templates", name)
		}
		if !slices.ContainsFunc(o.Required, func(t issuance.TemplateInfo) bool { return t.Name == name }) {
			out = append(out, name)
		}
	}
	return out, nil
}

// planned narrows a temporary card's plan to the chosen templates and
// bounds its certificates' validity by the policy's temporary card
// validity: those issued at once (issueSteps) and those a CA manager
// approves later (RequestHook.MaxValidityDays).
func (rs *replaceStart) planned(j *issueJob, in *issuance.Input) error {
	if rs.in.Kind != lanyard.ReplaceTemporary {
		return nil
	}
	if rs.in.Templates != nil {
		j.data.Plan.Slots = slices.DeleteFunc(j.data.Plan.Slots, func(sl issuance.SlotPlan) bool { return !slices.Contains(rs.in.Templates, sl.Template) })
		j.plan.Slots = j.data.Plan.Slots
	}
	if len(j.data.Plan.Slots) == 0 {
		return lanyard.Errorf(lanyard.EInvalid, "a temporary card needs at least one certificate: choose a template")
	}
	j.data.MaxValidityDays = in.Settings.Workflow.TemporaryValidity()
	return nil
}

// begin makes the new card's issue start the replacement: its Then
// changes the old card and records the link, and its event is
// card.replace (with the issue's start in it).
func (rs *replaceStart) begin(b *operation.Begin) {
	issueEvent := b.Event
	b.Then = rs.then
	b.Event = func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
		start := issueEvent(c, op)
		d := map[string]any{"serial": rs.old.Serial, "kind": string(rs.in.Kind), "reason": string(rs.in.Reason),
			"new_card": c.ID, "new_serial": c.Serial, "issue": start.Details, "replacement": rs.link.ID}
		for k, v := range rs.details {
			d[k] = v
		}
		if rs.in.Comment != "" {
			d["comment"] = rs.in.Comment
		}
		return rs.s.rec.Event(rs.p, "card.replace", "card", strconv.FormatInt(rs.old.ID, 10), d)
	}
}

// then changes the old card in the transaction that starts the new card's
// issue, after checking again what checkReplace read: a permanent
// replacement revokes it with the reason (as Revoke card does), a
// temporary one disables it (as Disable card does; a card already
// disabled stays so, its certificates as they are). The link is recorded
// pending.
func (rs *replaceStart) then(tx lanyard.Tx, newCard *lanyard.Card) error {
	s := rs.s
	if err := tx.LockCard(rs.old.ID); err != nil {
		return err
	}
	old, _, err := s.replaceable(tx, rs.p, rs.old.ID, rs.op, nil)
	if err != nil {
		return err
	}
	if !old.UpdatedAt.Equal(rs.old.UpdatedAt) || old.State != rs.old.State {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed while the replacement was prepared; look at it and try again", old.Serial)
	}
	was := old.State
	if err = notifyAirCards(tx, old.ID); err != nil {
		return err
	}
	switch rs.in.Kind {
	case lanyard.ReplacePermanent:
		if old.State == lanyard.CardRevoked {
			// Revoked before (Revoke card): the revocation stands, with
			// its own reason; the new card is linked to it.
			rs.details = map[string]any{"already_revoked": true, "revocation_reason": string(old.RevocationReason)}
			break
		}
		if rs.details, err = s.revokeInTx(rs.ctx, tx, rs.p, old, rs.in.Reason, "the card was replaced ("+string(rs.in.Reason)+")"); err != nil {
			return err
		}
	case lanyard.ReplaceTemporary:
		held := []string{}
		if old.State == lanyard.CardIssued {
			if held, err = s.holdCertificates(rs.ctx, tx, old, true); err != nil {
				return err
			}
		}
		old.State = lanyard.CardDisabled
		rs.details = map[string]any{"held": held}
	}
	rs.details["from"], rs.details["to"] = string(was), string(old.State)
	now := s.rec.Clock()
	old.UpdatedAt = now
	if err := tx.UpdateCard(old); err != nil {
		return err
	}
	link := &lanyard.CardReplacement{OldCardID: old.ID, NewCardID: newCard.ID, Kind: rs.in.Kind, State: lanyard.ReplacementPending,
		Reason: rs.in.Reason, OwnerID: old.OwnerID, OldState: was, ActorID: rs.p.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateCardReplacement(link); err != nil {
		return err
	}
	rs.link, rs.old = link, *old
	return nil
}

// replacementIssued makes the replacement card's link active when its
// issue finishes (in the issue's last step): a pending replacement is
// finished by Continue card issue like any issue. Only a link made for
// the card's owner is: a card that changed hands since (revoked, cleared,
// withdrawn, issued to someone else) finishes no one else's replacement.
func replacementIssued(tx lanyard.Tx, card *lanyard.Card, now time.Time) error {
	r, err := tx.OpenReplacementByNew(card.ID)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil
	}
	if err != nil || r.State != lanyard.ReplacementPending || r.OwnerID != card.OwnerID {
		return err
	}
	old, err := tx.CardByID(r.OldCardID)
	if err != nil || old.OwnerID != card.OwnerID {
		return err
	}
	r.State, r.UpdatedAt = lanyard.ReplacementActive, now
	return tx.UpdateCardReplacement(r)
}

// ResolveReplacement ends the open temporary replacement card cardID
// takes part in (the original or the temporary card), in one transaction
// with one audit event. Found: the temporary card is revoked (superseded;
// Clear removes its content when it is connected), the original returned
// to its state before the replacement (the link's OldState: an issued
// card enabled, its certificates off hold; a card disabled before, by
// staff say, stays disabled, its certificates on hold) and the link
// ended (card.replace.found). Not found: the original is revoked with
// the replacement's reason and the temporary card becomes the owner's
// permanent card, its certificates keeping their short validity until
// renewed (card.replace.not_found). The caller needs cardperm's
// ResolveReplacement on the original, and its owner, when Found enables
// it, Enable too (cardperm.CheckFound). The temporary card must still be
// the original's owner's and not back in stock. The agents of the
// computers either card (an AirCard) is connected to are told.
func (s *Cards) ResolveReplacement(ctx context.Context, p *lanyard.Principal, cardID int64, in ResolveReplacementInput) (*ResolveReplacementResult, error) {
	var link *lanyard.CardReplacement
	var original, temp *lanyard.Card
	var owner *lanyard.User
	var pol *lanyard.Policy
	var details map[string]any
	action := "card.replace.not_found"
	if in.Found {
		action = "card.replace.found"
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		d := map[string]any{"serial": original.Serial, "temporary_card": temp.ID, "temporary_serial": temp.Serial, "replacement": link.ID}
		for k, v := range details {
			d[k] = v
		}
		return s.rec.Event(p, action, "card", strconv.FormatInt(original.ID, 10), d)
	}, func(tx lanyard.Tx) (err error) {
		if link, err = openTemporary(tx, p, cardID); err != nil {
			return err
		}
		if original, temp, owner, pol, err = s.resolvable(tx, p, link, in.Found); err != nil {
			return err
		}
		for _, id := range []int64{original.ID, temp.ID} {
			if err := notifyAirCards(tx, id); err != nil {
				return err
			}
		}
		now := s.rec.Clock()
		if in.Found {
			details, err = s.originalFound(ctx, tx, p, original, temp, enables(link))
			link.State = lanyard.ReplacementEnded
		} else {
			details, err = s.originalNotFound(ctx, tx, p, original, link.Reason)
			link.Kind = lanyard.ReplacePermanent
		}
		if err != nil {
			return err
		}
		original.UpdatedAt, link.UpdatedAt = now, now
		if err := tx.UpdateCard(original); err != nil {
			return err
		}
		return tx.UpdateCardReplacement(link)
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !in.Found:
		s.sendCardState(ctx, owner, pol, CardStateEvent{Kind: "revoked", User: owner, Card: original, Reason: string(original.RevocationReason), By: p.User.Login})
	case original.State == lanyard.CardIssued:
		s.sendCardState(ctx, owner, pol, CardStateEvent{Kind: "enabled", User: owner, Card: original, By: p.User.Login})
	}
	views, err := s.viewsOf(ctx, p, original.ID, temp.ID)
	if err != nil {
		return nil, err
	}
	return &ResolveReplacementResult{Original: views[0], Temporary: views[1], Replacement: link}, nil
}

// enables reports whether Original found enables the original of
// temporary replacement r: unless it was disabled before the
// replacement (a link from before migration 0025 does not say: it was
// issued, as every temporary replacement then enabled it).
func enables(r *lanyard.CardReplacement) bool { return r.OldState != lanyard.CardDisabled }

// resolvable locks and reads both cards of temporary replacement link in
// tx, and checks that p may resolve it (found says how): cardperm on the
// original with its owner's policy, and the temporary card still its
// owner's, not cleared or withdrawn (a card that changed hands is not
// revoked, nor kept, for someone else's replacement).
func (s *Cards) resolvable(tx lanyard.Tx, p *lanyard.Principal, link *lanyard.CardReplacement, found bool) (original, temp *lanyard.Card, owner *lanyard.User, pol *lanyard.Policy, err error) {
	if err = tx.LockCard(link.OldCardID); err != nil {
		return
	}
	if original, owner, err = s.replaceable(tx, p, link.OldCardID, cardperm.ResolveReplacement, nil); err != nil {
		return
	}
	if _, pol, err = s.ownerPolicy(tx, original); err != nil {
		return
	}
	if found {
		pc, err := permCardTx(tx, original, owner)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := cardperm.CheckFound(cardperm.ActorOf(p), workflowOf(pol), pc, enables(link)); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if err = tx.LockCard(link.NewCardID); err != nil {
		return
	}
	if temp, err = tx.CardByID(link.NewCardID); err != nil {
		return
	}
	if temp.OwnerID != original.OwnerID || temp.State == lanyard.CardClean {
		return nil, nil, nil, nil, lanyard.Errorf(lanyard.EConflict, "the temporary card %s is no longer %s's card (cleared or withdrawn since); ask an operator to look at card %s",
			temp.Serial, owner.Login, original.Serial)
	}
	return original, temp, owner, pol, nil
}

// openTemporary finds the open temporary replacement card cardID takes
// part in, on either side.
func openTemporary(tx lanyard.Tx, p *lanyard.Principal, cardID int64) (*lanyard.CardReplacement, error) {
	card, err := tx.CardByID(cardID)
	if err != nil {
		return nil, err
	}
	if card.OwnerID != p.User.ID && !isCardStaff(p) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
	}
	links, err := tx.CardReplacementsOf(cardID)
	if err != nil {
		return nil, err
	}
	for _, r := range links {
		if r.Kind == lanyard.ReplaceTemporary && r.Open() && ownersLink(r, card) {
			return r, nil
		}
	}
	return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no temporary replacement to resolve", card.Serial)
}

// originalFound revokes the temporary card (superseded; unless it was
// revoked already, lost itself) and, when enable says so, enables the
// original (otherwise it stays disabled, its certificates as they are),
// in tx.
func (s *Cards) originalFound(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, original, temp *lanyard.Card, enable bool) (map[string]any, error) {
	d := map[string]any{"from": string(original.State), "to": string(lanyard.CardIssued)}
	if !enable {
		d["to"], d["stays_disabled"] = string(original.State), true
	}
	if temp.State != lanyard.CardRevoked {
		revoked, err := s.revokeInTx(ctx, tx, p, temp, lanyard.CardSuperseded, "the original card was found")
		if err != nil {
			return nil, err
		}
		temp.UpdatedAt = s.rec.Clock()
		if err := tx.UpdateCard(temp); err != nil {
			return nil, err
		}
		d["temporary_revoked"] = revoked["revoked"]
	}
	if !enable {
		return d, nil
	}
	released, err := s.holdCertificates(ctx, tx, original, false)
	if err != nil {
		return nil, err
	}
	original.State = lanyard.CardIssued
	d["released"] = released
	return d, nil
}

// originalNotFound revokes the original with reason (lost when the
// replacement recorded none), in tx; the temporary card stays as it is.
func (s *Cards) originalNotFound(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, original *lanyard.Card, reason lanyard.CardRevocationReason) (map[string]any, error) {
	if reason == "" {
		reason = lanyard.CardLost
	}
	from := original.State
	d, err := s.revokeInTx(ctx, tx, p, original, reason, "the card was not found and is replaced ("+string(reason)+")")
	if err != nil {
		return nil, err
	}
	d["from"], d["to"], d["reason"] = string(from), string(lanyard.CardRevoked), string(reason)
	return d, nil
}

// permCardTx is permCard with what the card's open replacements, made
// for its current owner, say: a temporary card is not replaced itself,
// the original of an open temporary replacement only waits for its
// resolution, and a card replaced for good is not replaced again. A
// link of a previous owner, or one ended when the card was withdrawn,
// binds nothing.
func permCardTx(tx lanyard.Tx, card *lanyard.Card, owner *lanyard.User) (cardperm.Card, error) {
	c := permCard(card, owner)
	links, err := tx.CardReplacementsOf(card.ID)
	if err != nil {
		return c, err
	}
	for _, r := range links {
		if !r.Open() || !ownersLink(r, card) {
			continue
		}
		if r.Kind == lanyard.ReplacePermanent && r.OldCardID == card.ID {
			c.Replaced = true
		}
		if r.Kind != lanyard.ReplaceTemporary {
			continue
		}
		c.Temporary = c.Temporary || r.NewCardID == card.ID
		c.TemporarilyReplaced = c.TemporarilyReplaced || r.OldCardID == card.ID
	}
	return c, nil
}

// ownersLink reports whether replacement r was made for card's current
// owner: a card that changed hands (withdrawn to stock, issued to
// someone else) neither shows nor obeys its previous owner's links.
func ownersLink(r *lanyard.CardReplacement, card *lanyard.Card) bool {
	return r.OwnerID != 0 && r.OwnerID == card.OwnerID
}

// endReplacements ends, in tx, the open replacements card cardID takes
// part in (either side), and returns their IDs for the audit event of
// the change that calls it: a card withdrawn, or changing hands, starts
// afresh. Its old owner's other card keeps the link's history.
func (s *Cards) endReplacements(tx lanyard.Tx, cardID int64) ([]int64, error) {
	links, err := tx.CardReplacementsOf(cardID)
	if err != nil {
		return nil, err
	}
	var ended []int64
	for _, r := range links {
		if !r.Open() {
			continue
		}
		r.State, r.UpdatedAt = lanyard.ReplacementEnded, s.rec.Clock()
		if err := tx.UpdateCardReplacement(r); err != nil {
			return nil, err
		}
		ended = append(ended, r.ID)
	}
	return ended, nil
}

// notifyReplaced tells the old card's owner (and their manager, per
// policy) that it was replaced, and by which card.
func (s *Cards) notifyReplaced(ctx context.Context, p *lanyard.Principal, rs *replaceStart) {
	var owner *lanyard.User
	var pol *lanyard.Policy
	var newCard *lanyard.Card
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		old, err := tx.CardByID(rs.old.ID)
		if err != nil {
			return err
		}
		if owner, pol, err = s.ownerPolicy(tx, old); err != nil {
			return err
		}
		newCard, err = tx.CardByID(rs.link.NewCardID)
		return err
	})
	if err != nil {
		s.log.Error("reading a replaced card for its notification failed", "card", rs.old.ID, "err", err)
		return
	}
	var detail strings.Builder
	detail.WriteString(string(rs.in.Kind) + " replacement card " + newCard.Serial + " (" + newCard.CardType + ")")
	if rs.in.Kind == lanyard.ReplaceTemporary {
		detail.WriteString("; your card is disabled until it is found")
	}
	s.sendCardState(ctx, owner, pol, CardStateEvent{Kind: "replaced", User: owner, Card: &rs.old, Reason: string(rs.in.Reason), By: p.User.Login, Detail: detail.String()})
}

// unmarshalIssue decodes an issue operation's record.
func unmarshalIssue(op *lanyard.Operation, d *issueData) error {
	if len(op.Data) == 0 {
		return errors.New("no record")
	}
	return json.Unmarshal(op.Data, d)
}

// shortened is tpl with its validity bounded by days (0: tpl as it is): a
// temporary card's certificates get the shorter of the two.
func shortened(tpl *lanyard.Template, days int) *lanyard.Template {
	if days <= 0 || tpl.ValidityDays <= days {
		return tpl
	}
	t := *tpl
	t.ValidityDays = days
	return &t
}

// addReplacements fills v's ReplacedBy and Replaces with the newest link
// on each side made for the card's current owner (ownersLink).
func addReplacements(tx lanyard.Tx, v *CardView) error {
	links, err := tx.CardReplacementsOf(v.ID)
	if err != nil {
		return err
	}
	for _, r := range links { // newest first
		if !ownersLink(r, v.Card) {
			continue
		}
		side := &v.ReplacedBy
		other := r.NewCardID
		if r.NewCardID == v.ID {
			side, other = &v.Replaces, r.OldCardID
		}
		if *side != nil {
			continue
		}
		oc, err := tx.CardByID(other)
		if err != nil {
			return err
		}
		rv := &ReplacementView{CardReplacement: r, OldSerial: v.Serial, NewSerial: oc.Serial}
		if side == &v.Replaces {
			rv.OldSerial, rv.NewSerial = oc.Serial, v.Serial
		}
		*side = rv
	}
	return nil
}
