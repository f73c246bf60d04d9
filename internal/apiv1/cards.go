package apiv1

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card workflows' wire types (internal/service/cardops takes and
// returns the same shapes without tags; internal/web converts).

// CardView is a card as people see it: with its owner's login and its
// certificates (the card menu's Contents tab).
type CardView struct {
	*lanyard.Card
	Kind         lanyard.CardKind     `json:"kind,omitempty"` // of its card type
	Owner        string               `json:"owner,omitempty"`
	Certificates []*CardCertificate   `json:"certificates"`
	Operations   []*lanyard.Operation `json:"operations,omitempty"`
	// AllowedOperations are the operations the caller may start on the
	// card (docs/lifecycle.md, "Who may do what"): change_pin, reset_pin,
	// unblock_offline, disable, enable, revoke, clear, withdraw, replace,
	// replace_temporary, resolve_replacement, update, cancel_update. The card's
	// revocation_reason (lost, compromised, damaged, superseded,
	// withdrawn) is set while it is revoked.
	AllowedOperations []string `json:"allowed_operations"`
	// ReplacedBy is the card's latest replacement (this card the old
	// one: replaced_by), Replaces the one that made it (this card the
	// new one).
	ReplacedBy *Replacement `json:"replaced_by,omitempty"`
	Replaces   *Replacement `json:"replaces,omitempty"`
	// PIN is the card's last known PIN status; absent when none is known
	// (docs/lifecycle.md, "PIN blocked cards").
	PIN *CardPIN `json:"pin,omitempty"`
	// ContentStatus is what the Card Monitor last found of the card's
	// certificates: none, managed_expiring, managed_expired,
	// tracked_expiring or tracked_expired (docs/lifecycle.md, "Card
	// Monitor").
	ContentStatus lanyard.ContentStatus `json:"content_status"`
	// Update is whether an update of the issued card is due and the
	// unfinished update, if any (docs/lifecycle.md, "Update card
	// contents"); absent for a card not issued.
	Update *CardUpdate `json:"update,omitempty"`
	// RecoverableKeys is how many of the owner's earlier archived
	// encryption keys the issued PIV card could still get with Recover
	// keys onto card (POST /api/v1/cards/{id}/recover-keys).
	RecoverableKeys int `json:"recoverable_keys,omitempty"`
}

// ContentStatusCount is how many cards have one content status.
type ContentStatusCount struct {
	Status lanyard.ContentStatus `json:"status"`
	Label  string                `json:"label"`
	Cards  int                   `json:"cards"`
}

// CardPIN is a card's PIN status as an agent last reported it without
// spending a try, or as Lanyard's own PIN reset or change left it. The
// counts are absent when the card did not give them.
type CardPIN struct {
	Blocked      bool `json:"blocked"`
	TriesLeft    *int `json:"tries_left,omitempty"`
	TriesTotal   *int `json:"tries_total,omitempty"`
	PUKTriesLeft *int `json:"puk_tries_left,omitempty"`
	// ReportedAt is when the status was first reported (a report that
	// says the same again changes nothing).
	ReportedAt time.Time `json:"reported_at"`
	// WorkstationID and Workstation say where the card was seen; absent
	// when the status is Lanyard's own (after a PIN reset or change).
	WorkstationID int64  `json:"workstation_id,omitempty"`
	Workstation   string `json:"workstation,omitempty"`
}

// CardCertificate is one line of a card's Contents tab.
type CardCertificate struct {
	ID       int64              `json:"id"`
	Serial   string             `json:"serial"`
	CA       string             `json:"ca"`
	Template string             `json:"template"`
	Subject  string             `json:"subject"`
	Status   lanyard.CertStatus `json:"status"`
	Source   lanyard.CertSource `json:"source"`
	NotAfter string             `json:"not_after"`
	Slot     string             `json:"slot,omitempty"`
	// RequestID names the CA request of a certificate that is not issued
	// yet (status pending or rejected).
	RequestID int64 `json:"request_id,omitempty"`
	// OnHold: the certificate is on hold while its card is disabled
	// (RFC 5280 certificateHold).
	OnHold bool `json:"on_hold,omitempty"`
}

