package lanyard

import "time"

// HeldPINPurpose is what a held PIN is kept for.
type HeldPINPurpose string

const (
	// HeldPINMail is the copy for the issue result dialog's "E-mail it to
	// me / to my manager" (guide: "save your PIN and email it to yourself
	// or your manager"), kept minutes.
	HeldPINMail HeldPINPurpose = "mail"
	// HeldPINOwner is the copy for the card's owner to see once, when
	// someone else issued the card for them.
	HeldPINOwner HeldPINPurpose = "owner"
)

// HeldPIN is the random user PIN a card issue set, kept sealed by the
// server for one purpose until it is used or ExpiresAt. It is its own
// record, apart from the operation: taking it does not write the
// operation (which a Continue of the issue may be writing).
type HeldPIN struct {
	OperationID int64
	Purpose     HeldPINPurpose
	CardID      int64
	OwnerID     int64
	// Sealed is the PIN sealed by the server, bound to (operation,
	// purpose); empty once a mail copy was mailed.
	Sealed []byte
	// Recipients are, for a mail copy, the addresses its choices named
	// when it was made: the PIN goes only there.
	Recipients []HeldPINRecipient
	// MailedTo is the choice a mail copy was mailed to ("" until then).
	MailedTo  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// HeldPINRecipient is one mail choice ("user", "manager") and the
// address it named at the issue.
type HeldPINRecipient struct {
	To      string `json:"to"`
	Address string `json:"address"`
}

// Recipient returns the address recorded for choice to, "" when none.
func (h *HeldPIN) Recipient(to string) string {
	for _, r := range h.Recipients {
		if r.To == to {
			return r.Address
		}
	}
	return ""
}
