package cardops

import (
	"context"
	"encoding/hex"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Update card contents (docs/lifecycle.md, "Update card contents"): the
// service half. issuance.OfferUpdate and DecideUpdate decide what changes;
// the operation here runs the plan on the card as a resumable operation
// of kind lanyard.OpUpdate, reusing Issue card's certificate steps (CA
// approval, documents check, signing). The card stays issued and usable
// throughout: a new key is built in a spare retired slot and moved into
// place (MOVE KEY) only once its certificate is on the card, and the old
// certificate is revoked (superseded) only after the new one is read back.

// UpdateOptionsResult is what the Update card dialog shows for a card in
// a reader.
type UpdateOptionsResult struct {
	Card *ConnectedCard
	issuance.UpdateOptions
}

// UpdateCardInput is the Update card dialog's answer.
type UpdateCardInput struct {
	CardTarget
	// CardID is the card expected in the reader (the API path's): any
	// other card found there is refused (EConflict, naming it). 0: the
	// card found in the reader, whichever it is.
	CardID    int64
	Templates []string // optional templates to add (held optional ones are kept anyway)
	Tracked   []string // slots of found third-party certificates to track
	// Renew are templates the card holds that staff want renewed now
	// although they are not due.
	Renew []string
	// AcceptKeyLoss accepts the options' cautions (a key-management key
	// replaced in place on a card that cannot move keys).
	AcceptKeyLoss bool
}

// UpdateCardResult reports an update: done, or pending (a certificate
// waits for an approval; Continue card update finishes it).
type UpdateCardResult struct {
	Card        *CardView
	OperationID int64
	State       string // done or pending
	Slots       []UpdatedSlot
}

// UpdatedSlot is one changed slot of an update's result.
type UpdatedSlot struct {
	Slot      string
	Template  string
	Action    issuance.SlotAction
	Key       lanyard.RenewalKey
	OldSerial string // the certificate replaced or removed ("" for add)
	NewSerial string // the new certificate ("" for remove, or while pending)
	Status    string // done, pending (waits for an approval) or "" before it ran
}

// UpdateStatus is a card's update state in its view, from the records
// alone: whether an update is due now and why (the Self-Service banner),
// and the unfinished update to continue, if any.
type UpdateStatus struct {
	Due     bool
	Changes []issuance.UpdateSlot // the rows an update would change now
	// Unfinished is the pending or interrupted update operation; nil when none.
	Unfinished *lanyard.Operation
}

// CancelUpdateInput is Cancel card update's answer (administrators).
type CancelUpdateInput struct {
	Comment string
}

// UpdateOptions opens the Update card dialog for the card in a reader;
// cardID is the card expected there, as UpdateCardInput.CardID (0: any).
func (s *Cards) UpdateOptions(ctx context.Context, p *lanyard.Principal, t CardTarget, cardID int64) (*UpdateOptionsResult, error) {
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	j, in, err := s.loadUpdate(ctx, p, t, cc, updateLoad{card: cardID})
	if err != nil {
		return nil, err
	}
	o, err := issuance.OfferUpdate(*in)
	if err != nil {
		return nil, err
	}
	return &UpdateOptionsResult{Card: connectedOf(cc, j), UpdateOptions: *o}, nil
}

func connectedOf(cc *cardConn, j *issueJob) *ConnectedCard {
	return &ConnectedCard{WorkstationID: cc.ws.ID, Workstation: cc.ws.Name, Reader: cc.r.Name, ATR: hex.EncodeToString(cc.r.ATR), Serial: cc.serial,
		CardType: j.ct.Name, Kind: j.ct.Kind, CardID: j.card.ID, State: j.card.State, Owner: j.user.Login}
}

// UpdateCard updates the card in a reader from the dialog's answer: the
// plan (issuance.DecideUpdate) is recorded as an operation of kind
// update and run step by step; if the card, the agent or this server goes
// away, Continue card update finishes it. The card stays issued and
// usable throughout.
func (s *Cards) UpdateCard(ctx context.Context, p *lanyard.Principal, in UpdateCardInput) (*UpdateCardResult, error) {
	return s.updateCard(ctx, p, in, false)
}

// updateCard is UpdateCard; auto is the automatic update on connect (no
// choices, no permission check: the policy's flag is the permission).
func (s *Cards) updateCard(ctx context.Context, p *lanyard.Principal, in UpdateCardInput, auto bool) (*UpdateCardResult, error) {
	cc, err := s.openPIV(ctx, p, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	j, uin, err := s.loadUpdate(ctx, p, in.CardTarget, cc, updateLoad{card: in.CardID, auto: auto})
	if err != nil {
		return nil, err
	}
	o, err := issuance.OfferUpdate(*uin)
	if err != nil {
		return nil, err
	}
	plan, err := issuance.DecideUpdate(*uin, o, issuance.UpdateChoice{Optional: in.Templates, Tracked: in.Tracked, Renew: in.Renew, AcceptKeyLoss: in.AcceptKeyLoss})
	if err != nil {
		return nil, err
	}
	ip := plan.IssuePlan()
	j.plan = &ip
	// An update touches no PIN: the PIN steps of the issue record count
	// as done.
	j.data = issueData{Plan: ip, Certs: map[string]string{}, Written: map[string]bool{}, PUKSet: true, PINSet: true,
		Update: newUpdateRecord(plan, uin.CanMove, auto)}
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		pc, err := permCardTx(tx, j.card, j.user)
		if pc.Temporary {
			// A temporary replacement card is not renewed past the
			// policy's temporary validity (as its issue was bound).
			j.data.MaxValidityDays = uin.Settings.Workflow.TemporaryValidity()
		}
		return err
	}); err != nil {
		return nil, err
	}
	if err := s.startUpdate(ctx, j); err != nil {
		return nil, err
	}
	return s.runUpdate(ctx, j, false)
}