// ConnectedCard is a card in a reader of a workstation the caller may
// use, as Self-Service lists it.
type ConnectedCard struct {
	WorkstationID int64             `json:"workstation_id"`
	Workstation   string            `json:"workstation"`
	Reader        string            `json:"reader"`
	ATR           string            `json:"atr"`
	Serial        string            `json:"serial"`
	CardType      string            `json:"card_type"` // "" when no card type recognizes the ATR
	Kind          lanyard.CardKind  `json:"kind,omitempty"`
	CardID        int64             `json:"card_id,omitempty"`
	State         lanyard.CardState `json:"state,omitempty"`
	Owner         string            `json:"owner,omitempty"`
}

// RegisterCardInput registers a card an operator hands out.
type RegisterCardInput struct {
	Serial   string `json:"serial"`
	CardType string `json:"card_type"`
	Name     string `json:"name,omitempty"`
}

// CardTarget names a card in a reader of a workstation, and the user it
// is issued to (operators issue on a user's behalf; default: the caller).
type CardTarget struct {
	WorkstationID int64  `json:"workstation_id"`
	Reader        string `json:"reader"`
	User          string `json:"user,omitempty"`
}

// IssueCardInput is the Issue card dialog's answer. PINs are used on the
// card and forgotten; they are never stored or logged.
type IssueCardInput struct {
	CardTarget
	Templates []string `json:"templates,omitempty"` // optional templates chosen
	UserPIN   string   `json:"user_pin,omitempty"`
	// AdminPIN is the card's current Admin PIN (PUK) when it is not the
	// card type's default; the card gets its own random PUK.
	AdminPIN string   `json:"admin_pin,omitempty"`
	Tracked  []string `json:"tracked,omitempty"` // slots of found certificates to track
	Name     string   `json:"name,omitempty"`
	// Recovery puts the owner's earlier archived encryption keys on the
	// card (without it the card gets none, and the result says how many
	// it could get).
	Recovery *HistoryAuthority `json:"recovery,omitempty"`
}

// HistoryAuthority is the authority to put the owner's earlier archived
// keys on a card at issue or replacement, that of Recover keys onto card:
// the owner's step-up (account password and a current authenticator code,
// never stored), or an operator's or administrator's key recovery
// requests of the owner's keys that a second person approved (each used
// once). It is checked before anything is written: a wrong one refuses
// the issue.
type HistoryAuthority struct {
	AccountPassword string  `json:"account_password,omitempty"`
	Code            string  `json:"code,omitempty"`
	Requests        []int64 `json:"requests,omitempty"`
}

// IssueCardResult reports an issue. RandomPIN is set once, in this
// response, when the policy sets a random user PIN shown to the user.
type IssueCardResult struct {
	Card        *CardView `json:"card"`
	OperationID int64     `json:"operation_id"`
	State       string    `json:"state"` // issued or pending
	RandomPIN   string    `json:"random_pin,omitempty"`
	PINMailedTo []string  `json:"pin_mailed_to,omitempty"`
	PINMailNote string    `json:"pin_mail_note,omitempty"`
	// PINMailChoices are whom the user may still e-mail the shown random
	// PIN to (user, manager), once, within PINMailWindow (MailIssuePIN).
	PINMailChoices        []string `json:"pin_mail_choices,omitempty"`
	SecretQuestionsNeeded bool     `json:"secret_questions_needed"`
	// RecoverableKeys is how many of the owner's earlier archived keys the
	// card could still get with Recover keys onto card, and RecoveryNote
	// says so ("N earlier encryption keys can be put on this card: Recover
	// keys onto card").
	RecoverableKeys int    `json:"recoverable_keys,omitempty"`
	RecoveryNote    string `json:"recovery_note,omitempty"`
}

// IssueOptionsResult is what the Issue card dialog shows for a card.
type IssueOptionsResult struct {
	Card *ConnectedCard `json:"card"`
	issuance.Options
}

