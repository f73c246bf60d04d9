package service

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINMailWindow is how long after an issue its user may still e-mail the
// random PIN from the result dialog (guide: "If necessary, save your PIN
// and email it to yourself or your manager"): the operation keeps its
// sealed copy of the PIN that long, and not past the first mail.
const PINMailWindow = 15 * time.Minute

// Who a user may e-mail their random PIN to from the result dialog.
const (
	PINMailToMe      = "user"
	PINMailToManager = "manager"
)

// MailIssuePINInput is the result dialog's "E-mail it to me / to my
// manager". The PIN is not in it: the server mails its own sealed copy.
type MailIssuePINInput struct {
	OperationID int64  `json:"operation_id"`
	To          string `json:"to"` // user or manager
}

// MailIssuePINResult says where the PIN went.
type MailIssuePINResult struct {
	MailedTo string `json:"mailed_to"`
}

// whom is how a PINMailTo reads to the user.
func whom(to string) string {
	if to == PINMailToManager {
		return "your manager"
	}
	return "you"
}

// issuePINAAD binds the sealed copy of an issue's random PIN to its
// operation: a copy moved to another operation's record does not open.
func issuePINAAD(opID int64) []byte { return []byte("issue-random-pin:" + strconv.FormatInt(opID, 10)) }

// pinMailChoices are the recipients the result dialog offers for j's
// random PIN: only when it is shown to the user, the policy mails PINs at
// all and notifications are configured; only those with an address.
func (s *Service) pinMailChoices(j *issueJob) []string {
	mailTo := j.data.Plan.MailPIN
	if !j.plan.ShowPIN || mailTo == "" || mailTo == lanyard.PINMailNobody || s.notifier == nil || j.user.ID != j.p.User.ID {
		return nil
	}
	var to []string
	if j.user.Email != "" {
		to = append(to, PINMailToMe)
	}
	if j.user.ManagerEmail != "" {
		to = append(to, PINMailToManager)
	}
	return to
}

// keepPINCopy records in j's operation a sealed copy of the random PIN
// for the result dialog's mail choices (PINMailWindow), or drops any
// earlier one when there is nothing to offer. It returns what can be
// offered: nothing when the PIN cannot be sealed (the issue itself is
// not failed for that; the PIN is still shown).
func (s *Service) keepPINCopy(j *issueJob, offer []string) []string {
	j.data.PINCopy, j.data.PINCopyUntil, j.data.PINCopyTo = nil, time.Time{}, nil
	if len(offer) == 0 {
		return nil
	}
	sealed, err := s.sealer.Seal([]byte(j.plan.UserPIN), issuePINAAD(j.op.ID))
	if err != nil {
		s.log.Error("sealing the random PIN for the mail choices failed", "card", j.card.ID, "err", err)
		return nil
	}
	j.data.PINCopy, j.data.PINCopyUntil, j.data.PINCopyTo = sealed, s.clock().Add(PINMailWindow), offer
	return offer
}