// startUpdate records the update operation as running, in one
// transaction with the checks that what the decision read still holds.
// The card itself does not change state: it stays issued.
func (s *Cards) startUpdate(ctx context.Context, j *issueJob) error {
	was := *j.card
	u := j.data.Update
	check := func(tx lanyard.Tx) error {
		if err := tx.LockCard(was.ID); err != nil {
			return err
		}
		if err := unchangedForUpdate(tx, &was); err != nil {
			return err
		}
		return oldStillHeld(tx, &was, &u.Plan)
	}
	begin := operation.Begin{
		Card: j.card, Op: lanyard.Operation{Kind: lanyard.OpUpdate, UserID: j.user.ID, ActorID: j.p.User.ID}, Check: check,
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			d := planDetails(&u.Plan)
			d["serial"], d["user"], d["operation"], d["auto"], d["can_move"] = c.Serial, j.user.Login, op.ID, u.Auto, u.CanMove
			return s.rec.Event(j.p, "card.update.start", "card", strconv.FormatInt(c.ID, 10), d)
		}}
	run, err := operation.Start(ctx, s.runner, begin, &j.data)
	if err != nil {
		return err
	}
	s.attachIssue(j, run)
	return nil
}

// planDetails is an update plan as audit events tell it: the templates
// renewed, added, removed and kept, and each renewal's key mode.
func planDetails(p *issuance.UpdatePlan) map[string]any {
	d := map[string]any{}
	keys := map[string]string{}
	for _, r := range p.Slots {
		name := string(r.Action)
		list, _ := d[name].([]string)
		d[name] = append(list, r.Template)
		if r.Key != "" {
			keys[r.Template] = string(r.Key)
		}
	}
	d["key_modes"] = keys
	if len(p.Tracked) > 0 {
		d["tracked"] = p.Tracked
	}
	if len(p.Untracked) > 0 {
		d["untracked"] = p.Untracked
	}
	return d
}

// unchangedForUpdate fails with EConflict when the card changed since the
// update decision read it as was, or has an unfinished issue or update,
// or another operation running.
func unchangedForUpdate(tx lanyard.Tx, was *lanyard.Card) error {
	cur, err := tx.CardByID(was.ID)
	if err != nil {
		return err
	}
	if !cur.UpdatedAt.Equal(was.UpdatedAt) || cur.State != was.State || cur.OwnerID != was.OwnerID {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed while it was being read; look at the card and try again", was.Serial)
	}
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: was.ID, Unfinished: true})
	if err != nil {
		return err
	}
	for _, op := range ops {
		switch {
		case op.Kind == lanyard.OpUpdate:
			return lanyard.Errorf(lanyard.EConflict, "card %s has an unfinished card update; continue it (Continue card update)", was.Serial)
		case op.Kind == lanyard.OpIssue || op.State == lanyard.OpRunning:
			return lanyard.Errorf(lanyard.EConflict, "card %s already has an operation under way (%s)", was.Serial, op.Step)
		}
	}
	return nil
}

