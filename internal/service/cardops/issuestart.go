package cardops

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// loadIssue reads what an issue decision needs, in one read transaction.
func (s *Cards) loadIssue(ctx context.Context, p *lanyard.Principal, t CardTarget, r *lanyard.Reader, serial string) (*issueJob, *issuance.Input, error) {
	j := &issueJob{p: p}
	in := &issuance.Input{Staff: isCardStaff(p), Requester: p.User.ID}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		switch {
		case t.User == "" || t.User == p.User.Login:
			// Read afresh: the card and the e-mails use the current
			// attributes, not the session's copy.
			if j.user, err = tx.UserByID(p.User.ID); err != nil {
				return err
			}
		case !isCardStaff(p):
			return lanyard.Errorf(lanyard.EForbidden, "you can issue cards only for yourself")
		default:
			if j.user, err = tx.UserByLogin(t.User); err != nil {
				return err
			}
			if err := onBehalfAllowed(p, j.user); err != nil {
				return err
			}
		}
		if j.user.Disabled {
			return lanyard.Errorf(lanyard.EConflict, "user %q is disabled", j.user.Login)
		}
		in.OwnerID, in.Owner = j.user.ID, j.user
		pol, err := s.catalog.PolicyFor(tx, j.user)
		if err != nil {
			return lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", j.user.Login)
		}
		in.Settings, in.PolicyName = pol.Settings, pol.Name
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		if j.ct = recognize(types, r.ATR, serial != ""); j.ct == nil {
			return lanyard.Errorf(lanyard.EInvalid, "no card type recognizes this card (ATR %x); ask your administrator to add its card type", r.ATR)
		}
		in.CardType = j.ct
		switch c, err := tx.CardBySerial(j.ct.Name, serial); {
		case err == nil:
			j.card, in.Card = c, c
		case !lanyard.IsCode(err, lanyard.ENotFound):
			return err
		}
		if in.OwnedCards, err = tx.CountCards(j.user.ID); err != nil {
			return err
		}
		if j.tpls, err = templatesByName(tx); err != nil {
			return err
		}
		in.Templates = j.tpls
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if j.secrets, err = s.catalog.CardTypeSecrets(j.ct); err != nil {
		return nil, nil, err
	}
	return j, in, nil
}

// templatesByName reads every template, by name.
func templatesByName(tx lanyard.Tx) (map[string]*lanyard.Template, error) {
	tpls, err := tx.ListTemplates()
	if err != nil {
		return nil, err
	}
	out := map[string]*lanyard.Template{}
	for _, t := range tpls {
		out[t.Name] = t
	}
	return out, nil
}

// startIssue records the card (registering it when new) as assigned to
// its owner and the operation as running, in one transaction.
func (s *Cards) startIssue(ctx context.Context, j *issueJob, serial string, r *lanyard.Reader, ws *lanyard.WorkstationState) error {
	now := s.rec.Clock()
	c := j.card
	var was lanyard.Card // the card as the decision read it
	if c == nil {
		c = &lanyard.Card{Serial: serial, CardType: j.ct.Name, CreatedAt: now}
	} else {
		was = *c
	}
	c.OwnerID, c.State, c.ATR, c.WorkstationID, c.UpdatedAt = j.user.ID, lanyard.CardAssigned, r.ATR, ws.ID, now
	if err := personalize.CheckIdentity(c, j.id); err != nil {
		return err
	}
	c.GUID = j.id.GUID
	if j.plan.Name != "" {
		c.Name = j.plan.Name
	}
	var ended []int64 // replacements ended as the card changes hands
	check := func(tx lanyard.Tx) error {
		// The decision was made outside this transaction, with card I/O
		// since: what it relied on is checked again here. An AirCard
		// takes several sessions at once, so two issues can reach this
		// point for one card; and two cards issued at once for one user
		// must not both pass the policy's maximum.
		if c.ID != 0 {
			if err := tx.LockCard(c.ID); err != nil {
				return err
			}
			if err := unchangedForIssue(tx, &was); err != nil {
				return err
			}
		}
		if err := identityFree(tx, c, j.id); err != nil {
			return err
		}
		if c.ID != 0 && was.OwnerID != j.user.ID {
			// The card changes hands: the replacements it took part in
			// were its previous owner's (docs/lifecycle.md, "Replace").
			var err error
			if ended, err = s.endReplacements(tx, c.ID); err != nil {
				return err
			}
		}
		leaving := 0
		if c.ID != 0 && was.OwnerID == j.user.ID && was.State != lanyard.CardRevoked {
			leaving++ // the card is counted already
		}
		if j.replace != nil && j.replace.oldCounted() {
			// A replacement gives the owner a card for one they have:
			// the old card makes way for it. One revoked before does
			// not count, and the new card must fit the maximum.
			leaving++
		}
		return s.checkMaxCards(tx, j.user, leaving)
	}
	begin := operation.Begin{
		Card: c, Op: lanyard.Operation{Kind: lanyard.OpIssue, UserID: j.user.ID, ActorID: j.p.User.ID}, Check: check,
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			d := map[string]any{
				"serial": c.Serial, "card_type": c.CardType, "user": j.user.Login, "operation": op.ID,
				"templates": planTemplates(j.plan), "initialize": j.plan.Initialize, "registered": j.card != nil,
			}
			if len(ended) > 0 {
				d["replacements_ended"] = ended
			}
			return s.rec.Event(j.p, "card.issue.start", "card", strconv.FormatInt(c.ID, 10), d)
		}}
	if j.replace != nil {
		j.replace.begin(&begin)
	}
	run, err := operation.Start(ctx, s.runner, begin, &j.data)
	if err != nil {
		return err
	}
	if j.replace != nil {
		j.replace.started = true // committed: the old card is replaced
	}
	s.attachIssue(j, run)
	return nil
}

