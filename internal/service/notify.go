package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Notifier delivers the e-mails card workflows send (guide: "If the
// administrator configured user email notifications, you will receive an
// email…"). Implementations must queue durably before returning (a
// message is never lost) and must not log message bodies: a random PIN
// is one. Every method gets the addresses to write to; an empty list is
// never passed.
type Notifier interface {
	// RandomPIN sends the random user PIN of a newly issued card to the
	// recipients the policy names (guide: "email it to yourself or your
	// manager").
	RandomPIN(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, pin string) error
	// QueueRandomPIN queues the same message inside tx, the caller's
	// transaction (it is queued if and only if tx commits), appending no
	// audit event of its own: the caller's event names the message ID
	// returned. EUnavailable when notifications are off or the relay
	// has no TLS. Call Wake once tx committed.
	QueueRandomPIN(tx lanyard.Tx, to []string, user *lanyard.User, card *lanyard.Card, pin string) (mailID int64, err error)
	// Wake makes the delivery worker look for queued messages now.
	Wake()
	// CardIssue tells the card's owner that its issue is pending,
	// approved (Continue card issue can write the certificates) or
	// rejected (revoke and clear the card, then issue it again).
	CardIssue(ctx context.Context, to []string, ev CardIssueEvent) error
	// Document tells document officers that a signed document was
	// uploaded (with the document attached), or its owner that it was
	// approved or rejected.
	Document(ctx context.Context, to []string, ev DocumentEvent) error
	// AirCardCode sends an AirCard connection code to the card's owner
	// (guide: "enter the code sent by the administrator").
	AirCardCode(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, code string) error
}

// CardIssueEvent is what a card issue notification says.
type CardIssueEvent struct {
	Kind     string // "pending", "approved" or "rejected"
	User     *lanyard.User
	Card     *lanyard.Card
	Template string // the certificate concerned, when one is
	Comment  string // the approver's comment on a rejection
}

// pinRecipients are the addresses the policy's "Set random user PIN" mail
// setting names for u; users without an address are skipped.
func pinRecipients(mailTo lanyard.PINRecipient, u *lanyard.User) []string {
	var to []string
	if (mailTo == lanyard.PINMailUser || mailTo == lanyard.PINMailBoth) && u.Email != "" {
		to = append(to, u.Email)
	}
	if (mailTo == lanyard.PINMailManager || mailTo == lanyard.PINMailBoth) && u.ManagerEmail != "" {
		to = append(to, u.ManagerEmail)
	}
	return to
}

// mailRandomPIN sends the random PIN when the policy asks for it and
// reports to whom; without a notifier nothing is sent and the result
// says so.
func (s *Service) mailRandomPIN(ctx context.Context, j *issueJob, pin string) (sentTo []string, note string) {
	to := pinRecipients(j.data.Plan.MailPIN, j.user)
	if j.data.Plan.MailPIN == "" || j.data.Plan.MailPIN == lanyard.PINMailNobody {
		return nil, ""
	}
	if len(to) == 0 {
		return nil, "the PIN could not be e-mailed: no address for the recipients the policy names"
	}
	if s.notifier == nil {
		return nil, "the PIN could not be e-mailed: e-mail notifications are not configured"
	}
	if err := s.notifier.RandomPIN(ctx, to, j.user, j.card, pin); err != nil {
		if lanyard.IsCode(err, lanyard.EUnavailable) {
			return nil, "the PIN could not be e-mailed: " + lanyard.ErrorMessage(err)
		}
		s.log.Error("queueing the random PIN e-mail failed", "card", j.card.ID, "err", err)
		return nil, "the PIN could not be e-mailed; keep it from this screen"
	}
	return to, ""
}
