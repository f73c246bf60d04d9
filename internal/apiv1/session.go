package apiv1

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Request and response shapes of the web edge itself (sessions, health,
// CA decisions).
type (
	// Health is the body of /healthz and /readyz.
	Health struct {
		Status string `json:"status"`
		Engine string `json:"engine,omitempty"`
	}
	// Decision carries a CA manager's comment.
	Decision struct {
		Comment string `json:"comment,omitempty"`
	}
	// RevokeInput revokes a certificate.
	RevokeInput struct {
		CA     string `json:"ca,omitempty"`
		Reason string `json:"reason"`
	}
	// LoginInput opens a browser session.
	LoginInput struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	// SessionInfo describes the caller's session.
	SessionInfo struct {
		User      *lanyard.User `json:"user"`
		Roles     lanyard.Roles `json:"roles"`
		CSRFToken string        `json:"csrf_token,omitempty"`
		// SecondFactorAt is when the session's second factor was
		// verified; absent for password-only sessions and tokens.
		SecondFactorAt time.Time `json:"second_factor_at,omitzero"`
	}
	// LoginPending answers a right password (202) when a second factor is
	// due: the login cookie then allows only the second step.
	LoginPending struct {
		SecondFactor string    `json:"second_factor"` // "code", or "enroll": set up an authenticator app first
		ExpiresAt    time.Time `json:"expires_at"`    // the second step's deadline
		// For "enroll": the new app's otpauth URL and base32 key (the QR
		// code image is GET /api/v1/session/second-factor/qr.png).
		OTPAuthURL string `json:"otpauth_url,omitempty"`
		Secret     string `json:"secret,omitempty"`
	}
)

// TOTPCode carries a code from the caller's authenticator app.
type TOTPCode struct {
	Code string `json:"code"`
}
