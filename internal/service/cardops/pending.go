package cardops

import (
	"context"
	"encoding/json"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// formApproved reports whether the certificate form of the slot's
// certificate was approved. The documents part of the documents check
// records the forms; until a form is approved the certificate waits.
//
// Only a form of this very issue counts — the same operation, template
// and owner — never one approved for an earlier issue of the card (a
// card revoked, cleared and issued again needs its forms again).
func (s *Cards) formApproved(ctx context.Context, j *issueJob, sl issuance.SlotPlan) (bool, error) {
	var ok bool
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ds, err := tx.ListDocuments(lanyard.DocumentFilter{CardID: j.card.ID, Slot: sl.Slot, Kind: lanyard.DocCertificateForm, Limit: 50})
		if err != nil {
			return err
		}
		for _, d := range ds {
			if d.OperationID == j.op.ID && d.Template == sl.Template && d.UserID == j.user.ID && d.State == lanyard.DocApproved {
				ok = true
			}
		}
		return nil
	})
	return ok, err
}

// notifyCardIssue tells the card's owner about its pending issue, when
// notifications are configured and the owner has an address (guide: "If
// user notifications are not configured, wait for the Continue card issue
// option to appear in the card menu").
func (s *Cards) notifyCardIssue(ctx context.Context, kind string, u *lanyard.User, c *lanyard.Card, template, comment string) {
	if s.notifier == nil || u == nil || u.Email == "" {
		return
	}
	ev := CardIssueEvent{Kind: kind, User: u, Card: c, Template: template, Comment: comment}
	if err := s.notifier.CardIssue(context.WithoutCancel(ctx), []string{u.Email}, ev); err != nil {
		s.log.Error("queueing the card issue notification failed", "kind", kind, "card", c.ID, "err", err)
	}
}

// cardRequest finds the card issue a CA request belongs to: the
// unfinished operation that made it (CertRequest.OperationID), with its
// plan for the slot. It returns nil for a request made through the
// certificate API, and for one whose issue no longer waits for it
// (done, failed); cardRequestGone tells those apart.
func cardRequest(tx lanyard.Tx, r *lanyard.CertRequest) (*lanyard.Operation, *issueData, *issuance.SlotPlan, error) {
	if r.OperationID == 0 {
		return nil, nil, nil, nil
	}
	op, err := tx.OperationByID(r.OperationID)
	if err != nil {
		return nil, nil, nil, err
	}
	switch op.State {
	case lanyard.OpPending, lanyard.OpInterrupted, lanyard.OpRunning:
	default:
		return nil, nil, nil, nil
	}
	d := &issueData{}
	if (op.Kind != lanyard.OpIssue && op.Kind != lanyard.OpUpdate) || json.Unmarshal(op.Data, d) != nil {
		return nil, nil, nil, nil
	}
	for _, sl := range d.Plan.Slots {
		if id, ok := d.Requests[sl.Slot]; ok && id == r.ID {
			return op, d, &sl, nil
		}
	}
	return nil, nil, nil, nil
}

// cardRequestGone refuses to approve a request whose card issue no
// longer waits for it: made by a card issue (OperationID set), yet
// cardRequest found no unfinished issue holding it. Approving it would
// sign a certificate bound to no card, past the checks its issue made.
func cardRequestGone(r *lanyard.CertRequest, op *lanyard.Operation) error {
	if r.OperationID == 0 || op != nil {
		return nil
	}
	return lanyard.Errorf(lanyard.EConflict, "request %d belongs to card issue or update %d, which no longer waits for it; reject it", r.ID, r.OperationID)
}

// cardRequestDecided binds a certificate the CA issued for a card's
// request to the card (status approved, or valid while its certificate
// form is still to be approved) and reports what to tell the owner once
// the decision committed. It runs inside the CA decision's transaction.
func (s *Cards) cardRequestDecided(tx lanyard.Tx, r *lanyard.CertRequest, cert *lanyard.Certificate) (notify func(ctx context.Context), err error) {
	op, d, sl, err := cardRequest(tx, r)
	if err != nil || op == nil {
		return nil, err
	}
	card, err := tx.CardByID(op.CardID)
	if err != nil {
		return nil, err
	}
	user, err := tx.UserByID(card.OwnerID)
	if err != nil {
		return nil, err
	}
	prefix := "" // an update's owner is told of its update, not of an issue
	if op.Kind == lanyard.OpUpdate {
		prefix = "update_"
	}
	if cert == nil { // rejected
		decider, err := deciderOf(tx, r)
		if err != nil {
			return nil, err
		}
		if err := s.discardRequested(tx, decider, r, "the CA request was rejected"); err != nil {
			return nil, err
		}
		return func(ctx context.Context) {
			s.notifyCardIssue(ctx, prefix+"rejected", user, card, r.Template, r.Comment)
		}, nil
	}
	cert.CardID, cert.Slot, cert.UpdatedAt = card.ID, sl.Slot, s.rec.Clock()
	if !sl.NeedForm {
		cert.Status = lanyard.CertApproved
	}
	if err := tx.UpdateCertificate(cert); err != nil {
		return nil, err
	}
	// Everything decided by the CA? Then Continue card issue can go on
	// (forms, if any, are the documents' own notifications).
	for slot, id := range d.Requests {
		if id == r.ID || d.Certs[slot] != "" {
			continue
		}
		other, err := tx.RequestByID(id)
		if err != nil {
			return nil, err
		}
		if other.Status == lanyard.RequestPending {
			return nil, nil
		}
	}
	if sl.NeedForm {
		// The form's approval tells the owner itself, unless it came
		// first: then this approval is the last one.
		form, err := s.documents.LatestDocument(tx, card.ID, sl.Slot, lanyard.DocCertificateForm)
		if err != nil || form == nil || form.State != lanyard.DocApproved {
			return nil, err
		}
	}
	return func(ctx context.Context) { s.notifyCardIssue(ctx, prefix+"approved", user, card, r.Template, "") }, nil
}

// deciderOf is the principal of the CA manager who decided r, for the
// events written in the decision's transaction on their behalf (the
// decision hook is given the request, not the caller).
func deciderOf(tx lanyard.Tx, r *lanyard.CertRequest) (*lanyard.Principal, error) {
	if r.DecidedBy == 0 {
		return lanyard.SystemPrincipal, nil
	}
	u, err := tx.UserByID(r.DecidedBy)
	if err != nil {
		return nil, err
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}, nil
}

// withdrawRequests rejects the CA requests of an issue record that still
// wait, inside tx.
func (s *Cards) withdrawRequests(tx lanyard.Tx, p *lanyard.Principal, d *issueData, why string) error {
	for _, id := range d.Requests {
		r, err := tx.RequestByID(id)
		if err != nil {
			return err
		}
		if r.Status != lanyard.RequestPending {
			continue
		}
		decider := int64(0)
		if p != nil && p.User != nil {
			decider = p.User.ID
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.Comment = lanyard.RequestRejected, decider, s.rec.Clock(), "withdrawn: "+why
		if err := tx.UpdateRequest(r); err != nil {
			return err
		}
		if err := s.discardRequested(tx, p, r, "the CA request was withdrawn: "+why); err != nil {
			return err
		}
	}
	return nil
}
