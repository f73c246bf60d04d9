package identity

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Token lifetimes.
const (
	// DefaultTokenTTL is a new token's lifetime when none is asked for,
	// and the default of the longest lifetime allowed (TokenSettings);
	// a shorter setting shortens the default too.
	DefaultTokenTTL = 90 * 24 * time.Hour
	// MaxTokenTTL is the most administrators may allow.
	MaxTokenTTL = 2 * 365 * 24 * time.Hour
	// minTokenMaxTTL is the least the allowed lifetime may be set to.
	minTokenMaxTTL = time.Hour
	// TokenFactorFresh is how recent a browser session's second factor
	// must be for the session to create an API token without a code: a
	// token outlives the session by far, so it is minted only right
	// after the authenticator app was used.
	TokenFactorFresh = 5 * time.Minute
	// tokenTouchEvery limits last-used updates, which would otherwise turn
	// every API read into a write.
	tokenTouchEvery = 5 * time.Minute
)

// TokenInput creates an API token.
type TokenInput struct {
	User  string        // login; default: the caller
	Name  string        // label
	Roles lanyard.Roles // scope; default: all of the owner's roles
	TTL   string        // Go duration, e.g. "720h"; default 90 days (at most the allowed lifetime)
	// Code is a current code from the caller's authenticator app. A
	// browser session needs it unless its second factor was verified
	// within TokenFactorFresh; tokens creating tokens do not.
	Code string
}

// TokenSettings is the token policy administrators set.
type TokenSettings struct {
	// MaxTTL is the longest lifetime a new API token may have, a Go
	// duration ("2160h" = 90 days, the default; 1h to 17520h).
	MaxTTL string
}

const settingTokens = "tokens"

// TokenSettings returns the token policy.
func (s *Identity) TokenSettings(ctx context.Context) (TokenSettings, error) {
	var d time.Duration
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { d, err = tokenMaxTTL(tx); return })
	return TokenSettings{MaxTTL: hours(d)}, err
}

// PutTokenSettings sets the token policy (administrators). Lowering the
// longest lifetime shortens the tokens that already live longer: each
// then expires that long after it was made (at once, when that is past),
// in the same transaction, and the audit event counts them. A cap that
// old tokens escape caps nothing.
func (s *Identity) PutTokenSettings(ctx context.Context, p *lanyard.Principal, in TokenSettings) (TokenSettings, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return TokenSettings{}, lanyard.Errorf(lanyard.EForbidden, "only administrators change the token policy")
	}
	d, err := time.ParseDuration(in.MaxTTL)
	if err != nil || d < minTokenMaxTTL || d > MaxTokenTTL {
		return TokenSettings{}, lanyard.Errorf(lanyard.EInvalid, "max_ttl %q: want a duration from %s to %s, such as 720h", in.MaxTTL, hours(minTokenMaxTTL), hours(MaxTokenTTL))
	}
	out := TokenSettings{MaxTTL: hours(d)}
	b, err := json.Marshal(storedTokenSettings(out))
	if err != nil {
		return TokenSettings{}, err
	}
	shortened := 0
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "tokens.settings", "settings", settingTokens, map[string]any{"max_ttl": out.MaxTTL, "tokens_shortened": shortened})
	}, func(tx lanyard.Tx) error {
		if err := tx.PutSetting(settingTokens, b); err != nil {
			return err
		}
		if shortened, err = tx.ClipTokenLifetimes(d); err != nil {
			return err
		}
		return tx.Notify(lanyard.NoticeCache, lanyard.NoticeCacheTokens)
	})
	s.tokenCache.Purge() // cached tokens carry their old expiry; purged after commit
	return out, err
}

// storedTokenSettings is the token policy as the settings table keeps it
// (storage format: never rename the tag).
type storedTokenSettings struct {
	MaxTTL string `json:"max_ttl"`
}

// tokenMaxTTL reads the longest token lifetime allowed.
func tokenMaxTTL(tx lanyard.SettingStore) (time.Duration, error) {
	b, err := tx.Setting(settingTokens)
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		return DefaultTokenTTL, nil
	case err != nil:
		return 0, err
	}
	var ts storedTokenSettings
	if err := json.Unmarshal(b, &ts); err != nil {
		return 0, lanyard.Wrap(lanyard.EInternal, err, "stored token settings")
	}
	d, err := time.ParseDuration(ts.MaxTTL)
	if err != nil {
		return 0, lanyard.Wrap(lanyard.EInternal, err, "stored token settings")
	}
	return d, nil
}

// hours writes a whole number of hours as "2160h", anything else as
// time.Duration does.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// NewToken is a created token; Secret is shown once and never stored.
type NewToken struct {
	Secret string
	Token  *lanyard.APIToken
	// Notice says why the token expires sooner than asked: a token made
	// with a token expires with it at the latest.
	Notice string
}

