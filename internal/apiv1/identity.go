package apiv1

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// UserInput creates or changes a user. On update, nil fields stay as they
// are.
type UserInput struct {
	Login        string         `json:"login,omitempty"`
	DisplayName  *string        `json:"display_name,omitempty"`
	Email        *string        `json:"email,omitempty"`
	UPN          *string        `json:"upn,omitempty"`
	ManagerEmail *string        `json:"manager_email,omitempty"`
	Groups       *[]string      `json:"groups,omitempty"`
	Roles        *lanyard.Roles `json:"roles,omitempty"`
	Disabled     *bool          `json:"disabled,omitempty"`
	Password     *string        `json:"password,omitempty"` // never stored or logged; hashed with argon2id
}

// TokenInput creates an API token.
type TokenInput struct {
	User  string        `json:"user"`            // login; default: the caller
	Name  string        `json:"name,omitempty"`  // label
	Roles lanyard.Roles `json:"roles,omitempty"` // scope; default: all of the owner's roles
	TTL   string        `json:"ttl,omitempty"`   // Go duration, e.g. "720h"; default 90 days (at most the allowed lifetime)
	// Code is a current code from the caller's authenticator app. A
	// browser session needs it unless its second factor was verified
	// within TokenFactorFresh; tokens creating tokens do not.
	Code string `json:"code,omitempty"`
}

// TokenSettings is the token policy administrators set.
type TokenSettings struct {
	// MaxTTL is the longest lifetime a new API token may have, a Go
	// duration ("2160h" = 90 days, the default; 1h to 17520h).
	MaxTTL string `json:"max_ttl"`
}

// NewToken is a created token; Secret is shown once and never stored.
type NewToken struct {
	Secret string            `json:"token"`
	Token  *lanyard.APIToken `json:"info"`
	// Notice says why the token expires sooner than asked: a token made
	// with a token expires with it at the latest.
	Notice string `json:"notice,omitempty"`
}

// TOTPSetup is what an authenticator app needs to enroll: the otpauth://
// URL (as a QR code, or typed in as the base32 secret).
type TOTPSetup struct {
	URL    string `json:"otpauth_url"`
	Secret string `json:"secret"` // base32 without padding, for manual entry
	QRPNG  []byte `json:"qr_png"` // the URL as a QR code, PNG
}

// TOTPInfo says whether a user has an authenticator app.
type TOTPInfo struct {
	Login       string    `json:"login"`
	Enrolled    bool      `json:"enrolled"`  // an enrollment exists, confirmed or not
	Confirmed   bool      `json:"confirmed"` // it counts as a second factor
	CreatedAt   time.Time `json:"created_at,omitzero"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// SecretQuestionsInfo says whether the user has set answers, and offers
// the questions.
type SecretQuestionsInfo struct {
	Set             bool     `json:"set"`
	Chosen          []string `json:"chosen"`
	Questions       []string `json:"questions"`
	Required        int      `json:"required"`
	MinAnswerLength int      `json:"min_answer_length"`
	Locked          bool     `json:"locked"`
}

// SecretAnswerInput is one answer.
type SecretAnswerInput struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// SecretAnswersInput sets the caller's answers.
type SecretAnswersInput struct {
	Answers []SecretAnswerInput `json:"answers"`
}