// MailIssuePIN e-mails the random PIN of the issue just finished to its
// user or their manager, once: the copy sealed in the operation is
// erased in the transaction that records the request (audit
// card.issue.pin_mail), before the mail is queued, so a second request
// finds none. If the outbox refuses the mail (notifications off, a relay
// without TLS) the copy is put back and the reason returned. Only the
// card's owner may ask.
func (s *Service) MailIssuePIN(ctx context.Context, p *Principal, cardID int64, in MailIssuePINInput) (*MailIssuePINResult, error) {
	if err := pinInOwnSession(p); err != nil {
		return nil, err
	}
	var card *lanyard.Card
	var op *lanyard.Operation
	var d issueData
	err := s.view(ctx, func(tx lanyard.Tx) (err error) {
		if card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if card.OwnerID != p.User.ID {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if in.To != PINMailToMe && in.To != PINMailToManager {
			return lanyard.Errorf(lanyard.EInvalid, "choose who gets the PIN: user (you) or manager")
		}
		if op, err = tx.OperationByID(in.OperationID); err != nil || op.CardID != cardID || op.Kind != lanyard.OpIssue || op.UserID != p.User.ID {
			return lanyard.Errorf(lanyard.EInvalid, "operation %d is not an issue of card %d for you", in.OperationID, cardID)
		}
		return json.Unmarshal(op.Data, &d)
	})
	if err != nil {
		return nil, err
	}
	if d.PINCopyMailed != "" {
		return nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this issue was already e-mailed to %s; it is sent only once", whom(d.PINCopyMailed))
	}
	if d.PINCopyUntil.IsZero() {
		return nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this issue cannot be e-mailed: no random PIN was shown, the policy mails no PIN, or e-mail notifications are not configured")
	}
	if d.PINCopy == nil || !s.clock().Before(d.PINCopyUntil) {
		return nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this card can no longer be e-mailed: it is kept only for %v after the issue", PINMailWindow)
	}
	if !slices.Contains(d.PINCopyTo, in.To) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the PIN cannot be e-mailed to %s: not allowed by the policy, or no e-mail address", whom(in.To))
	}
	user, to, err := s.pinMailRecipient(ctx, card, in.To)
	if err != nil {
		return nil, err
	}
	pin, err := s.sealer.Open(d.PINCopy, issuePINAAD(op.ID))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot open the sealed PIN")
	}
	defer clear(pin)
	sealed := d.PINCopy
	d.PINCopy, d.PINCopyMailed = nil, in.To
	if err := s.putIssueData(ctx, op, &d, s.event(p, "card.issue.pin_mail", "card", strconv.FormatInt(cardID, 10),
		map[string]any{"operation": op.ID, "to": in.To})); err != nil {
		return nil, err
	}
	if s.notifier == nil {
		err = lanyard.Errorf(lanyard.EUnavailable, "e-mail notifications are not configured")
	} else {
		err = s.notifier.RandomPIN(ctx, []string{to}, user, card, string(pin))
	}
	if err != nil {
		// Nothing was queued: the user may try again (or the other address).
		d.PINCopy, d.PINCopyMailed = sealed, ""
		if perr := s.putIssueData(ctx, op, &d, s.event(p, "card.issue.pin_mail_failed", "card", strconv.FormatInt(cardID, 10),
			map[string]any{"operation": op.ID, "to": in.To, "reason": lanyard.ErrorMessage(err)})); perr != nil {
			s.log.Error("restoring the sealed PIN copy failed", "card", cardID, "err", perr)
		}
		if !lanyard.IsCode(err, lanyard.EUnavailable) {
			s.log.Error("queueing the random PIN e-mail failed", "card", cardID, "err", err)
			return nil, lanyard.Errorf(lanyard.EInternal, "the PIN was not e-mailed; keep it from this screen")
		}
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the PIN was not e-mailed: "+strings.TrimPrefix(lanyard.ErrorMessage(err), "not sent: "))
	}
	return &MailIssuePINResult{MailedTo: to}, nil
}

// pinMailRecipient returns the card's owner and the address "to" names.
func (s *Service) pinMailRecipient(ctx context.Context, card *lanyard.Card, to string) (*lanyard.User, string, error) {
	var u *lanyard.User
	if err := s.view(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByID(card.OwnerID); return }); err != nil {
		return nil, "", err
	}
	addr := u.Email
	if to == PINMailToManager {
		addr = u.ManagerEmail
	}
	if addr == "" {
		return nil, "", lanyard.Errorf(lanyard.EInvalid, "the PIN cannot be e-mailed to %s: no e-mail address", whom(to))
	}
	return u, addr, nil
}

// putIssueData writes d to op if nobody changed op since it was read
// (a second request in parallel gets EConflict), with ev.
func (s *Service) putIssueData(ctx context.Context, op *lanyard.Operation, d *issueData, ev *lanyard.AuditEvent) error {
	data, err := json.Marshal(d)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "operation record")
	}
	prev := op.UpdatedAt
	next := *op
	next.Data, next.UpdatedAt = data, s.clock()
	if err := s.update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent { return ev }, func(tx lanyard.Tx) error {
		return tx.UpdateOperation(&next, prev)
	}); err != nil {
		return err
	}
	*op = next
	return nil
}

// purgeScan bounds how many recent operations of each state
// PurgePINCopies reads: copies live PINMailWindow, so only recent issues
// hold one.
const purgeScan = 1000

// PurgePINCopies erases the sealed random-PIN copies of issues whose
// PINMailWindow has passed (run on a schedule): a copy exists only for
// the result dialog's mail choices, and is not kept once they are over.
// One transaction, one audit event for all it erases.
func (s *Service) PurgePINCopies(ctx context.Context) (int, error) {
	now := s.clock()
	var ids []int64
	err := s.store.Update(ctx, func(tx lanyard.Tx) error {
		for _, state := range []lanyard.OperationState{lanyard.OpDone, lanyard.OpPending} {
			ops, err := tx.ListOperations(lanyard.OperationFilter{State: state, Limit: purgeScan})
			if err != nil {
				return err
			}
			for _, op := range ops {
				if op.Kind != lanyard.OpIssue {
					continue
				}
				var d issueData
				if err := json.Unmarshal(op.Data, &d); err != nil || d.PINCopy == nil || now.Before(d.PINCopyUntil) {
					continue
				}
				d.PINCopy = nil
				prev := op.UpdatedAt
				if op.Data, err = json.Marshal(&d); err != nil {
					return lanyard.Wrap(lanyard.EInternal, err, "operation record")
				}
				op.UpdatedAt = now
				if err := tx.UpdateOperation(op, prev); err != nil {
					return err
				}
				ids = append(ids, op.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return tx.AppendAudit(s.event(systemPrincipal, "card.issue.pin_copies_purged", "operation", "", map[string]any{"operations": ids}))
	})
	return len(ids), err
}
