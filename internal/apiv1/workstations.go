package apiv1

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PairConfirm confirms a pairing code shown by an agent.
type PairConfirm struct {
	Code  string `json:"code"`
	Owner string `json:"owner,omitempty"` // login; staff only; default: the caller (users) or nobody (staff)
}

// AirCardComputer is one allowed computer of an AirCard as the card menu
// lists it.
type AirCardComputer struct {
	WorkstationID int64     `json:"workstation_id"`
	Workstation   string    `json:"workstation"`
	AddedBy       string    `json:"added_by"`
	AddedAt       time.Time `json:"added_at"`
	Online        bool      `json:"online"`
}

// AirCardCode is a new connection code, shown once.
type AirCardCode struct {
	Code      string    `json:"code"`
	Serial    string    `json:"serial"`
	ExpiresAt time.Time `json:"expires_at"`
	// MailedTo is where the code was sent by e-mail, when asked;
	// MailNote says why it was not.
	MailedTo []string `json:"mailed_to,omitempty"`
	MailNote string   `json:"mail_note,omitempty"`
}

// AirCardCodeInput asks for a connection code. With Mail the code also
// goes to the card's owner by e-mail, sealed in the outbox like a PIN.
type AirCardCodeInput struct {
	Mail bool `json:"mail,omitempty"`
}

// WorkstationView is a workstation with its live state from the agent hub:
// whether its agent is connected to this server and what it sees.
type WorkstationView struct {
	*lanyard.Workstation
	Owner   string           `json:"owner,omitempty"` // the owner's login
	Online  bool             `json:"online"`
	Readers []lanyard.Reader `json:"readers"`
	// ReaderCount is how many readers the agent reports. A list leaves
	// out an AirCard service's readers (one per AirCard it hosts, up to
	// thousands) and gives only their count; GET of the one workstation
	// has them all.
	ReaderCount int `json:"reader_count"`
	// Replica is the ID of the cluster replica holding the agent's
	// connection (several servers on one PostgreSQL database); absent
	// when offline or on a single server.
	Replica string `json:"replica,omitempty"`
}
