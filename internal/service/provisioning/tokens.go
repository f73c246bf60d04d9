package provisioning

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TokenPrefix begins every SCIM token secret. API tokens begin with
// auth.TokenPrefix ("lyd_"): neither kind is looked up as the other.
const TokenPrefix = "lys_"

// tokenPrefixLen is how much of a secret is kept in clear, as for API
// tokens.
const tokenPrefixLen = 12

// secretLen is 32 random bytes in unpadded base64url.
const secretLen = 43

// tokenTouchEvery limits last-used updates, as for API tokens: a sync
// cycle sends hundreds of requests.
const tokenTouchEvery = 5 * time.Minute

// NewToken is a created SCIM token; Secret is shown once and never
// stored.
type NewToken struct {
	Secret string
	Token  *lanyard.SCIMToken
}

// actorPrefix marks a SCIM client in audit events: "scim:entra". No login
// contains a colon, so a token's name never reads as a person.
const actorPrefix = "scim:"

// CreateToken creates a SCIM token named name (administrators). The
// secret is 256 random bits; only its SHA-256 is stored.
func (s *Provisioning) CreateToken(ctx context.Context, p *lanyard.Principal, name string) (*NewToken, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only administrators create SCIM tokens")
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a SCIM token needs a name of 1 to 64 printable characters, such as entra-id")
	}
	if lanyard.SCIMClient(name) == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a SCIM token's name begins with its client's name (the part before '/'), such as entra or entra/2027")
	}
	id, _, err := auth.NewSessionID(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a token")
	}
	secret := TokenPrefix + id
	t := &lanyard.SCIMToken{Name: name, Prefix: secret[:tokenPrefixLen], Hash: auth.HashToken(secret), CreatedBy: p.User.Login, CreatedAt: s.rec.Clock()}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "scim.token.create", "scim_token", strconv.FormatInt(t.ID, 10), map[string]any{"name": t.Name, "prefix": t.Prefix})
	}, func(tx lanyard.Tx) error { return tx.CreateSCIMToken(t) })
	if err != nil {
		return nil, err
	}
	return &NewToken{Secret: secret, Token: t}, nil
}

// ListTokens lists the SCIM tokens (administrators).
func (s *Provisioning) ListTokens(ctx context.Context, p *lanyard.Principal) ([]*lanyard.SCIMToken, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only administrators list SCIM tokens")
	}
	var out []*lanyard.SCIMToken
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListSCIMTokens(); return })
	return out, err
}

// RevokeToken revokes a SCIM token (administrators); its client is
// refused from the next request on.
func (s *Provisioning) RevokeToken(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.SCIMToken, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only administrators revoke SCIM tokens")
	}
	var t *lanyard.SCIMToken
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "scim.token.revoke", "scim_token", strconv.FormatInt(id, 10), map[string]any{"name": t.Name})
	}, func(tx lanyard.Tx) error {
		var err error
		if t, err = tx.SCIMTokenByID(id); err != nil {
			return err
		}
		if t.Revoked {
			return lanyard.Errorf(lanyard.EConflict, "SCIM token %d is revoked already", id)
		}
		t.Revoked = true
		return tx.RevokeSCIMToken(id)
	})
	return t, err
}

// looksLikeToken reports whether secret has the shape CreateToken makes,
// so that garbage is refused before a database look-up.
func looksLikeToken(secret string) bool {
	rest, ok := strings.CutPrefix(secret, TokenPrefix)
	if !ok || len(rest) != secretLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Authenticate resolves a SCIM bearer secret to the principal of its
// client: no user and no roles (it can do nothing in the API), the
// token's name as the audit events' actor ("scim:<name>"). Unknown and
// revoked tokens (and API tokens) get the same error.
func (s *Provisioning) Authenticate(ctx context.Context, secret, remote string) (*lanyard.Principal, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "invalid or revoked SCIM token")
	if !looksLikeToken(secret) {
		return nil, bad
	}
	var t *lanyard.SCIMToken
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { t, err = tx.SCIMTokenByHash(auth.HashToken(secret)); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if t.Revoked {
		return nil, bad
	}
	now := s.rec.Clock()
	if now.Sub(t.LastUsedAt) > tokenTouchEvery {
		// Best effort: a failed touch must not fail the request.
		if err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.TouchSCIMToken(t.ID, now) }); err != nil {
			s.log.Warn("SCIM token last-used update failed", "token", t.ID, "err", err)
		}
	}
	return &lanyard.Principal{User: &lanyard.User{Login: actorPrefix + t.Name}, Roles: lanyard.Roles{}, RemoteAddr: remote}, nil
}

// clientOf is the SCIM client p (from Authenticate) acts for: its
// token's name up to '/' (lanyard.SCIMClient). Every user and group is
// read and written for that client only, so that one directory (or
// tenant) cannot see or change what another pushed. A principal that
// is no SCIM client's gets "", which owns nothing.
func clientOf(p *lanyard.Principal) string {
	if p == nil || p.User == nil {
		return ""
	}
	name, ok := strings.CutPrefix(p.User.Login, actorPrefix)
	if !ok {
		return ""
	}
	return lanyard.SCIMClient(name)
}
