package sso

import (
	"context"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// idClaims are a verified ID token's claims.
type idClaims struct {
	Issuer, Subject string
	all             map[string]any
}

// ExternalID is the account identifier of a just-in-time account: the
// issuer and subject together, the only claims that identify an
// end-user stably across sign-ins (OpenID Connect Core 5.7). An issuer
// has no fragment (validIssuer), so "#" separates them unambiguously.
func ExternalID(issuer, subject string) string { return issuer + "#" + subject }

// maxClaim is the longest claim value matched with an account.
const maxClaim = 256

// ClaimValue is the value of the provider's matching claim name in
// claims: a non-empty string of at most maxClaim bytes without control
// characters. The email claim counts only with email_verified true
// (OpenID Connect Core 5.1: an unverified address proves nothing about
// who holds the account).
func ClaimValue(claims map[string]any, name string) (string, error) {
	v, ok := claims[name].(string)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return "", refuse("claim missing", "the ID token has no "+name+" claim to find your Lanyard account by; an administrator checks the provider's scopes and claim")
	}
	if len(v) > maxClaim || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "", refuse("claim malformed", "the ID token's "+name+" claim is not a usable name")
	}
	if name == "email" {
		if verified, _ := claims["email_verified"].(bool); !verified {
			return "", refuse("email not verified", "the provider does not say that your e-mail address is verified, so it cannot find your account")
		}
	}
	return v, nil
}

// secondFactor is the amr (RFC 8176) or acr value of the ID token that
// p counts as a second factor, "" for none.
func secondFactor(p *lanyard.OIDCProvider, claims map[string]any) string {
	if amr, ok := claims["amr"].([]any); ok {
		for _, a := range amr {
			if s, ok := a.(string); ok && slices.Contains(p.AMR, s) {
				return "amr=" + s
			}
		}
	}
	if acr, ok := claims["acr"].(string); ok && acr != "" && slices.Contains(p.ACR, acr) {
		return "acr=" + acr
	}
	return ""
}

// signIn maps verified claims to exactly one account:
//
//  1. an account made just in time for this issuer and subject
//     (ExternalID), whatever the claim says now;
//  2. else the accounts whose MatchAttribute equals the claim (upn and
//     email ignoring case, login exactly): one is the account; none
//     makes one just in time when p allows it and is offered for
//     Self-Service (the new account is no staff), else is refused; several
//     are refused, never merged; an account made just in time for
//     another subject is refused too (it is that subject's);
//  3. a disabled account is refused; a staff account needs p enabled for
//     the console, any other for Self-Service.
func (s *SSO) signIn(ctx context.Context, p *lanyard.OIDCProvider, c *idClaims) (*SignIn, error) {
	value, err := ClaimValue(c.all, p.Claim)
	if err != nil {
		return nil, err
	}
	ext := ExternalID(c.Issuer, c.Subject)
	var u *lanyard.User
	var matches []*lanyard.User
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if u, err = tx.UserByExternalID(lanyard.SourceOIDC, 0, ext); err == nil || !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		matches, err = findUsers(tx, p.MatchAttribute, value)
		return err
	})
	if err != nil {
		return nil, err
	}
	created := false
	if u == nil {
		switch len(matches) {
		case 0:
			// A just-in-time account holds the role user only, so only
			// a provider offered for Self-Service makes one.
			if !p.JIT || !p.SelfService {
				return nil, refuse("no matching account", "no Lanyard account has the "+string(p.MatchAttribute)+" "+value+"; ask an administrator to create yours")
			}
			if u, err = s.createUser(ctx, p, c, value, ext); err != nil {
				return nil, err
			}
			created = true
		case 1:
			u = matches[0]
			if u.Source == lanyard.SourceOIDC && u.ExternalID != ext {
				r := refuse("account of another subject", "the Lanyard account with the "+string(p.MatchAttribute)+" "+value+" belongs to another sign-in; nothing was merged")
				r.user = u
				return nil, r
			}
		default:
			return nil, refuse("several matching accounts", "more than one Lanyard account has the "+string(p.MatchAttribute)+" "+value+"; nothing was merged, an administrator must make it unique")
		}
	}
	if u.Disabled {
		r := refuse("account disabled", "your Lanyard account is disabled")
		r.user = u
		return nil, r
	}
	if staff := u.Roles.Staff(); staff && !p.Console || !staff && !p.SelfService {
		what := "Self-Service"
		if staff {
			what = "staff accounts (the console)"
		}
		r := refuse("provider not enabled for the account", p.DisplayName+" is not enabled for "+what+"; sign in with your password")
		r.user = u
		return nil, r
	}
	return &SignIn{User: u, Provider: p.Name, SecondFactor: secondFactor(p, c.all), Created: created}, nil
}

