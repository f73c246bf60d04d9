package notify

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

func idString(id int64) string { return strconv.FormatInt(id, 10) }

func userData(u *lanyard.User) UserData {
	if u == nil {
		return UserData{}
	}
	name := u.DisplayName
	if name == "" {
		name = u.Login
	}
	return UserData{Login: u.Login, Name: name, Email: u.Email}
}

func cardData(c *lanyard.Card) CardData {
	if c == nil {
		return CardData{}
	}
	return CardData{ID: c.ID, Serial: c.Serial, CardType: c.CardType, Name: c.Name}
}

// docKindName is how a document kind reads in a sentence.
func docKindName(k string) string {
	switch k {
	case "certificate_request":
		return "certificate request form"
	case "certificate_form":
		return "certificate form"
	case "":
		return "document"
	}
	return k
}

// RandomPIN queues the random user PIN of a newly issued card. The PIN is
// in the sealed body only: not in the subject, the audit event or a log.
func (m *Mailer) RandomPIN(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, pin string) error {
	_, err := m.enqueue(ctx, nil, KindRandomPIN, to, Data{User: userData(user), Card: cardData(card), PIN: pin}, nil)
	return err
}

// QueueRandomPIN queues the random user PIN of a newly issued card inside
// tx, the caller's transaction: the message exists once tx commits, and
// not at all if it rolls back. The caller's audit event names it (the
// returned ID); Wake after the commit delivers it now.
func (m *Mailer) QueueRandomPIN(tx lanyard.Tx, to []string, user *lanyard.User, card *lanyard.Card, pin string) (int64, error) {
	msg, err := m.queueIn(tx, KindRandomPIN, to, Data{User: userData(user), Card: cardData(card), PIN: pin}, nil)
	if err != nil {
		return 0, err
	}
	return msg.ID, nil
}

// AirCardCode queues an AirCard connection code for the card's owner.
// Like a PIN, the code is in the sealed body only.
func (m *Mailer) AirCardCode(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, code string) error {
	_, err := m.enqueue(ctx, nil, KindAirCardCode, to, Data{User: userData(user), Card: cardData(card), Code: code}, nil)
	return err
}

// CardIssue queues a card issue pending, approved or rejected message, or
// a card update's approved or rejected one.
func (m *Mailer) CardIssue(ctx context.Context, to []string, ev cardops.CardIssueEvent) error {
	var kind string
	switch ev.Kind {
	case "pending":
		kind = KindCardIssuePending
	case "approved":
		kind = KindCardIssueApproved
	case "rejected":
		kind = KindCardIssueRejected
	case "update_approved":
		kind = KindCardUpdateApproved
	case "update_rejected":
		kind = KindCardUpdateRejected
	default:
		return lanyard.Errorf(lanyard.EInternal, "unknown card issue notification %q", ev.Kind)
	}
	d := Data{User: userData(ev.User), Card: cardData(ev.Card), Template: ev.Template, Comment: ev.Comment}
	_, err := m.enqueue(ctx, nil, kind, to, d, nil)
	return err
}

// cardStateKinds are the kinds of the card state notifications, by
// cardops.CardStateEvent.Kind.
var cardStateKinds = map[string]string{"disabled": KindCardDisabled, "enabled": KindCardEnabled, "revoked": KindCardRevoked, "replaced": KindCardReplaced,
	"pin_reset": KindCardPINReset, "offline_unblock": KindCardOfflineUnblock, "pin_blocked": KindCardPINBlocked,
	"updated": KindCardUpdated, "update_pending": KindCardUpdatePending, "update_cancelled": KindCardUpdateCancelled}

// CardState queues a card disabled, enabled or revoked message.
func (m *Mailer) CardState(ctx context.Context, to []string, ev cardops.CardStateEvent) error {
	kind, ok := cardStateKinds[ev.Kind]
	if !ok {
		return lanyard.Errorf(lanyard.EInternal, "unknown card state notification %q", ev.Kind)
	}
	d := Data{User: userData(ev.User), Card: cardData(ev.Card), Reason: ev.Reason, By: ev.By, Comment: ev.Detail}
	_, err := m.enqueue(ctx, nil, kind, to, d, nil)
	return err
}

// accountKinds are the kinds of the account notices, by
// identity.AccountEvent.Kind.
var accountKinds = map[string]string{identity.NoticeRSSSignIn: KindRSSSignIn, identity.NoticeSecretAnswersLocked: KindSecretAnswersLocked,
	identity.NoticeSecretAnswersLockedOps: KindSecretAnswersLockedOps}

// Account queues a Remote Self-Service sign-in or secret answers locked
// notice.
func (m *Mailer) Account(ctx context.Context, to []string, ev identity.AccountEvent) error {
	kind, ok := accountKinds[ev.Kind]
	if !ok {
		return lanyard.Errorf(lanyard.EInternal, "unknown account notification %q", ev.Kind)
	}
	_, err := m.enqueue(ctx, nil, kind, to, Data{User: userData(ev.User), Address: ev.Address}, nil)
	return err
}

// Document queues a document uploaded (with the file attached), approved
// or rejected message.
func (m *Mailer) Document(ctx context.Context, to []string, ev documents.DocumentEvent) error {
	var kind string
	var atts []Attachment
	switch ev.Kind {
	case "uploaded":
		kind = KindDocumentUploaded
		if len(ev.Content) > 0 {
			name, ctype := ev.FileName, ev.ContentType
			if name == "" {
				name = "document"
			}
			if ctype == "" {
				ctype = "application/octet-stream"
			}
			atts = []Attachment{{Name: name, ContentType: ctype, Data: ev.Content}}
		}
	case "received":
		kind = KindDocumentReceived
	case "approved":
		kind = KindDocumentApproved
	case "rejected":
		kind = KindDocumentRejected
	default:
		return lanyard.Errorf(lanyard.EInternal, "unknown document notification %q", ev.Kind)
	}
	d := Data{User: userData(ev.User), Card: cardData(ev.Card), Template: ev.Template, Comment: ev.Comment,
		DocKind: docKindName(ev.DocKind), FileName: ev.FileName, By: ev.By}
	_, err := m.enqueue(ctx, nil, kind, to, d, atts)
	return err
}

// SendTestMail queues the test e-mail to one address.
func (m *Mailer) SendTestMail(ctx context.Context, p *lanyard.Principal, to string) (*lanyard.MailMessage, error) {
	var u *lanyard.User
	if p != nil {
		u = p.User
	}
	return m.enqueue(ctx, p, KindTest, []string{to}, Data{User: userData(u)}, nil)
}
