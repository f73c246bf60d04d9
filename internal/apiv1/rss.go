package apiv1

import "time"

// Remote Self-Service (/rss/) and the help desk's view of secret answers
// (docs/lifecycle.md, "Secret questions" and "Remote Self-Service").

// RSSQuestionsInput names the user who wants to sign in.
type RSSQuestionsInput struct {
	Login string `json:"login"`
}

// RSSQuestions are the questions to answer and the ticket that binds the
// answers to them (sealed by the server; send it back unchanged).
type RSSQuestions struct {
	Questions []string  `json:"questions"`
	Ticket    string    `json:"ticket"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RSSSignInInput answers the questions of a ticket.
type RSSSignInInput struct {
	Login   string              `json:"login"`
	Ticket  string              `json:"ticket"`
	Answers []SecretAnswerInput `json:"answers"`
}

// RSSSession is a Remote Self-Service session. CSRFToken goes in
// X-CSRF-Token on the session's unsafe requests.
type RSSSession struct {
	Login       string    `json:"login"`
	DisplayName string    `json:"display_name"`
	CSRFToken   string    `json:"csrf_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// RSSCard is one of the user's cards in Remote Self-Service, with the
// operations allowed there (cardperm's operation names).
type RSSCard struct {
	ID         int64    `json:"id"`
	Serial     string   `json:"serial"`
	CardType   string   `json:"card_type"`
	Kind       string   `json:"kind,omitempty"`
	Name       string   `json:"name,omitempty"`
	State      string   `json:"state"`
	IssuedAt   string   `json:"issued_at,omitempty"`
	Operations []string `json:"operations"`
}

// SecretAnswersStatus is what staff see of a user's secret answers.
type SecretAnswersStatus struct {
	Login    string    `json:"login"`
	Set      bool      `json:"set"`
	Answered int       `json:"answered"`
	Failures int       `json:"failures"`
	Locked   bool      `json:"locked"`
	LockedAt time.Time `json:"locked_at,omitzero"`
}
