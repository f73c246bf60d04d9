package lanyard

import "time"

// Policy says what a set of users may do and get. It applies to users and
// groups through Assignments; when several apply, the one with the lowest
// Priority number wins (see internal/policy.Effective).
type Policy struct {
	ID          int64          `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Priority    int            `json:"priority"`
	Settings    PolicySettings `json:"settings"`
	Assignments []Assignment   `json:"assignments"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
}

// AssignmentKind is who a policy is assigned to.
type AssignmentKind string

const (
	AssignUser     AssignmentKind = "user"     // Name is a login
	AssignGroup    AssignmentKind = "group"    // Name is a group: a local or SCIM group's name, or a directory group's normalized DN (nested membership counts)
	AssignEveryone AssignmentKind = "everyone" // Name is empty
	// AssignContainer links a policy to a directory container (an OU or
	// a container, by its normalized DN): it applies to every directory
	// user whose entry lies anywhere below it.
	AssignContainer AssignmentKind = "container"
)

// Assignment ties a policy to a user, a group or everyone.
type Assignment struct {
	Kind AssignmentKind `json:"kind"`
	Name string         `json:"name,omitempty"`
}

// PolicySettings holds every option of a policy, grouped as users see them
// (the guide's policy options). The zero value is not the default: use
// policy.Defaults.
type PolicySettings struct {
	Workflow      WorkflowSettings      `json:"workflow"`
	Issuance      IssuanceSettings      `json:"issuance"`
	Documents     DocumentsSettings     `json:"documents"`
	Certificates  CertificateSettings   `json:"certificates"`
	AllowedCards  []string              `json:"allowed_card_types"` // card type names; empty = none allowed
	Notifications NotificationsSettings `json:"notifications"`
	// Authentication is how users prove who they are when they cannot
	// sign in (docs/lifecycle.md, "Secret questions").
	Authentication AuthenticationSettings `json:"authentication"`
}

// AuthenticationSettings is the Authentication section.
type AuthenticationSettings struct {
	SecretQuestions SecretQuestionSettings `json:"secret_questions"`
}

// SecretQuestionSettings is Authentication → Secret questions: the
// questions users choose from, how many they answer (and are asked), the
// shortest answer accepted, and how many wrong answers in a row lock the
// user out of every use of the answers until an operator unlocks them.
type SecretQuestionSettings struct {
	Questions       []string `json:"questions"`
	Asked           int      `json:"asked"`
	MinAnswerLength int      `json:"min_answer_length"`
	WrongBeforeLock int      `json:"wrong_before_lock"`
}

// WorkflowSettings is Workflow → General and Workflow → User permissions.
type WorkflowSettings struct {
	// General
	AllowUserAddCards         bool `json:"allow_user_add_cards"`        // "Allow user to add cards when they are issued"
	SearchTrackedCertificates bool `json:"search_tracked_certificates"` // "Search for certificates when card is issued or updated to track validity period"
	AllowUserSelectTracked    bool `json:"allow_user_select_tracked"`   // "Allow user to select tracked certificates"
	// AutoUpdateOnConnect: when the owner's card is connected at their
	// workstation and an update is due (issuance.UpdateDue), the card is
	// updated without asking (docs/lifecycle.md, "Update card contents").
	// Off by default and on every policy saved before it existed.
	AutoUpdateOnConnect bool `json:"auto_update_on_connect,omitempty"` // "Update card contents automatically when the card is connected"
	// User permissions → Card issuing operations
	IssueCard                  bool `json:"issue_card"`                   // "Issue card"
	SelectOptionalCertificates bool `json:"select_optional_certificates"` // "Select optional certificates when card is issued"
	// SelectOptionalOnUpdate lets the owner add the policy's optional
	// templates when updating the card; without it an update keeps the
	// optional certificates the card holds and adds none. Staff always
	// may. Off on policies saved before it existed.
	SelectOptionalOnUpdate bool `json:"select_optional_on_update,omitempty"` // "Select optional certificates when card is updated"
	// User permissions → General
	IssueAirCard bool `json:"issue_aircard"` // "Issue AirCard"
	// User permissions → Issued card operations
	IssuedCardOps IssuedCardOperations `json:"issued_card_operations"`
	// Administrator permissions
	Administrator AdministratorPermissions `json:"administrator_permissions"`
	// TemporaryCardValidityDays bounds the validity of a temporary
	// replacement card's certificates: each gets the shorter of its
	// template's validity and this (docs/lifecycle.md, "Replace"). 0 is
	// the default, DefaultTemporaryCardValidityDays.
	TemporaryCardValidityDays int `json:"temporary_card_validity_days,omitempty"` // "Temporary card validity (days)"
	// LeaverAction is what happens to the cards of a user who left their
	// directory (disabled or removed there; docs/directory.md, "Leavers"):
	// LeaverDisable or LeaverRevoke; "" leaves it to the directory
	// source's setting, whose own default is LeaverDisable.
	LeaverAction LeaverAction `json:"leaver_action,omitempty"` // "When the user leaves the directory"
}

