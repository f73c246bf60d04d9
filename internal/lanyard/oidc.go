package lanyard

import "time"

// OIDCProvider is an OpenID Connect provider people sign in with
// (OpenID Connect Core 1.0, authorization code flow with PKCE, RFC 7636).
// Administrators connect it; internal/service/sso runs the sign-in.
type OIDCProvider struct {
	ID int64 `json:"id"`
	// Name is the provider's key in URLs (/login/oidc/{name}): lowercase
	// letters, digits and hyphens.
	Name        string `json:"name"`
	DisplayName string `json:"display_name"` // the login button's "Sign in with …"
	Issuer      string `json:"issuer"`       // the issuer URL, exactly as the provider's discovery document says it
	ClientID    string `json:"client_id"`
	// SealedSecret is the client secret sealed under the master key
	// (internal/seal, additional data naming the provider); nil for a
	// public client that authenticates with PKCE alone. Never shown.
	SealedSecret []byte   `json:"-"`
	Scopes       []string `json:"scopes"`
	// Claim is the ID token claim that names the account: "upn",
	// "email", "preferred_username" or any other claim's name.
	Claim string `json:"claim"`
	// MatchAttribute is the account field Claim is compared with.
	MatchAttribute OIDCMatch `json:"match_attribute"`
	// JIT creates a user (SourceOIDC, role user only) when no account
	// matches; otherwise such a sign-in is refused.
	JIT bool `json:"jit"`
	// AMR and ACR are the amr (RFC 8176) and acr values that count as a
	// staff account's second factor when the ID token asserts one.
	AMR         []string  `json:"amr"`
	ACR         []string  `json:"acr"`
	SelfService bool      `json:"self_service"` // users (no staff role) may sign in with it
	Console     bool      `json:"console"`      // staff may sign in with it
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// OIDCMatch is the account field an OIDC provider's claim is matched with.
type OIDCMatch string

// The account fields a claim may match.
const (
	MatchUPN   OIDCMatch = "upn"
	MatchEmail OIDCMatch = "email"
	MatchLogin OIDCMatch = "login"
)

// Valid reports whether m is a known account field.
func (m OIDCMatch) Valid() bool { return m == MatchUPN || m == MatchEmail || m == MatchLogin }

// OIDCLogin is a sign-in on its way to the provider and back: the
// callback finds it by the state parameter and uses it once.
type OIDCLogin struct {
	StateHash  []byte // SHA-256 of the state parameter
	ProviderID int64
	// BrowserHash is SHA-256 of the secret in the browser's sign-in
	// cookie: a callback with the right state from another browser
	// (login CSRF, OpenID Connect Core 3.1.2.7) is refused.
	BrowserHash []byte
	Nonce       string // OpenID Connect Core 3.1.2.1; the ID token must carry it
	// SealedVerifier is the PKCE code_verifier (RFC 7636 4.1), sealed.
	SealedVerifier []byte
	Next           string // the local path to open after the sign-in
	// Client is the throttle key of the address that began the sign-in:
	// the sign-ins under way per address are capped (CountOIDCLogins).
	Client    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// OIDCStore holds OIDC providers and the sign-ins under way.
type OIDCStore interface {
	CreateOIDCProvider(p *OIDCProvider) error // sets p.ID; EConflict on a taken name
	UpdateOIDCProvider(p *OIDCProvider) error // every field but ID and CreatedAt
	OIDCProviderByID(id int64) (*OIDCProvider, error)
	OIDCProviderByName(name string) (*OIDCProvider, error)
	ListOIDCProviders() ([]*OIDCProvider, error) // by name
	// DeleteOIDCProvider deletes a provider and its sign-ins under way.
	DeleteOIDCProvider(id int64) error
	CreateOIDCLogin(l *OIDCLogin) error
	// TakeOIDCLogin deletes and returns the sign-in with this state
	// hash, so that two callbacks cannot both use it; ENotFound when
	// there is none (used, expired and purged, or never made).
	TakeOIDCLogin(stateHash []byte) (*OIDCLogin, error)
	// DeleteExpiredOIDCLogins deletes sign-ins expired at now and says
	// how many there were.
	DeleteExpiredOIDCLogins(now time.Time) (int, error)
	// CountOIDCLogins counts the sign-ins from client not expired at now.
	CountOIDCLogins(client string, now time.Time) (int, error)
	// CountProviderOIDCLogins counts the sign-ins at provider providerID
	// not expired at now.
	CountProviderOIDCLogins(providerID int64, now time.Time) (int, error)
	// LockOIDCLogins serializes the transactions that count sign-ins
	// under way and then make one, until the transaction ends, so that a
	// cap checked by counting holds under concurrency (PostgreSQL's READ
	// COMMITTED would let each concurrent transaction count the same
	// rows). A no-op where writers are serialized anyway (SQLite).
	LockOIDCLogins() error
	// OIDCBinding is the provider subject (issuer#sub) userID is bound
	// to; ENotFound when none. UpdateUser deletes the binding when the
	// user's login, e-mail or UPN changes or the user is made staff.
	OIDCBinding(userID int64) (string, error)
	// SetOIDCBinding binds userID to subject (replacing any binding).
	SetOIDCBinding(userID int64, subject string, at time.Time) error
}