// attachIssue makes run j's record: j.op and j.card are the run's, and
// a step recorded without an event of its own gets card.issue.step.
func (s *Cards) attachIssue(j *issueJob, run *operation.Run[issueData]) {
	action := "card.issue.step"
	if j.data.Update != nil {
		action = "card.update.step"
	}
	run.StepEvent = func(step operation.Step) *lanyard.AuditEvent {
		return s.rec.Event(j.p, action, "card", strconv.FormatInt(run.Card.ID, 10), map[string]any{"operation": run.Op.ID, "step": string(step)})
	}
	j.run, j.card, j.op = run, run.Card, run.Op
}

// unchangedForIssue fails with EConflict when the card changed since the
// issue decision read it as was, or has an unfinished operation.
func unchangedForIssue(tx lanyard.Tx, was *lanyard.Card) error {
	cur, err := tx.CardByID(was.ID)
	if err != nil {
		return err
	}
	if !cur.UpdatedAt.Equal(was.UpdatedAt) || cur.State != was.State || cur.OwnerID != was.OwnerID {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed while it was being read (another issue?); look at the card and try again", was.Serial)
	}
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: was.ID, Unfinished: true})
	if err != nil {
		return err
	}
	for _, op := range ops {
		// An unfinished issue is continued, not replaced; another
		// operation blocks only while it runs. One left interrupted (a
		// server of an older version swept it so, during an upgrade) is
		// never resumed (RecoverOperations fails those it finds running)
		// and must not keep the card from a new issue.
		if op.Kind == lanyard.OpIssue || op.State == lanyard.OpRunning {
			return lanyard.Errorf(lanyard.EConflict, "card %s already has an operation under way (%s)", was.Serial, op.Step)
		}
	}
	return nil
}

// checkMaxCards checks the policy's maximum cards per user inside the
// transaction that adds a card to u or assigns one, with u held
// (Tx.LockUser) so that two such transactions at once cannot both pass:
// on PostgreSQL they would otherwise both count before either wrote.
// leaving is how many of u's counted cards make way: the card concerned
// when it is already among them, the old card of a replacement.
func (s *Cards) checkMaxCards(tx lanyard.Tx, u *lanyard.User, leaving int) error {
	if err := tx.LockUser(u.ID); err != nil {
		return err
	}
	pol, err := s.catalog.PolicyFor(tx, u)
	if err != nil {
		return lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", u.Login)
	}
	max := pol.Settings.Issuance.MaxCardsPerUser
	if max <= 0 {
		return nil
	}
	n, err := tx.CountCards(u.ID)
	if err != nil {
		return err
	}
	n -= leaving
	if n >= max {
		return lanyard.Errorf(lanyard.EConflict, "the policy allows at most %d card(s) per user, and %s already has %d", max, u.Login, n)
	}
	return nil
}

// stop ends a run that failed: the operation becomes interrupted (the
// card, the agent or the connection went away; resumable) or failed (the
// card refused; a new issue is needed), with one audit event.
func (s *Cards) stop(ctx context.Context, j *issueJob, cause error) error {
	kind, cont := "issue", "Continue card issue"
	if j.data.Update != nil {
		kind, cont = "update", "Continue card update"
	}
	state, action := lanyard.OpInterrupted, "card."+kind+".interrupt"
	if lanyard.IsCode(cause, lanyard.EConflict) || lanyard.IsCode(cause, lanyard.EInvalid) || lanyard.IsCode(cause, lanyard.EForbidden) {
		state, action = lanyard.OpFailed, "card."+kind+".fail"
	}
	msg := lanyard.ErrorMessage(cause)
	s.log.Warn("card "+kind+" stopped", "operation", j.op.ID, "card", j.card.ID, "state", state, "error", cause)
	withdraw := func(tx lanyard.Tx) error {
		if state != lanyard.OpFailed {
			return nil
		}
		// A failed issue cannot continue: its requests still waiting in
		// the CA are withdrawn, so none is approved later into a
		// certificate bound to no card.
		if err := s.withdrawRequests(tx, j.p, &j.data, "the card "+kind+" failed"); err != nil {
			return err
		}
		// A failed update's new certificates that never reached their
		// slot are revoked: the card goes on with its old ones.
		return s.revokeUnused(ctx, tx, j.p, j.card.ID, &j.data)
	}
	ev := s.rec.Event(j.p, action, "card", strconv.FormatInt(j.card.ID, 10), map[string]any{"operation": j.op.ID, "step": j.op.Step, "error": msg})
	if err := j.run.Stop(ctx, state, msg, operation.Also(withdraw), operation.Event(ev)); err != nil {
		s.log.Error("recording a stopped card "+kind+" failed", "operation", j.op.ID, "error", err)
		j.op.State, j.op.Error = state, msg
	}
	if state == lanyard.OpInterrupted {
		return lanyard.Wrap(lanyard.EUnavailable, cause, msg+"; the card "+kind+" can be continued ("+cont+")")
	}
	return cause
}
