package lanyard

import "time"

// MailState is where an outbox message stands: queued until a worker
// claims it, sending while one holds it, then sent, or failed once its
// attempts are used up or the server refused it for good. Failed messages
// stay in the outbox until an administrator retries them.
type MailState string

const (
	MailQueued  MailState = "queued"
	MailSending MailState = "sending"
	MailSent    MailState = "sent"
	MailFailed  MailState = "failed"
)

// Valid reports whether s is a known state.
func (s MailState) Valid() bool {
	return s == MailQueued || s == MailSending || s == MailSent || s == MailFailed
}

// MailMessage is one e-mail in the durable outbox (docs/architecture.md,
// "Principles": background jobs are rows, claimed once across replicas).
// Content is the sealed body
// (text, HTML, attachments): the store never sees a body in clear, and
// lists leave Content out.
type MailMessage struct {
	ID            int64     `json:"id"`
	Kind          string    `json:"kind"` // the notification kind, e.g. "card_issue_approved"
	To            []string  `json:"to"`
	Subject       string    `json:"subject"`
	Content       []byte    `json:"-"`    // sealed; nil in lists
	Size          int64     `json:"size"` // bytes of the content before sealing
	State         MailState `json:"state"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
}

// MailFilter narrows ListMail. Zero values match everything.
type MailFilter struct {
	State  MailState
	Limit  int
	Offset int
}
