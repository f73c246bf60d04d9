package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
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
	CardIssue(ctx context.Context, to []string, ev cardops.CardIssueEvent) error
	// CardState tells the card's owner (and their manager in copy when
	// the policy says so) that the card was disabled, enabled or revoked.
	CardState(ctx context.Context, to []string, ev cardops.CardStateEvent) error
	// Document tells document officers that a signed document was
	// uploaded (with the document attached), or its owner that it was
	// approved or rejected.
	Document(ctx context.Context, to []string, ev documents.DocumentEvent) error
	// AirCardCode sends an AirCard connection code to the card's owner
	// (guide: "enter the code sent by the administrator").
	AirCardCode(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, code string) error
}
