package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

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
func (s *Cards) mailRandomPIN(ctx context.Context, j *issueJob, pin string) (sentTo []string, note string) {
	return s.mailPIN(ctx, j.data.Plan.MailPIN, j.user, j.card, pin)
}

// mailPIN mails u's new random PIN of card to whom mailTo names (an issue
// or a PIN reset) and reports to whom, or why not.
func (s *Cards) mailPIN(ctx context.Context, mailTo lanyard.PINRecipient, u *lanyard.User, card *lanyard.Card, pin string) (sentTo []string, note string) {
	if mailTo == "" || mailTo == lanyard.PINMailNobody {
		return nil, ""
	}
	to := pinRecipients(mailTo, u)
	if len(to) == 0 {
		return nil, "the PIN could not be e-mailed: no address for the recipients the policy names"
	}
	if s.notifier == nil {
		return nil, "the PIN could not be e-mailed: e-mail notifications are not configured"
	}
	if err := s.notifier.RandomPIN(ctx, to, u, card, pin); err != nil {
		if lanyard.IsCode(err, lanyard.EUnavailable) {
			return nil, "the PIN could not be e-mailed: " + lanyard.ErrorMessage(err)
		}
		s.log.Error("queueing the random PIN e-mail failed", "card", card.ID, "err", err)
		return nil, "the PIN could not be e-mailed; keep it from this screen"
	}
	return to, ""
}
