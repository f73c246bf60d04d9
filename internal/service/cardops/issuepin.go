package cardops

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINMailWindow is how long after an issue its user may still e-mail the
// random PIN from the result dialog (guide: "If necessary, save your PIN
// and email it to yourself or your manager"): the server holds its
// sealed copy of the PIN (lanyard.HeldPINMail) that long, and not past
// the first mail.
const PINMailWindow = 15 * time.Minute

// Who a user may e-mail their random PIN to from the result dialog.
const (
	PINMailToMe      = "user"
	PINMailToManager = "manager"
)

// MailIssuePINInput is the result dialog's "E-mail it to me / to my
// manager". The PIN is not in it: the server mails its own sealed copy.
type MailIssuePINInput struct {
	OperationID int64
	To          string // user or manager
}

// MailIssuePINResult says where the PIN went.
type MailIssuePINResult struct {
	MailedTo string
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
// random PIN, with the address each names now: only when the PIN is
// shown to the user, the policy mails PINs at all and notifications are
// configured; only those with an address. The addresses are recorded
// with the copy and the PIN goes only there: a later change of the
// user's or the manager's address (by an operator, a directory sync)
// does not redirect a PIN issued before it.
func (s *Cards) pinMailChoices(j *issueJob) []lanyard.HeldPINRecipient {
	mailTo := j.data.Plan.MailPIN
	if !j.plan.ShowPIN || mailTo == "" || mailTo == lanyard.PINMailNobody || s.notifier == nil || j.user.ID != j.p.User.ID {
		return nil
	}
	var to []lanyard.HeldPINRecipient
	if j.user.Email != "" {
		to = append(to, lanyard.HeldPINRecipient{To: PINMailToMe, Address: j.user.Email})
	}
	if j.user.ManagerEmail != "" {
		to = append(to, lanyard.HeldPINRecipient{To: PINMailToManager, Address: j.user.ManagerEmail})
	}
	return to
}

// keepPINCopy seals j's random PIN for the result dialog's mail choices
// offer (PINMailWindow), to be held by the issue's final step. It returns
// nil when there is nothing to offer or the PIN cannot be sealed (the
// issue itself is not failed for that; the PIN is still shown).
func (s *Cards) keepPINCopy(j *issueJob, offer []lanyard.HeldPINRecipient) *lanyard.HeldPIN {
	if len(offer) == 0 {
		return nil
	}
	sealed, err := s.sealer.Seal([]byte(j.plan.UserPIN), issuePINAAD(j.op.ID))
	if err != nil {
		s.log.Error("sealing the random PIN for the mail choices failed", "card", j.card.ID, "err", err)
		return nil
	}
	now := s.rec.Clock()
	return &lanyard.HeldPIN{OperationID: j.op.ID, Purpose: lanyard.HeldPINMail, CardID: j.card.ID, OwnerID: j.user.ID,
		Sealed: sealed, Recipients: offer, CreatedAt: now, ExpiresAt: now.Add(PINMailWindow)}
}

// choices are the mail choices h offers ("user", "manager").
func choices(h *lanyard.HeldPIN) []string {
	if h == nil {
		return nil
	}
	out := make([]string, len(h.Recipients))
	for i, r := range h.Recipients {
		out[i] = r.To
	}
	return out
}

// MailIssuePIN e-mails the random PIN of the issue just finished to its
// user or their manager, at the address recorded when the issue made
// the copy, once. Taking the copy (its PIN erased, the choice recorded)
// and queueing the mail are one transaction with one audit event
// (card.issue.pin_mail): if the outbox refuses the mail (notifications
// off, a relay without TLS) nothing changes, the reason is returned and
// the user may try again. The operation record is not written, so a
// Continue of the issue running meanwhile does not collide with it. Only
// the card's owner may ask, in their own browser session.
func (s *Cards) MailIssuePIN(ctx context.Context, p *lanyard.Principal, cardID int64, in MailIssuePINInput) (*MailIssuePINResult, error) {
	if err := pinInOwnSession(p); err != nil {
		return nil, err
	}
	var addr string
	err := s.store.Update(context.WithoutCancel(ctx), func(tx lanyard.Tx) error {
		card, h, err := s.mailCopy(tx, p, cardID, in)
		if err != nil {
			return err
		}
		addr = h.Recipient(in.To)
		if s.notifier == nil {
			return s.notMailed(cardID, lanyard.Errorf(lanyard.EUnavailable, "e-mail notifications are not configured"))
		}
		user, err := tx.UserByID(card.OwnerID)
		if err != nil {
			return err
		}
		pin, err := s.sealer.Open(h.Sealed, issuePINAAD(h.OperationID))
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "cannot open the sealed PIN")
		}
		defer clear(pin)
		if err := tx.MarkHeldPINMailed(h.OperationID, in.To); err != nil {
			return err
		}
		mailID, err := s.notifier.QueueRandomPIN(tx, []string{addr}, user, card, string(pin))
		if err != nil {
			return s.notMailed(cardID, err)
		}
		return tx.AppendAudit(s.rec.Event(p, "card.issue.pin_mail", "card", strconv.FormatInt(cardID, 10),
			map[string]any{"operation": h.OperationID, "to": in.To, "address": addr, "mail": mailID}))
	})
	if err != nil {
		return nil, err
	}
	s.notifier.Wake()
	return &MailIssuePINResult{MailedTo: addr}, nil
}