// ContinueInput continues an interrupted or pending card issue on the card
// in a reader. The PINs are asked again: they were never stored. Empty
// PINs fall back as in the Issue card dialog; a random PIN is drawn anew
// if it had not reached the card. AdminPIN is the card's current Admin PIN,
// asked again only when it was entered at issue and the card does not
// have its own PUK yet.
type ContinueInput struct {
	CardTarget
	UserPIN  string `json:"user_pin,omitempty"`
	AdminPIN string `json:"admin_pin,omitempty"`
}

// ClearInput names the connected card to revoke and clear; AdminPIN is
// the Admin PIN (PUK) chosen at an issue before Lanyard gave cards their
// own PUK (PUK state unknown); other cards need none. Initialize wipes
// the whole card (vendor RESET) instead of removing Lanyard's keys and
// certificates, for a card type that supports initialization.
type ClearInput struct {
	CardTarget
	AdminPIN   string `json:"admin_pin,omitempty"`
	Initialize bool   `json:"initialize,omitempty"`
}

// PINSetupInput is Set up PIN of a platform credential: the user's
// password and a code from their authenticator app (the step-up of the
// Windows Hello for Business model), and the PIN they choose. Where the
// card is may be given; by default it is found in the readers of the
// workstation it lives on. None of it is stored or logged.
type PINSetupInput struct {
	CardTarget
	Password string `json:"password"`
	Code     string `json:"code"`
	PIN      string `json:"pin"`
}

// IssuedPIN is a card issued for the caller by someone else whose random
// PIN waits to be shown to them once, until Until.
type IssuedPIN struct {
	CardID      int64     `json:"card_id"`
	Serial      string    `json:"serial"`
	CardType    string    `json:"card_type"`
	OperationID int64     `json:"operation_id"`
	IssuedBy    string    `json:"issued_by"`
	Until       time.Time `json:"until"`
}

// ShowIssuedPINInput names the issue whose PIN the owner asks for.
type ShowIssuedPINInput struct {
	OperationID int64 `json:"operation_id"`
}

// ShownPIN is the random PIN, shown once.
type ShownPIN struct {
	PIN string `json:"pin"`
}

// MailIssuePINInput is the result dialog's "E-mail it to me / to my
// manager". The PIN is not in it: the server mails its own sealed copy.
type MailIssuePINInput struct {
	OperationID int64  `json:"operation_id"`
	To          string `json:"to"` // user or manager
}

// MailIssuePINResult says where the PIN went.
type MailIssuePINResult struct {
	MailedTo string `json:"mailed_to"`
}

// CreateVirtualInput asks for a new virtual card on a workstation.
type CreateVirtualInput struct {
	WorkstationID int64            `json:"workstation_id"`
	Kind          lanyard.CardKind `json:"kind"`
	User          string           `json:"user,omitempty"`
	Name          string           `json:"name,omitempty"`
}

// VirtualOption is whether a virtual card of Kind can be created on a
// workstation for a user, and if not, why: Self-Service shows the
// "Create a TPM" and "Create platform credential" buttons only where
// Available, and the reason otherwise.
type VirtualOption struct {
	WorkstationID int64            `json:"workstation_id"`
	Workstation   string           `json:"workstation"`
	Kind          lanyard.CardKind `json:"kind"`
	CardType      string           `json:"card_type,omitempty"`
	Available     bool             `json:"available"`
	Reason        string           `json:"reason,omitempty"`
}

// RevokeCardInput is Revoke card's answer (the card need not be
// connected): why the card is revoked, and a comment for the audit log.
type RevokeCardInput struct {
	Reason  string `json:"reason"` // lost, compromised, damaged, superseded or withdrawn
	Comment string `json:"comment,omitempty"`
}

// WithdrawCardInput says where a withdrawn card goes.
type WithdrawCardInput struct {
	To string `json:"to,omitempty"` // stock (default: clean, no owner) or owner (clean, kept for a new issue)
}