// oldStillHeld fails with EConflict when a certificate the plan replaces
// or removes was revoked since the decision read it (unless the plan
// renews it for that very reason), or left the card.
func oldStillHeld(tx lanyard.Tx, card *lanyard.Card, p *issuance.UpdatePlan) error {
	for _, r := range p.Slots {
		if r.Old == "" || !r.Changes() {
			continue
		}
		c, err := tx.CertificateBySerial(r.OldCA, r.Old)
		if err != nil {
			return err
		}
		revokedBefore := false
		for _, why := range r.Reasons {
			revokedBefore = revokedBefore || why == issuance.ReasonRevokedElsewhere
		}
		if c.CardID != card.ID || (c.Status == lanyard.CertRevoked && !revokedBefore) {
			return lanyard.Errorf(lanyard.EConflict, "certificate %s of card %s changed while the update was being decided; try again", r.Old, card.Serial)
		}
	}
	return nil
}

// runUpdate carries the update out from wherever the operation stands
// and records its end: done, or pending while a certificate waits for an
// approval. wasPending: the run continued a pending update, whose owner
// was told already.
func (s *Cards) runUpdate(ctx context.Context, j *issueJob, wasPending bool) (*UpdateCardResult, error) {
	pending, err := s.updateSteps(ctx, j)
	if err != nil {
		return nil, s.stop(ctx, j, err)
	}
	u := j.data.Update
	j.op.State = lanyard.OpDone
	action := "card.update"
	if pending {
		j.op.State, action = lanyard.OpPending, "card.update.pending"
	}
	var untracked []string
	final := func(tx lanyard.Tx) error {
		var err error
		if untracked, err = s.untrack(tx, j); err != nil {
			return err
		}
		if pending {
			return s.requireIssueDocuments(tx, j)
		}
		return nil
	}
	err = j.run.Step(ctx, operation.Done, operation.Also(final), operation.EventAfter(func() *lanyard.AuditEvent {
		d := planDetails(&u.Plan)
		d["user"], d["superseded"], d["auto"] = j.user.Login, u.Superseded, u.Auto
		if len(untracked) > 0 {
			d["untracked_now"] = untracked
		}
		return s.updateEvent(j, action, d)
	}))
	if err != nil {
		return nil, err
	}
	switch {
	case !pending:
		s.notifyUpdate(ctx, "updated", j.card, j.p.User.Login, "")
	case !wasPending:
		s.notifyUpdate(ctx, "update_pending", j.card, j.p.User.Login, "")
	}
	return s.updateResult(ctx, j)
}

// notifyUpdate tells the card's owner (their manager in copy, as the
// policy says) of an update: updated, update_pending or
// update_cancelled.
func (s *Cards) notifyUpdate(ctx context.Context, kind string, card *lanyard.Card, by, comment string) {
	var owner *lanyard.User
	var pol *lanyard.Policy
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { owner, pol, err = s.ownerPolicy(tx, card); return }); err != nil {
		s.log.Error("reading the card's owner for an update notification failed", "card", card.ID, "err", err)
		return
	}
	s.sendCardState(ctx, owner, pol, CardStateEvent{Kind: kind, User: owner, Card: card, By: by, Detail: comment})
}

// updateResult is the result of a run of update j: its state, its
// changed slots and the card as it is now.
func (s *Cards) updateResult(ctx context.Context, j *issueJob) (*UpdateCardResult, error) {
	d, u := &j.data, j.data.Update
	res := &UpdateCardResult{OperationID: j.op.ID, State: "done"}
	if j.op.State == lanyard.OpPending {
		res.State = "pending"
	}
	for _, r := range u.Plan.Changes() {
		us := UpdatedSlot{Slot: r.Slot, Template: r.Template, Action: r.Action, Key: r.Key, OldSerial: r.Old}
		switch r.Action {
		case issuance.ActionRemove:
			if u.Removed[r.Slot] {
				us.Status = "done"
			}
		default:
			us.NewSerial = d.Certs[r.Slot]
			switch {
			case u.Verified[r.Slot]:
				us.Status = "done"
			case d.Requests[r.Slot] != 0 || r.NeedForm:
				us.Status = "pending"
			}
		}
		res.Slots = append(res.Slots, us)
	}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(j.card.ID)
		if err != nil {
			return err
		}
		if res.Card, err = s.cardView(tx, card, false); err != nil {
			return err
		}
		if res.Card.Update, err = s.updateStatus(tx, card); err != nil {
			return err
		}
		return s.addAllowed(tx, j.p, res.Card)
	})
	return res, err
}