// mailCopy reads, in tx, the mail copy of p's issue in.OperationID of
// card cardID, and refuses what MailIssuePIN must not do with it: mail
// it twice, after PINMailWindow, or to a choice that named no address at
// the issue.
func (s *Cards) mailCopy(tx lanyard.Tx, p *lanyard.Principal, cardID int64, in MailIssuePINInput) (*lanyard.Card, *lanyard.HeldPIN, error) {
	card, op, err := s.ownIssue(tx, p, cardID, in.OperationID)
	if err != nil {
		return nil, nil, err
	}
	if in.To != PINMailToMe && in.To != PINMailToManager {
		return nil, nil, lanyard.Errorf(lanyard.EInvalid, "choose who gets the PIN: user (you) or manager")
	}
	h, err := tx.HeldPIN(op.ID, lanyard.HeldPINMail)
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this issue cannot be e-mailed: no random PIN was shown, the policy mails no PIN, e-mail notifications are not configured, or it is no longer kept (%v after the issue)", PINMailWindow)
	case err != nil:
		return nil, nil, err
	case h.MailedTo != "":
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this issue was already e-mailed to %s; it is sent only once", whom(h.MailedTo))
	case len(h.Sealed) == 0 || !s.rec.Clock().Before(h.ExpiresAt):
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this card can no longer be e-mailed: it is kept only for %v after the issue", PINMailWindow)
	case h.Recipient(in.To) == "":
		return nil, nil, lanyard.Errorf(lanyard.EInvalid, "the PIN cannot be e-mailed to %s: no e-mail address was on record for them when the card was issued", whom(in.To))
	}
	return card, h, nil
}

// notMailed is what the user is told when the outbox refused the PIN's
// mail (cause): why, when it is a setting (EUnavailable); else that it
// was not sent, the cause going to the log.
func (s *Cards) notMailed(cardID int64, cause error) error {
	if lanyard.IsCode(cause, lanyard.EUnavailable) {
		return lanyard.Wrap(lanyard.EUnavailable, cause, "the PIN was not e-mailed: "+strings.TrimPrefix(lanyard.ErrorMessage(cause), "not sent: "))
	}
	s.log.Error("queueing the random PIN e-mail failed", "card", cardID, "err", cause)
	return lanyard.Errorf(lanyard.EInternal, "the PIN was not e-mailed; keep it from this screen")
}

// ownIssue reads, in tx, p's card cardID and its issue operation opID:
// ENotFound when the card is not p's, EInvalid when the operation is not
// an issue of that card for p.
func (s *Cards) ownIssue(tx lanyard.Tx, p *lanyard.Principal, cardID, opID int64) (*lanyard.Card, *lanyard.Operation, error) {
	card, err := tx.CardByID(cardID)
	if err != nil || card.OwnerID != p.User.ID {
		return nil, nil, lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
	}
	op, err := tx.OperationByID(opID)
	// A PIN reset by staff holds the owner's copy of its random PIN as an
	// issue does (pinreset.go).
	if err != nil || op.CardID != cardID || (op.Kind != lanyard.OpIssue && op.Kind != lanyard.OpResetPIN) || op.UserID != p.User.ID {
		return nil, nil, lanyard.Errorf(lanyard.EInvalid, "operation %d is not an issue or PIN reset of card %d for you", opID, cardID)
	}
	return card, op, nil
}

// holdPINs records, in tx (the issue's final step), the copies of the
// random PIN this run set: the card's earlier copies go (the card has a
// new PIN). A run that set no PIN (a Continue) drops its issue's mail
// copy: the result dialog that offered it is gone.
func holdPINs(tx lanyard.Tx, j *issueJob, newPIN bool, held []*lanyard.HeldPIN) error {
	if !newPIN {
		if err := tx.DeleteHeldPIN(j.op.ID, lanyard.HeldPINMail); err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		return nil
	}
	if _, err := tx.DeleteCardHeldPINs(j.card.ID); err != nil {
		return err
	}
	for _, h := range held {
		if err := tx.CreateHeldPIN(h); err != nil {
			return err
		}
	}
	return nil
}

// PurgePINCopies erases the held random-PIN copies past their expiry
// (run on a schedule): a mail copy past PINMailWindow, an owner's copy
// past OwnerPINWindow, whatever became of their issue (done, pending,
// failed or interrupted). One indexed DELETE, one transaction, one audit
// event for all it erases.
func (s *Cards) PurgePINCopies(ctx context.Context) (int, error) {
	var ids []int64
	err := s.store.Update(ctx, func(tx lanyard.Tx) (err error) {
		if ids, err = tx.DeleteExpiredHeldPINs(s.rec.Clock()); err != nil || len(ids) == 0 {
			return err
		}
		return tx.AppendAudit(s.rec.Event(lanyard.SystemPrincipal, "card.issue.pin_copies_purged", "operation", "", map[string]any{"operations": ids}))
	})
	return len(ids), err
}