// DefaultTemporaryCardValidityDays is a temporary card's validity when the
// policy does not say: two weeks, long enough to find a card left at home
// or on a trip, short enough that a temporary card forgotten in a drawer
// soon stops working.
const DefaultTemporaryCardValidityDays = 14

// TemporaryValidity is the validity in days of a temporary replacement
// card's certificates under w.
func (w WorkflowSettings) TemporaryValidity() int {
	if w.TemporaryCardValidityDays > 0 {
		return w.TemporaryCardValidityDays
	}
	return DefaultTemporaryCardValidityDays
}

// IssuedCardOperations is Workflow → User permissions → Issued card
// operations: what the owner of an issued card may do to it themselves
// (docs/lifecycle.md, "Who may do what"; cardperm decides).
type IssuedCardOperations struct {
	ChangePIN bool `json:"change_pin"` // "Change PIN" (old PIN, new PIN)
	// ResetPIN lets the owner set a new PIN after answering their secret
	// questions: online unblock in Self-Service and on the workstation,
	// and the offline unblock response in Remote Self-Service.
	ResetPIN bool `json:"reset_pin"` // "Reset PIN"
	Disable  bool `json:"disable"`   // "Disable card" (also urgently, in Remote Self-Service)
	Enable   bool `json:"enable"`    // "Enable card"
	Revoke   bool `json:"revoke"`    // "Revoke card"
	Clear    bool `json:"clear"`     // "Clear card"
	// TemporaryReplacement lets the owner get a temporary card for one
	// left at home.
	TemporaryReplacement bool `json:"temporary_replacement"` // "Issue temporary replacement card"
	// Update lets the owner update their card's contents (renew, add and
	// remove certificates as the policy says now) and continue such an
	// update. Off in policies written before it existed; an automatic
	// update on connect (Workflow.AutoUpdateOnConnect) does not need it.
	Update bool `json:"update,omitempty"` // "Update card"
}

// AdministratorPermissions is Workflow → Administrator permissions: what
// operators may do to the cards of the users the policy applies to, beyond
// what their role allows everywhere (disable, enable, revoke, clear,
// withdraw, replace).
type AdministratorPermissions struct {
	ResetUserPIN   bool `json:"reset_user_pin"`  // "Reset user PIN" (card connected)
	UnblockOffline bool `json:"unblock_offline"` // "Unblock card offline" (challenge–response)
	// ValidateAnswers makes the operator check the user's secret answers
	// before a PIN reset or an offline unblock.
	ValidateAnswers bool `json:"validate_answers"` // "Validate answers to security questions"
}

// AdminKeyHandling says what happens to a card's management key when it is
// initialized.
type AdminKeyHandling string

const (
	AdminKeyFromCardType AdminKeyHandling = "card_type" // use the card type's mode (default value or diversified)
	AdminKeyKeep         AdminKeyHandling = "keep"      // leave the key the card has
)

// PINCharGroup is a class of characters a random PIN may draw from.
type PINCharGroup string

const (
	PINDigits  PINCharGroup = "digits"
	PINLower   PINCharGroup = "lower"
	PINUpper   PINCharGroup = "upper"
	PINSpecial PINCharGroup = "special"
)

// PINRecipient says who gets a random PIN by e-mail.
type PINRecipient string

const (
	PINMailNobody  PINRecipient = "none"
	PINMailUser    PINRecipient = "user"
	PINMailManager PINRecipient = "manager"
	PINMailBoth    PINRecipient = "user_and_manager"
)

// IssuanceSettings is the Issuance section.
type IssuanceSettings struct {
	InitializeCard  bool                   `json:"initialize_card"` // "Initialize card": delete all contents first
	Initialization  InitializationSettings `json:"initialization"`  // Issuance → Card initialization
	RandomUserPIN   bool                   `json:"random_user_pin"` // "Set random user PIN"
	RandomPIN       RandomPINSettings      `json:"random_pin"`
	MaxCardsPerUser int                    `json:"max_cards_per_user"` // 0 = unlimited
	KeyPassword     KeyPasswordSettings    `json:"key_password"`       // Issuance → Key container password (software store)
}

// KeyPasswordSettings are the company's rules for a software store's key
// container password (the guide: "a password that meets your company's
// security requirements"). Whether the password is required comes from
// the certificate templates (prompt_key_password), or from Always. The
// zero value is usable: a policy stored before these settings existed
// asks for 8 characters of any kind.
type KeyPasswordSettings struct {
	Always     bool `json:"always"`      // require a password even when no template prompts for one
	MinLength  int  `json:"min_length"`  // 0 = 8
	MinClasses int  `json:"min_classes"` // how many of lower, upper, digits, other it mixes; 0 = any
}

