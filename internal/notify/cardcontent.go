package notify

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
)

// The Card Monitor's notices (docs/lifecycle.md, "Card Monitor").
const (
	KindCardContentExpiring  = "card_content_expiring"
	KindCardContentExpired   = "card_content_expired"
	KindCardContentOperators = "card_content_operators"
)

// cardContentKinds are the Card Monitor's templates: .Reason is the
// content status ("managed expiring"), .Comment the expiry date (the
// operators' digest: one line per card).
var cardContentKinds = []kindInfo{
	{KindCardContentExpiring, "Card contents expiring: to the card's owner (their manager in copy when the policy says so) when a certificate on the card enters the warning period, again every re-send period", apiv1.MailTemplateInput{
		Subject: "Certificates expiring: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

a certificate on your card {{.Card.Serial}} ({{.Card.CardType}}) expires on {{.Comment}} ({{.Reason}}).
Connect the card, open Self-Service and choose "Update card" in the card menu before then.
` + signature}},
	{KindCardContentExpired, "Card contents expired: to the card's owner (their manager in copy when the policy says so) when a certificate on the card expired, again every re-send period", apiv1.MailTemplateInput{
		Subject: "Certificates expired: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

a certificate on your card {{.Card.Serial}} ({{.Card.CardType}}) expired on {{.Comment}} ({{.Reason}}).
Connect the card, open Self-Service and choose "Update card" in the card menu, or ask your help desk.
` + signature}},
	{KindCardContentOperators, "Card contents expiring or expired: to the operators, one digest per Card Monitor run listing the cards notified", apiv1.MailTemplateInput{
		Subject: "Cards with expiring or expired certificates",
		Text: `Hello,

the Card Monitor found these cards with certificates expiring or expired:

{{.Comment}}

The management console lists them under Cards, filtered by content status.
` + signature}},
}

func init() { kinds = append(kinds, cardContentKinds...) }

var _ monitor.Notifier = (*Mailer)(nil)

// QueueCardContent queues a Card Monitor notice inside tx, the caller's
// transaction (the run's audit event counts it); Wake after the commit.
func (m *Mailer) QueueCardContent(tx lanyard.Tx, to []string, n monitor.Notice) (int64, error) {
	var kind string
	d := Data{User: userData(n.User), Card: cardData(n.Card), Reason: n.Status.Label(), Comment: n.Expires.UTC().Format(time.DateOnly)}
	switch n.Kind {
	case "expiring":
		kind = KindCardContentExpiring
	case "expired":
		kind = KindCardContentExpired
	case "operators":
		kind, d = KindCardContentOperators, Data{Comment: n.Summary}
	default:
		return 0, lanyard.Errorf(lanyard.EInternal, "unknown card content notice %q", n.Kind)
	}
	msg, err := m.queueIn(tx, kind, to, d, nil)
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}
