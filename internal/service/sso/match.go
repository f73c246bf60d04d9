package sso

import (
	"context"
	"slices"
	"strings"
	"time"
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
		if err := emailVerified(claims); err != nil {
			return "", err
		}
	}
	return v, nil
}

// emailVerified refuses claims without email_verified true.
func emailVerified(claims map[string]any) error {
	if verified, _ := claims["email_verified"].(bool); !verified {
		return refuse("email not verified", "the provider does not say that your e-mail address is verified, so it cannot find your account")
	}
	return nil
}

// matchValue is the claim value p matches accounts with. UPNs and
// e-mail addresses are compared ignoring case, and only ASCII case:
// the database's lower() folds other characters too under UTF-8 (the
// Kelvin sign U+212A to k, U+0130 to i), so a provider account named
// with them would match another person's account; such a value is
// refused. Matching on e-mail needs the provider to say the address is
// verified whatever the claim (OpenID Connect Core 5.1), and a claim
// other than email must be that verified address.
func matchValue(p *lanyard.OIDCProvider, claims map[string]any) (string, error) {
	value, err := ClaimValue(claims, p.Claim)
	if err != nil {
		return "", err
	}
	if p.MatchAttribute == lanyard.MatchLogin {
		return value, nil
	}
	if !isASCII(value) {
		return "", refuse("claim not ASCII", "the ID token's "+p.Claim+" claim has characters other than ASCII; Lanyard matches "+string(p.MatchAttribute)+" values in ASCII only")
	}
	if p.MatchAttribute == lanyard.MatchEmail {
		if err := emailVerified(claims); err != nil {
			return "", err
		}
		if e, _ := claims["email"].(string); p.Claim != "email" && !asciiEqualFold(strings.TrimSpace(e), value) {
			return "", refuse("email not verified", "the provider does not say that the address in its "+p.Claim+" claim is your verified e-mail address")
		}
	}
	return value, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiEqualFold is strings.EqualFold for ASCII letters only: any other
// byte must be equal.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// MaxAge is the max_age (OpenID Connect Core 3.1.2.1) Lanyard asks of
// a provider whose amr or acr values count as a second factor: the
// provider must have authenticated the person within it, and the ID
// token's auth_time says when. A second factor asserted for an older
// authentication (a session at the provider hours old) does not count:
// Lanyard then asks for its own.
const MaxAge = 5 * time.Minute

// authTimeSkew is how far a provider's clock may be off Lanyard's.
const authTimeSkew = time.Minute

// secondFactor is the amr (RFC 8176) or acr value of the ID token that
// p counts as a second factor, "" for none, and when the provider
// authenticated the person (auth_time). Without an auth_time within
// MaxAge of now nothing counts.
func secondFactor(p *lanyard.OIDCProvider, claims map[string]any, now time.Time) (string, time.Time) {
	f := ""
	if amr, ok := claims["amr"].([]any); ok {
		for _, a := range amr {
			if s, ok := a.(string); ok && slices.Contains(p.AMR, s) {
				f = "amr=" + s
				break
			}
		}
	}
	if acr, ok := claims["acr"].(string); f == "" && ok && acr != "" && slices.Contains(p.ACR, acr) {
		f = "acr=" + acr
	}
	if f == "" {
		return "", time.Time{}
	}
	sec, ok := claims["auth_time"].(float64)
	if !ok || sec <= 0 || sec > 1e12 {
		return "", time.Time{}
	}
	at := time.Unix(int64(sec), 0)
	if at.Before(now.Add(-MaxAge-authTimeSkew)) || at.After(now.Add(authTimeSkew)) {
		return "", time.Time{}
	}
	if at.After(now) {
		at = now
	}
	return f, at
}

// signIn maps verified claims to exactly one account:
//
//  1. an account made just in time for this issuer and subject
//     (ExternalID), whatever the claim says now;
//  2. else the accounts whose MatchAttribute equals the claim (upn and
//     email ignoring ASCII case, their claim values ASCII only, see
//     matchValue; login exactly): one is the account; none
//     makes one just in time when p allows it and is offered for
//     Self-Service (the new account is no staff), else is refused; several
//     are refused, never merged; an account made just in time for
//     another subject is refused too (it is that subject's), and so is
//     an account bound to another subject (oidc_bindings);
//  3. a disabled account is refused; a staff account needs p enabled for
//     the console, any other for Self-Service;
//  4. an account not yet bound is bound to this subject (bind), a staff
//     account only when p matches UPNs: the help desk sets e-mail
//     addresses and logins, only administrators UPNs (docs/security.md,
//     "Single sign-on").
func (s *SSO) signIn(ctx context.Context, p *lanyard.OIDCProvider, c *idClaims) (*SignIn, error) {
	value, err := matchValue(p, c.all)
	if err != nil {
		return nil, err
	}
	ext := ExternalID(c.Issuer, c.Subject)
	var u *lanyard.User
	var matches []*lanyard.User
	var binding string // the subject matches[0] is bound to, if any
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if u, err = tx.UserByExternalID(lanyard.SourceOIDC, 0, ext); err == nil || !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		if matches, err = findUsers(tx, p.MatchAttribute, value); err != nil || len(matches) != 1 {
			return err
		}
		binding, err = tx.OIDCBinding(matches[0].ID)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return nil
		}
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
			if u.Source == lanyard.SourceOIDC && u.ExternalID != ext || binding != "" && binding != ext {
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
	if !created && u.Source != lanyard.SourceOIDC && binding == "" {
		// The first sign-in binds the account to this subject. A staff
		// account binds only by its UPN, which administrators alone
		// set: the help desk sets e-mail addresses (and logins) of
		// users, and one it set to an address it holds at the provider
		// must not open the account of someone later made staff.
		if u.Roles.Staff() && p.MatchAttribute != lanyard.MatchUPN {
			r := refuse("staff account not bound", "a staff account signs in at "+p.DisplayName+" for the first time only through a provider that matches UPNs; sign in with your password")
			r.user = u
			return nil, r
		}
		if s.beforeBind != nil {
			s.beforeBind()
		}
		if err := s.bind(ctx, p, u, ext); err != nil {
			return nil, err
		}
	}
	f, at := secondFactor(p, c.all, s.rec.Clock())
	return &SignIn{User: u, Provider: p.Name, Subject: ext, Console: p.Console, SelfService: p.SelfService,
		SecondFactor: f, SecondFactorAt: at, Created: created}, nil
}

// bind binds u to the provider subject ext, with its audit event. signIn
// decided from a copy of u read in an earlier transaction; the account is
// read again in this one and must still be what was matched: the same
// login, e-mail address and UPN, enabled, not bound, and of the same
// class — an account made staff meanwhile (or whose matched attribute
// changed) would otherwise be bound without the staff rules of signIn
// (UPN only, a provider enabled for the console). Anything changed
// refuses the sign-in; the next one decides afresh.
func (s *SSO) bind(ctx context.Context, p *lanyard.OIDCProvider, u *lanyard.User, ext string) error {
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(&lanyard.Principal{User: u}, "user.oidc_bind", "user", u.Login,
			map[string]any{"provider": p.Name, "subject": ext, "match_attribute": p.MatchAttribute})
	}, func(tx lanyard.Tx) error {
		now, err := tx.UserByID(u.ID)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return refuse("account changed during sign-in", "your Lanyard account was deleted while you signed in")
		}
		if err != nil {
			return err
		}
		if changedSince(u, now) {
			r := refuse("account changed during sign-in", "your Lanyard account was changed while you signed in; sign in again")
			r.user = now
			return r
		}
		// Bound meanwhile by another sign-in: only one subject wins.
		if sub, err := tx.OIDCBinding(u.ID); err == nil && sub != ext {
			return refuse("account of another subject", "the Lanyard account belongs to another sign-in; nothing was merged")
		} else if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		return tx.SetOIDCBinding(u.ID, ext, s.rec.Clock())
	})
}