// InitializationSettings is Issuance → Card initialization.
type InitializationSettings struct {
	PINRetries   int              `json:"pin_retries"`    // 0 = card type's value
	PUKRetries   int              `json:"puk_retries"`    // 0 = card type's value
	PINMinLength int              `json:"pin_min_length"` // 0 = card type's value
	PINMaxLength int              `json:"pin_max_length"` // 0 = card type's value
	AdminKey     AdminKeyHandling `json:"admin_key"`
	RandomPUK    bool             `json:"random_puk"` // always in force: every issued card gets its own random PUK, sealed on the server
}

// RandomPINSettings configures "Set random user PIN".
type RandomPINSettings struct {
	Length     int            `json:"length"`
	Groups     []PINCharGroup `json:"groups"`
	ShowToUser bool           `json:"show_to_user"`
	// ShowToAdmin is "Show generated user PIN to administrator": staff
	// issuing a card for someone else see its random PIN. Off, the PIN
	// reaches its user only as the policy says (shown to them, mailed),
	// never the operator (docs/security.md, "Cards").
	ShowToAdmin bool         `json:"show_to_admin,omitempty"`
	MailTo      PINRecipient `json:"mail_to"`
}

// DocumentsCheck is the documents check mode (guide: "Documents check").
type DocumentsCheck string

const (
	DocsNone        DocumentsCheck = "none"
	DocsCARequest   DocumentsCheck = "certificate_request" // the request must be approved in the CA
	DocsForm        DocumentsCheck = "certificate_form"    // the form must be approved by an administrator
	DocsRequestForm DocumentsCheck = "both"
)

// DocumentsChannel says how documents reach the reviewers.
type DocumentsChannel string

const (
	DocsViaLanyard DocumentsChannel = "lanyard" // uploaded in Self-Service
	DocsViaOther   DocumentsChannel = "other"   // by other means; operators record receipt
)

// DocumentsSettings is the Documents check section.
type DocumentsSettings struct {
	Check   DocumentsCheck   `json:"check"`
	Channel DocumentsChannel `json:"channel"`
	// Precheck: with the check certificate_request or both, a document
	// officer accepts the signed certificate request form before the CA
	// manager may approve the request (guide: "The administrator can
	// precheck the certificate request before it is sent to the CA").
	Precheck bool `json:"precheck,omitempty"`
}

// CertificateSettings lists the templates a card issued under the policy
// gets: required ones always, optional ones when the user picks them (and
// the policy lets users pick).
type CertificateSettings struct {
	Required []string `json:"required_templates"`
	Optional []string `json:"optional_templates"`
	// RenewalWindowDays: a certificate on a card that expires within this
	// many days is renewed by Update card contents ("Renew certificates
	// expiring within (days)"). 0: the Card Monitor's warning period
	// (NotificationsSettings.WarningPeriod), so that an update is due
	// exactly when the monitor calls the card expiring.
	RenewalWindowDays int `json:"renewal_window_days,omitempty"`
}

// RenewalWindow is how long before a certificate expires an update renews
// it under the policy s: Certificates.RenewalWindowDays, else the Card
// Monitor's warning period.
func (s PolicySettings) RenewalWindow() time.Duration {
	if d := s.Certificates.RenewalWindowDays; d > 0 {
		return time.Duration(d) * 24 * time.Hour
	}
	return s.Notifications.WarningPeriod()
}

// NotificationsSettings says which e-mails users get.
type NotificationsSettings struct {
	NotifyUser bool `json:"notify_user"`
	// NotifyManager puts the user's manager in copy of the card state
	// notifications (disabled, enabled, revoked).
	NotifyManager bool `json:"notify_manager"`
	// ExpiryWarningDays is how many days before a certificate on a card
	// expires the Card Monitor calls it expiring and tells its owner
	// ("Warn before certificates expire (days)"); 0: the default,
	// DefaultExpiryWarningDays.
	ExpiryWarningDays int `json:"expiry_warning_days,omitempty"`
	// ExpiryResendDays is how often the expiring and expired notices are
	// sent again while the card is not updated ("Re-send expiry notices
	// every (days)"); 0: the default, DefaultExpiryResendDays.
	ExpiryResendDays int `json:"expiry_resend_days,omitempty"`
}

// Card Monitor defaults (docs/lifecycle.md, "Card Monitor"): a month
// leaves time to update a card before its logon certificate stops
// working; a weekly reminder keeps a notice from being forgotten
// without filling the owner's mailbox.
const (
	DefaultExpiryWarningDays = 30
	DefaultExpiryResendDays  = 7
)

// WarningPeriod is the Card Monitor's warning period under n.
func (n NotificationsSettings) WarningPeriod() time.Duration {
	d := n.ExpiryWarningDays
	if d <= 0 {
		d = DefaultExpiryWarningDays
	}
	return time.Duration(d) * 24 * time.Hour
}

// ResendPeriod is how often the Card Monitor re-sends a notice under n.
func (n NotificationsSettings) ResendPeriod() time.Duration {
	d := n.ExpiryResendDays
	if d <= 0 {
		d = DefaultExpiryResendDays
	}
	return time.Duration(d) * 24 * time.Hour
}
