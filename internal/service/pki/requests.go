package pki

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ListRequests lists the CA's request queue ("" = all statuses).
func (s *PKI) ListRequests(ctx context.Context, status lanyard.RequestStatus) ([]*lanyard.CertRequest, error) {
	switch status {
	case "", lanyard.RequestPending, lanyard.RequestIssued, lanyard.RequestRejected:
	default:
		return nil, lanyard.Errorf(lanyard.EInvalid, "status %q: want pending, issued or rejected", status)
	}
	var out []*lanyard.CertRequest
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListRequests(status); return })
	return out, err
}

// ApproveRequest signs a pending request. The certificate is issued,
// recorded and the request closed in one transaction, so an approved
// request can never have a certificate the store does not know about.
// The request hook (Config.Requests) checks a card issue's request and
// binds its certificate to the card in that same transaction.
func (s *PKI) ApproveRequest(ctx context.Context, p *lanyard.Principal, id int64, comment string) (*IssueResult, error) {
	var res IssueResult
	var notify func(context.Context)
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		r, tpl, user, err := s.pendingRequest(tx, id)
		if err != nil {
			return err
		}
		if err := secondPerson(p, r); err != nil {
			return err
		}
		if err := s.hook.CheckApprove(tx, p, r, tpl); err != nil {
			return err
		}
		if v, ok := s.hook.(RequestValidity); ok {
			days, err := v.MaxValidityDays(tx, r)
			if err != nil {
				return err
			}
			if days > 0 && tpl.ValidityDays > days {
				bounded := *tpl
				bounded.ValidityDays = days
				tpl = &bounded
			}
		}
		pub, err := ca.ParsePublicKey(r.PublicKey)
		if err != nil {
			return err
		}
		if err := ca.CheckPublicKey(tpl, pub); err != nil {
			return err // the template may have changed since the request
		}
		authority, ok := s.cas[r.CA]
		if !ok {
			return lanyard.Errorf(lanyard.EUnavailable, "CA %q is not running", r.CA)
		}
		cert, err := authority.Sign(ctx, &ca.SignRequest{Template: tpl, User: user, PublicKey: pub})
		if err != nil {
			return err
		}
		now := s.rec.Clock()
		rec := lanyard.ManagedCertificate(cert, tpl, user, now)
		rec.RequestID = r.ID
		if err := tx.CreateCertificate(rec); err != nil {
			return err
		}
		r.Status, r.CertificateID, r.DecidedBy, r.DecidedAt, r.Comment = lanyard.RequestIssued, rec.ID, p.User.ID, now, comment
		if err := tx.UpdateRequest(r); err != nil {
			return err
		}
		if notify, err = s.hook.Decided(tx, r, rec); err != nil {
			return err
		}
		res = IssueResult{Certificate: rec, PEM: certPEM(cert.Raw), Request: r}
		return tx.AppendAudit(s.rec.Event(p, "request.approve", "request", strconv.FormatInt(id, 10),
			map[string]any{"serial": rec.Serial, "template": tpl.Name, "user": user.Login, "comment": comment}))
	})
	if err != nil {
		return nil, err
	}
	if notify != nil {
		notify(ctx)
	}
	return &res, nil
}

// secondPerson is the four-eyes rule of an approval: the approver is
// neither the certificate's owner nor whoever asked for it (an operator or
// CA manager asking for another person's certificate, possibly for a key
// of their own). Approval exists so that someone else checks.
func secondPerson(p *lanyard.Principal, r *lanyard.CertRequest) error {
	switch p.User.ID {
	case r.RequestedBy:
		return lanyard.Errorf(lanyard.EForbidden, "you asked for request %d; another CA manager approves it", r.ID)
	case r.UserID:
		return lanyard.Errorf(lanyard.EForbidden, "request %d is for your own certificate; another CA manager approves it", r.ID)
	}
	return nil
}

// RejectRequest closes a pending request without issuing. Anyone with the
// CA manager role may reject, the requester too: withdrawing a request
// issues nothing, so it needs no second person.
func (s *PKI) RejectRequest(ctx context.Context, p *lanyard.Principal, id int64, comment string) (*lanyard.CertRequest, error) {
	var out *lanyard.CertRequest
	var notify func(context.Context)
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		r, _, user, err := s.pendingRequest(tx, id)
		if err != nil {
			return err
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.Comment = lanyard.RequestRejected, p.User.ID, s.rec.Clock(), comment
		if err := tx.UpdateRequest(r); err != nil {
			return err
		}
		out = r
		if notify, err = s.hook.Decided(tx, r, nil); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "request.reject", "request", strconv.FormatInt(id, 10),
			map[string]any{"template": r.Template, "user": user.Login, "comment": comment}))
	})
	if err == nil && notify != nil {
		notify(ctx)
	}
	return out, err
}

func (s *PKI) pendingRequest(tx lanyard.Tx, id int64) (*lanyard.CertRequest, *lanyard.Template, *lanyard.User, error) {
	r, err := tx.RequestByID(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if r.Status != lanyard.RequestPending {
		return nil, nil, nil, lanyard.Errorf(lanyard.EConflict, "request %d is already %s", id, r.Status)
	}
	tpl, err := tx.TemplateByName(r.Template)
	if err != nil {
		return nil, nil, nil, err
	}
	user, err := tx.UserByID(r.UserID)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, tpl, user, nil
}