// CreateToken issues an API token. Administrators may create tokens for
// anyone; others only for themselves, scoped to roles they hold. The
// lifetime is at most the token policy's (TokenSettings). From a browser
// session it needs a fresh second factor (tokenFactor). A token made by
// a token (which needs no second factor) expires no later than its
// parent: otherwise a short-lived token, the bootstrap token of a day
// included, would mint a 90-day one, and that one the next, for ever.
// The lifetime is cut silently, so that scripts asking for the default
// keep working, and NewToken.Notice says so.
func (s *Identity) CreateToken(ctx context.Context, p *lanyard.Principal, in TokenInput) (*NewToken, error) {
	if in.User == "" {
		in.User = p.User.Login
	}
	if in.User != p.User.Login && !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator can create tokens for other users")
	}
	var maxTTL time.Duration
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { maxTTL, err = tokenMaxTTL(tx); return }); err != nil {
		return nil, err
	}
	ttl := min(DefaultTokenTTL, maxTTL)
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d <= 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "ttl %q: want a positive duration such as 24h or 720h", in.TTL)
		}
		if d > maxTTL {
			return nil, lanyard.Errorf(lanyard.EInvalid, "ttl %s exceeds the longest token lifetime allowed, %s (administrators set it: lanyard token settings --max-ttl)", hours(d), hours(maxTTL))
		}
		ttl = d
	}
	if len(in.Name) > 128 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "token name is limited to 128 characters")
	}
	scope, err := in.Roles.Normalize()
	if err != nil {
		return nil, err
	}
	chk, err := s.tokenFactor(ctx, p, in.Code)
	if err != nil {
		return nil, err
	}
	if chk != nil {
		defer chk.att.Release()
	}
	secret, prefix, hash, err := auth.NewToken(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a token")
	}
	now := s.rec.Clock()
	t := &lanyard.APIToken{Name: in.Name, Prefix: prefix, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	notice := ""
	err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(in.User)
		if err != nil {
			return err
		}
		if u.Disabled {
			return lanyard.Errorf(lanyard.EConflict, "user %q is disabled", u.Login)
		}
		t.UserID = u.ID
		t.Roles = u.Roles
		if len(scope) > 0 {
			for _, r := range scope {
				if !u.Roles.Has(r) {
					return lanyard.Errorf(lanyard.EInvalid, "user %q does not hold the %s role", u.Login, r)
				}
			}
			t.Roles = scope
		}
		if !p.Has(lanyard.RoleAdministrator) {
			t.Roles = t.Roles.Intersect(p.Roles) // a scoped token cannot mint a wider one
		}
		if notice, err = capToParent(tx, p, t); err != nil {
			return err
		}
		if chk != nil {
			if err := chk.record(tx, now); err != nil {
				return err
			}
		}
		if err := tx.CreateToken(t); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "token.create", "token", strconv.FormatInt(t.ID, 10),
			map[string]any{"user": u.Login, "roles": t.Roles, "expires_at": t.ExpiresAt, "prefix": t.Prefix, "second_factor": chk != nil}))
	})
	if err != nil {
		return nil, err
	}
	if chk != nil {
		chk.att.Succeed()
	}
	return &NewToken{Secret: secret, Token: t, Notice: notice}, nil
}

// capToParent makes t, about to be created by p, expire no later than the
// token p authenticated with (if any), and says so when it did.
func capToParent(tx lanyard.TokenStore, p *lanyard.Principal, t *lanyard.APIToken) (string, error) {
	if p.TokenID == 0 {
		return "", nil
	}
	parent, err := tx.TokenByID(p.TokenID)
	if err != nil {
		return "", err
	}
	if !t.ExpiresAt.After(parent.ExpiresAt) {
		return "", nil
	}
	t.ExpiresAt = parent.ExpiresAt
	return "the new token expires at " + t.ExpiresAt.UTC().Format(time.RFC3339) +
		", with the token that created it; create long-lived tokens from a browser session with your authenticator app", nil
}

// tokenFactor is the second factor a token needs from a browser session:
// a current code from the caller's authenticator app (checked here,
// recorded with the token), or none when the session's second factor was
// verified within TokenFactorFresh. A session can be stolen from an
// unlocked screen for its remaining hours; a token would outlive it by
// months. Principals that are not sessions (tokens, the system) need none.
func (s *Identity) tokenFactor(ctx context.Context, p *lanyard.Principal, code string) (*codeCheck, error) {
	if !p.Session {
		return nil, nil
	}
	if strings.TrimSpace(code) != "" {
		return s.checkCode(ctx, p.User, p.RemoteAddr, code, confirmedApp)
	}
	if !p.SecondFactorAt.IsZero() && s.rec.Clock().Sub(p.SecondFactorAt) <= TokenFactorFresh {
		return nil, nil
	}
	return nil, lanyard.Errorf(lanyard.ESecondFactorRequired,
		"creating an API token from a browser session needs a fresh second factor: send a current code from your authenticator app as \"code\" (none set up? set one up in Self-Service → Authenticator app)")
}

