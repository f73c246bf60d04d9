package apiv1

// PINChangeInput is Change PIN: the card's current PIN and the new one,
// used on the card and forgotten (never stored or logged). The card's
// place may be given; by default the server finds it in a reader of the
// owner's workstations.
type PINChangeInput struct {
	WorkstationID int64  `json:"workstation_id,omitempty"`
	Reader        string `json:"reader,omitempty"`
	OldPIN        string `json:"old_pin"`
	NewPIN        string `json:"new_pin"`
}

// PINResetInput is Reset user PIN (staff) or online unblock (the owner):
// the new PIN (empty when the owner's policy sets random PINs) and the
// owner's answers to their secret questions, asked of the owner always
// and of staff when the policy says Validate answers.
type PINResetInput struct {
	WorkstationID int64               `json:"workstation_id,omitempty"`
	Reader        string              `json:"reader,omitempty"`
	NewPIN        string              `json:"new_pin,omitempty"`
	Answers       []SecretAnswerInput `json:"answers,omitempty"`
}

// PINResetResult is the card after the reset and, when the policy set a
// random PIN the caller may see, that PIN (shown once).
type PINResetResult struct {
	Card      *CardView `json:"card"`
	RandomPIN string    `json:"random_pin,omitempty"`
	// PINHeldForOwner: the random PIN was not shown to the staff member
	// who reset it; the owner sees it once in Self-Service.
	PINHeldForOwner bool     `json:"pin_held_for_owner,omitempty"`
	PINMailedTo     []string `json:"pin_mailed_to,omitempty"`
	PINMailNote     string   `json:"pin_mail_note,omitempty"`
}
