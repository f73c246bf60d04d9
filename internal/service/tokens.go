package service

import (
	"context"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 2 * 365 * 24 * time.Hour
	// tokenTouchEvery limits last-used updates, which would otherwise turn
	// every API read into a write.
	tokenTouchEvery = 5 * time.Minute
)

// TokenInput creates an API token.
type TokenInput struct {
	User  string        `json:"user"`            // login; default: the caller
	Name  string        `json:"name,omitempty"`  // label
	Roles lanyard.Roles `json:"roles,omitempty"` // scope; default: all of the owner's roles
	TTL   string        `json:"ttl,omitempty"`   // Go duration, e.g. "720h"; default 90 days
}

// NewToken is a created token; Secret is shown once and never stored.
type NewToken struct {
	Secret string            `json:"token"`
	Token  *lanyard.APIToken `json:"info"`
}

// CreateToken issues an API token. Administrators may create tokens for
// anyone; others only for themselves, scoped to roles they hold.
func (s *Service) CreateToken(ctx context.Context, p *Principal, in TokenInput) (*NewToken, error) {
	if in.User == "" {
		in.User = p.User.Login
	}
	if in.User != p.User.Login && !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator can create tokens for other users")
	}
	ttl := DefaultTokenTTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d <= 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "ttl %q: want a positive duration such as 24h or 720h", in.TTL)
		}
		if d > MaxTokenTTL {
			return nil, lanyard.Errorf(lanyard.EInvalid, "ttl %s exceeds the maximum of %s", d, MaxTokenTTL)
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
	secret, prefix, hash, err := auth.NewToken(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a token")
	}
	now := s.clock()
	t := &lanyard.APIToken{Name: in.Name, Prefix: prefix, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = s.store.Update(ctx, func(tx lanyard.Tx) error {
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
		if err := tx.CreateToken(t); err != nil {
			return err
		}
		return tx.AppendAudit(s.event(p, "token.create", "token", strconv.FormatInt(t.ID, 10),
			map[string]any{"user": u.Login, "roles": t.Roles, "expires_at": t.ExpiresAt, "prefix": t.Prefix}))
	})
	if err != nil {
		return nil, err
	}
	return &NewToken{Secret: secret, Token: t}, nil
}

// ListTokens lists the caller's tokens, or everyone's for administrators
// asking with all=true.
func (s *Service) ListTokens(ctx context.Context, p *Principal, all bool) ([]*lanyard.APIToken, error) {
	uid := p.User.ID
	if all {
		if !p.Has(lanyard.RoleAdministrator) {
			return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator can list all tokens")
		}
		uid = 0
	}
	var out []*lanyard.APIToken
	err := s.view(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListTokens(uid); return })
	return out, err
}

// RevokeToken revokes a token of the caller (or anyone's, for
// administrators).
func (s *Service) RevokeToken(ctx context.Context, p *Principal, id int64) error {
	err := s.store.Update(ctx, func(tx lanyard.Tx) error {
		t, err := tx.TokenByID(id)
		if err != nil {
			return err
		}
		if t.UserID != p.User.ID && !p.Has(lanyard.RoleAdministrator) {
			return lanyard.Errorf(lanyard.ENotFound, "token %d not found", id)
		}
		if err := tx.RevokeToken(id); err != nil {
			return err
		}
		return tx.AppendAudit(s.event(p, "token.revoke", "token", strconv.FormatInt(id, 10), nil))
	})
	s.tokenCache.purge() // after commit
	if err == nil {
		s.tokensRevoked()
	}
	return err
}

// AuthenticateToken resolves a bearer secret to a principal. Unknown,
// expired, revoked and disabled all yield the same EUnauthenticated error
// so callers learn nothing from the difference.
func (s *Service) AuthenticateToken(ctx context.Context, secret, remote string) (*Principal, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "invalid or expired API token")
	if !auth.LooksLikeToken(secret) {
		return nil, bad
	}
	hash := auth.HashToken(secret)
	key := string(hash)
	ta, ok := s.tokenCache.get(key)
	if !ok {
		err := s.view(ctx, func(tx lanyard.Tx) error {
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
		s.tokenCache.put(key, ta)
	}
	t, u := ta.token, ta.user
	now := s.clock()
	if t.Revoked || u.Disabled || !now.Before(t.ExpiresAt) {
		return nil, bad
	}
	if now.Sub(t.LastUsedAt) > tokenTouchEvery {
		// Best effort: a failed touch must not fail the request.
		if err := s.store.Update(ctx, func(tx lanyard.Tx) error { return tx.TouchToken(t.ID, now) }); err != nil {
			s.log.Warn("token last-used update failed", "token", t.ID, "err", err)
		}
		touched := *t
		touched.LastUsedAt = now
		s.tokenCache.put(key, tokenAuth{token: &touched, user: u})
	}
	return &Principal{User: u, Roles: t.Roles.Intersect(u.Roles), TokenID: t.ID, RemoteAddr: remote}, nil
}

// tokenAuth is a cached token lookup; both values are read-only.
type tokenAuth struct {
	token *lanyard.APIToken
	user  *lanyard.User
}