// ListTokens lists the caller's tokens, or everyone's for administrators
// asking with all=true.
func (s *Identity) ListTokens(ctx context.Context, p *lanyard.Principal, all bool) ([]*lanyard.APIToken, error) {
	uid := p.User.ID
	if all {
		if !p.Has(lanyard.RoleAdministrator) {
			return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator can list all tokens")
		}
		uid = 0
	}
	var out []*lanyard.APIToken
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListTokens(uid); return })
	return out, err
}

// RevokeToken revokes a token of the caller (or anyone's, for
// administrators).
func (s *Identity) RevokeToken(ctx context.Context, p *lanyard.Principal, id int64) error {
	var owner int64
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		t, err := tx.TokenByID(id)
		if err != nil {
			return err
		}
		owner = t.UserID
		if t.UserID != p.User.ID && !p.Has(lanyard.RoleAdministrator) {
			return lanyard.Errorf(lanyard.ENotFound, "token %d not found", id)
		}
		if err := tx.RevokeToken(id); err != nil {
			return err
		}
		if err := notifyUserChanged(tx, t.UserID); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "token.revoke", "token", strconv.FormatInt(id, 10), nil))
	})
	if owner != 0 {
		s.tokenCache.PurgeTag(owner) // after commit; the owner's tokens only
	}
	if err == nil {
		s.tokensRevoked()
	}
	return err
}

// AuthenticateToken resolves a bearer secret to a principal. Unknown,
// expired, revoked and disabled all yield the same EUnauthenticated error
// so callers learn nothing from the difference.
func (s *Identity) AuthenticateToken(ctx context.Context, secret, remote string) (*lanyard.Principal, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "invalid or expired API token")
	if !auth.LooksLikeToken(secret) {
		return nil, bad
	}
	hash := auth.HashToken(secret)
	key := string(hash)
	gen := s.tokenCache.Gen() // a value read before a purge is not cached after it
	ta, ok := s.tokenCache.Get(key)
	if !ok {
		err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			var err error
			if ta.token, err = tx.TokenByHash(hash); err != nil {
				return err
			}
			ta.user, err = tx.UserByID(ta.token.UserID)
			return err
		})
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return nil, bad
		}
		if err != nil {
			return nil, err
		}
		s.tokenCache.PutSinceTag(gen, key, ta, ta.user.ID)
	}
	t, u := ta.token, ta.user
	now := s.rec.Clock()
	if t.Revoked || u.Disabled || !now.Before(t.ExpiresAt) {
		return nil, bad
	}
	if now.Sub(t.LastUsedAt) > tokenTouchEvery {
		// Best effort: a failed touch must not fail the request.
		if err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.TouchToken(t.ID, now) }); err != nil {
			s.log.Warn("token last-used update failed", "token", t.ID, "err", err)
		}
		touched := *t
		touched.LastUsedAt = now
		s.tokenCache.PutSinceTag(gen, key, tokenAuth{token: &touched, user: u}, u.ID)
	}
	return &lanyard.Principal{User: u, Roles: t.Roles.Intersect(u.Roles), TokenID: t.ID, RemoteAddr: remote}, nil
}

// tokenAuth is a cached token lookup; both values are read-only.
type tokenAuth struct {
	token *lanyard.APIToken
	user  *lanyard.User
}

// confirmedApp accepts only a confirmed authenticator app: an app being
// set up is no second factor yet.
func confirmedApp(e *lanyard.TOTPEnrollment) error {
	if !e.Confirmed() {
		return lanyard.Errorf(lanyard.ESecondFactorRequired, msgEnrollFirst)
	}
	return nil
}

// TokenWorks reports whether the API token secret would authenticate
// now (known, not revoked, not expired, its owner not disabled), without
// authenticating with it: its last-used time stays as it is. lanyard
// serve asks it of the bootstrap token to delete the token's file once it
// is dead.
func (s *Identity) TokenWorks(ctx context.Context, secret string) (bool, error) {
	if !auth.LooksLikeToken(secret) {
		return false, nil
	}
	var t *lanyard.APIToken
	var u *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if t, err = tx.TokenByHash(auth.HashToken(secret)); err != nil {
			return err
		}
		u, err = tx.UserByID(t.UserID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !t.Revoked && !u.Disabled && s.rec.Clock().Before(t.ExpiresAt), nil
}