// changedSince reports whether account now differs from the copy was
// in what signIn decided by: login, e-mail, UPN, source, disabled, and
// staff or not.
func changedSince(was, now *lanyard.User) bool {
	return now.Login != was.Login || now.Email != was.Email || now.UPN != was.UPN || now.Source != was.Source ||
		now.Disabled != was.Disabled || now.Roles.Staff() != was.Roles.Staff()
}

// findUsers lists the accounts whose attr equals value.
func findUsers(tx lanyard.UserStore, attr lanyard.OIDCMatch, value string) ([]*lanyard.User, error) {
	var u *lanyard.User
	var err error
	switch attr {
	case lanyard.MatchEmail:
		list, err := tx.UsersByEmail(value)
		if err != nil {
			return nil, err
		}
		// The store compares with lower(): keep the accounts whose
		// address equals the value in ASCII case only (matchValue).
		return slices.DeleteFunc(list, func(u *lanyard.User) bool { return !asciiEqualFold(u.Email, value) }), nil
	case lanyard.MatchUPN:
		u, err = tx.UserByUPN(value)
		if err == nil && !asciiEqualFold(u.UPN, value) {
			return nil, nil
		}
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
// else the claim; e-mail only when the provider says it is verified
// (OpenID Connect Core 5.1) and it is ASCII. Never a UPN: a UPN names a
// Windows account in smart card logon certificates, and only an
// administrator sets one (identity's rule for account changes); a claim
// the person may choose at the provider (preferred_username, upn) must
// not become administrator@corp's UPN. One transaction with its audit
// event; a login another account holds refuses the sign-in (no merge).
func (s *SSO) createUser(ctx context.Context, p *lanyard.OIDCProvider, c *idClaims, value, ext string) (*lanyard.User, error) {
	login := value
	if pu, _ := c.all["preferred_username"].(string); p.MatchAttribute != lanyard.MatchLogin && lanyard.ValidLogin(pu) {
		login = pu
	}
	if !lanyard.ValidLogin(login) {
		return nil, refuse("no usable login", "cannot create your Lanyard account: "+login+" is not a usable login; ask an administrator")
	}
	now := s.rec.Clock()
	u := &lanyard.User{Login: login, DisplayName: displayName(c.all), Roles: lanyard.Roles{lanyard.RoleUser}, Groups: []string{},
		Source: lanyard.SourceOIDC, ExternalID: ext, CreatedAt: now, UpdatedAt: now}
	if e, _ := c.all["email"].(string); e != "" && len(e) <= maxClaim && isASCII(e) && strings.IndexFunc(e, unicode.IsControl) < 0 && emailVerified(c.all) == nil {
		u.Email = strings.TrimSpace(e)
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(&lanyard.Principal{User: u}, "user.create", "user", u.Login,
			map[string]any{"source": "oidc", "provider": p.Name, "roles": u.Roles, "just_in_time": true})
	}, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	if lanyard.IsCode(err, lanyard.EConflict) {
		return nil, refuse("just-in-time login taken", "cannot create your Lanyard account: the login "+login+" belongs to another account; nothing was merged, ask an administrator")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
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
