// Package identity is the capability that knows who is calling: user
// accounts and the rules for changing them (accountrule.go), API tokens,
// browser sessions and the two-step staff login, the authenticator app
// (TOTP) and the second-factor step-up, secret answers, the login
// throttle, the token read cache and smart card sign-in (cardlogin.go).
package identity

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/internal/ttlcache"
)

// Config holds the identity capability's dependencies. All are required
// except Log and TokensRevoked.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer // seals authenticator app secrets
	Now    func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
	// Throttle limits password guessing: the web layer's login and the
	// second-factor step-up (VerifySecondFactor) count failures in it
	// together.
	Throttle *auth.Throttle
	// TokensRevoked, when set, is called after a change that revoked API
	// tokens has committed (RevokeToken, a staff password reset).
	TokensRevoked func()
	// Policies gives a user's policy, for its secret questions
	// (Authentication → Secret questions); nil: every user has the
	// defaults (policy.Defaults).
	Policies Policies
	// Notifier, when set, sends the account notices (notices.go).
	Notifier Notifier
	// CAs are the CAs whose card certificates sign in (smart card
	// sign-in, cardlogin.go), in configuration order; none: no card
	// signs in.
	CAs []ca.CA
	// Directories checks the passwords of directory users (no local
	// password) by a bind to their source; nil: they cannot sign in with
	// a password.
	Directories Directories
}

// Directories checks a directory user's password against their source
// (the directory capability, by an LDAP bind, RFC 4511 4.2): nil when it
// is right; EUnauthenticated when it is wrong, EUnavailable when the
// directory cannot be reached, EForbidden when the account is disabled
// there.
type Directories interface {
	Authenticate(ctx context.Context, u *lanyard.User, password string) error
}

// Policies finds the policy that applies to a user (the catalog).
type Policies interface {
	PolicyFor(tx lanyard.PolicyStore, u *lanyard.User) (*lanyard.Policy, error)
}

// Identity implements the identity operations.
type Identity struct {
	rec           lanyard.Recorder // store, clock and audit events
	sealer        seal.Sealer
	rand          io.Reader
	log           *slog.Logger
	throttle      *auth.Throttle                     // login and step-up failures (stepup.go)
	tokenCache    *ttlcache.Cache[string, tokenAuth] // token principals, for the hot path
	tokensRevoked func()                             // Config.TokensRevoked
	policies      Policies                           // Config.Policies
	decoy         atomic.Pointer[[]byte]             // Remote Self-Service decoy key (rss.go)
	notifier      Notifier                           // Config.Notifier; nil: no notices
	cas           []ca.CA                            // Config.CAs: card sign-in's issuers
	directories   Directories                        // Config.Directories; nil: none
}

// New checks cfg and returns an Identity.
func New(cfg Config) (*Identity, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || cfg.Rand == nil || cfg.Throttle == nil {
		return nil, errors.New("identity: Store, Sealer, Now, Rand and Throttle are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.TokensRevoked == nil {
		cfg.TokensRevoked = func() {}
	}
	return &Identity{
		rec:    lanyard.Recorder{Store: cfg.Store, Now: cfg.Now},
		sealer: cfg.Sealer, rand: cfg.Rand, log: cfg.Log, throttle: cfg.Throttle,
		tokenCache:    ttlcache.New[string, tokenAuth](cfg.Now, ttlcache.ReadTTL, 10000),
		tokensRevoked: cfg.TokensRevoked, policies: cfg.Policies, notifier: cfg.Notifier, directories: cfg.Directories,
		cas: cfg.CAs,
	}, nil
}
