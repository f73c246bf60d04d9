package lanyard

import "time"

// PINState is a card's PIN status as an agent read it without spending a
// try (VERIFY without data, GET METADATA): what lets operators see a
// blocked PIN before the user calls (docs/lifecycle.md, "PIN blocked
// cards").
type PINState struct {
	// TriesLeft is the PIN's tries left, -1 when the card did not say
	// (the PIN was verified and the card has no GET METADATA).
	TriesLeft int `json:"tries_left"`
	// TriesTotal is the PIN's retry count, 0 when unknown.
	TriesTotal int `json:"tries_total,omitempty"`
	// PUKTriesLeft is the PUK's tries left, -1 when unknown.
	PUKTriesLeft int `json:"puk_tries_left"`
}

// Blocked reports that the PIN has no try left.
func (p PINState) Blocked() bool { return p.TriesLeft == 0 }

// CardPINStatus is the last PIN status known of a card: reported by an
// agent (WorkstationID: where the card was seen) or set by Lanyard's own
// PIN reset, change or unblock (WorkstationID 0 when no agent took part).
type CardPINStatus struct {
	CardID int64
	PINState
	Blocked       bool
	ReportedAt    time.Time
	WorkstationID int64
}

// Changed reports that next says something new compared with the status
// known before (nil: none): the PIN became blocked or unblocked, tries
// were spent or given back, or a count unknown before is known now. A
// report that says the same, or leaves out a count known before (a
// verified PIN on a card without GET METADATA), is no change: agents
// report every few minutes, and only a change is worth a transaction
// and an audit event.
func (prev *CardPINStatus) Changed(next PINState) bool {
	if prev == nil {
		return true
	}
	return prev.Blocked != next.Blocked() ||
		(next.TriesLeft >= 0 && next.TriesLeft != prev.TriesLeft) ||
		(next.TriesTotal > 0 && next.TriesTotal != prev.TriesTotal) ||
		(next.PUKTriesLeft >= 0 && next.PUKTriesLeft != prev.PUKTriesLeft)
}

// CardPINStatusStore holds the cards' last known PIN status.
type CardPINStatusStore interface {
	// CardPINStatus returns the card's status; ENotFound when none is
	// known.
	CardPINStatus(cardID int64) (*CardPINStatus, error)
	// PutCardPINStatus records st as the card's status, replacing the
	// one before.
	PutCardPINStatus(st *CardPINStatus) error
}
