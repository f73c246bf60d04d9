// Package sso is the single sign-on capability: the OpenID Connect
// providers administrators connect (providers.go) and the sign-in at
// them (flow.go): the authorization code flow (OpenID Connect Core 1.0,
// section 3.1) with PKCE S256 (RFC 7636), the ID token verified
// (issuer, audience, expiry, signature, nonce), its claim mapped to
// exactly one Lanyard account (match.go) or, when the provider allows,
// a new one made just in time. It ends with the account and the second
// factor the provider asserted; the session itself is the identity
// capability's (identity.ExternalLogin), which the web layer calls with
// this result, so that a sign-in at a provider opens the same session,
// with the same staff second factor, as a password does.
//
// It is its own capability (docs/architecture.md, principle 10): it
// needs the store, the sealer (client secrets), an HTTP client for the
// providers and the login throttle, and nothing of the other
// capabilities.
package sso

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// LoginTTL is how long a sign-in may take at the provider: the state,
// nonce and code verifier are kept that long, then refused.
const LoginTTL = 10 * time.Minute

// MaxLoginsPerAddress is how many sign-ins may be under way (begun, not
// completed, not expired) from one client address (its throttle key: an
// IPv4 address or an IPv6 /64): beginning one needs no authentication
// and stores a row. Many people may share one address behind a NAT, and
// a sign-in abandoned at the provider stays under way for LoginTTL, so
// the cap is well above what an office starting its day together
// reaches; one client there can still use it up (docs/security.md).
const MaxLoginsPerAddress = 100

// MaxLoginsPerProvider is how many sign-ins may be under way at one
// provider from all addresses together: the per-address cap alone
// bounds nothing for a client with many addresses (an IPv6 /48 holds
// 65,536 /64 keys). Beyond it Begin answers ERateLimited (HTTP 429).
const MaxLoginsPerProvider = 10000

// MaxNext is the longest local path a sign-in keeps to return to; a
// longer one is replaced by "/".
const MaxNext = 2048

// Config holds the capability's dependencies; all are required except
// Log and HTTPClient.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer // client secrets and PKCE code verifiers
	Now    func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
	// BaseURL is Lanyard's public address: a provider's redirect URI is
	// BaseURL/login/oidc/{name}/callback (CallbackURL).
	BaseURL string
	// Throttle is the login throttle; failed sign-ins count under
	// ThrottleKey(remote), as failed passwords from that address do.
	Throttle    *auth.Throttle
	ThrottleKey func(remote string) string
	// HTTPClient reaches the providers (discovery, keys, token
	// endpoint); nil: one with a 15 s timeout.
	HTTPClient *http.Client
	// MaxLoginsPerProvider caps the sign-ins under way at one provider;
	// 0: MaxLoginsPerProvider.
	MaxLoginsPerProvider int
}

// SSO implements the single sign-on operations.
type SSO struct {
	rec         lanyard.Recorder
	sealer      seal.Sealer
	rand        io.Reader
	log         *slog.Logger
	baseURL     string
	throttle    *auth.Throttle
	throttleKey func(string) string
	client      *http.Client

	// beforeBind, when set (tests only), runs between signIn's read and
	// bind's transaction: the window an administrator's change can fall in.
	beforeBind func()
	// maxLogins is Config.MaxLoginsPerProvider.
	maxLogins int

	mu        sync.Mutex
	discovery map[int64]*discovered // by provider ID (discovery.go)
}

// New checks cfg and returns an SSO.
func New(cfg Config) (*SSO, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || cfg.Rand == nil || cfg.Throttle == nil || cfg.ThrottleKey == nil || cfg.BaseURL == "" {
		return nil, errors.New("sso: Store, Sealer, Now, Rand, Throttle, ThrottleKey and BaseURL are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxLoginsPerProvider <= 0 {
		cfg.MaxLoginsPerProvider = MaxLoginsPerProvider
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	return &SSO{rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, sealer: cfg.Sealer, rand: cfg.Rand, log: cfg.Log,
		baseURL: strings.TrimRight(cfg.BaseURL, "/"), throttle: cfg.Throttle, throttleKey: cfg.ThrottleKey, client: cfg.HTTPClient,
		maxLogins: cfg.MaxLoginsPerProvider,
		discovery: map[int64]*discovered{}}, nil
}

// CallbackURL is the redirect URI of provider name: register it at the
// provider. One per provider, so that a response is only ever taken for
// the provider it was sent to (RFC 9700 section 4.4.2, mix-up attacks).
func (s *SSO) CallbackURL(name string) string { return s.baseURL + "/login/oidc/" + name + "/callback" }