// findUsers lists the accounts whose attr equals value.
func findUsers(tx lanyard.UserStore, attr lanyard.OIDCMatch, value string) ([]*lanyard.User, error) {
	var u *lanyard.User
	var err error
	switch attr {
	case lanyard.MatchEmail:
		return tx.UsersByEmail(value)
	case lanyard.MatchUPN:
		u, err = tx.UserByUPN(value)
	default:
		u, err = tx.UserByLogin(value)
	}
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []*lanyard.User{u}, nil
}

// createUser makes the just-in-time account of a sign-in: source oidc,
// the role user only (never staff: roles are granted in Lanyard), the
// external ID of issuer and subject; login from the matched claim when
// it is matched with the login, else preferred_username when usable,
// else the claim; e-mail only when verified; the UPN when the claim is
// matched with UPNs. One transaction with its audit event; a login or
// UPN another account holds refuses the sign-in (no merge).
func (s *SSO) createUser(ctx context.Context, p *lanyard.OIDCProvider, c *idClaims, value, ext string) (*lanyard.User, error) {
	login := value
	if pu, _ := c.all["preferred_username"].(string); p.MatchAttribute != lanyard.MatchLogin && validLogin(pu) {
		login = pu
	}
	if !validLogin(login) {
		return nil, refuse("no usable login", "cannot create your Lanyard account: "+login+" is not a usable login; ask an administrator")
	}
	now := s.rec.Clock()
	u := &lanyard.User{Login: login, DisplayName: displayName(c.all), Roles: lanyard.Roles{lanyard.RoleUser}, Groups: []string{},
		Source: lanyard.SourceOIDC, ExternalID: ext, CreatedAt: now, UpdatedAt: now}
	if e, _ := c.all["email"].(string); e != "" && len(e) <= maxClaim {
		if v, _ := c.all["email_verified"].(bool); v {
			u.Email = e
		}
	}
	if p.MatchAttribute == lanyard.MatchUPN {
		u.UPN = value
	} else if p.MatchAttribute == lanyard.MatchEmail {
		u.Email = value
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(&lanyard.Principal{User: u}, "user.create", "user", u.Login,
			map[string]any{"source": "oidc", "provider": p.Name, "roles": u.Roles, "just_in_time": true})
	}, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	if lanyard.IsCode(err, lanyard.EConflict) {
		return nil, refuse("just-in-time login taken", "cannot create your Lanyard account: the login "+login+" or its UPN belongs to another account; nothing was merged, ask an administrator")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// validLogin is identity's rule for logins: 1 to 128 ASCII letters,
// digits and - _ . @.
func validLogin(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.@", c) >= 0) {
			return false
		}
	}
	return true
}

// displayName is the name claim, else given and family name, at most
// 200 characters without control characters.
func displayName(claims map[string]any) string {
	n, _ := claims["name"].(string)
	if strings.TrimSpace(n) == "" {
		g, _ := claims["given_name"].(string)
		f, _ := claims["family_name"].(string)
		n = g + " " + f
	}
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(n))
	if utf8.RuneCountInString(n) > 200 {
		n = string([]rune(n)[:200])
	}
	return n
}
