package sso_test

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// The matching of verified claims to accounts (match.go), on SQLite
// here and on PostgreSQL in match_pg_test.go: the store's lower() is
// what differs.

const issuer = "https://idp.example.test"

func TestMatchSQLite(t *testing.T) {
	runMatch(t, func(t *testing.T) *servicetest.Stack { return servicetest.New(t, servicetest.Options{}) })
}

func runMatch(t *testing.T, stack func(t *testing.T) *servicetest.Stack) {
	t.Run("ASCIIOnly", func(t *testing.T) { testMatchASCII(t, stack(t)) })
	t.Run("JustInTimeNoUPN", func(t *testing.T) { testJustInTimeNoUPN(t, stack(t)) })
	t.Run("Binding", func(t *testing.T) { testBinding(t, stack(t)) })
	t.Run("EmailVerified", func(t *testing.T) { testEmailVerified(t, stack(t)) })
	t.Run("ChangedBeforeBind", func(t *testing.T) { testChangedBeforeBind(t, stack(t)) })
}

func matchProvider(attr lanyard.OIDCMatch, claim string) *lanyard.OIDCProvider {
	p := storetest.NewOIDCProvider("corp")
	p.Issuer, p.MatchAttribute, p.Claim = issuer, attr, claim
	return p
}

func claims(sub string, kv ...any) map[string]any {
	c := map[string]any{"iss": issuer, "sub": sub}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	return c
}

func matchUser(t *testing.T, st *servicetest.Stack, login, email, upn string, roles ...lanyard.Role) *lanyard.User {
	t.Helper()
	u := storetest.NewUser(login)
	u.Email, u.UPN, u.Roles, u.Groups = email, upn, lanyard.Roles(roles), []string{}
	storetest.MustUpdate(t, st.Store, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	return u
}

func wantSignIn(t *testing.T, what string, in *sso.SignIn, err error, u *lanyard.User) {
	t.Helper()
	if err != nil || in.User.ID != u.ID {
		t.Fatalf("%s: %v, want %s's account", what, err, u.Login)
	}
}

func wantRefusal(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if got, _ := sso.Refusal(err); got != reason {
		t.Fatalf("%s: %v (reason %q), want refusal %q", what, err, got, reason)
	}
}

// testMatchASCII: UPNs and e-mail addresses match ignoring ASCII case
// only; a claim with the Kelvin sign (U+212A, which PostgreSQL's lower()
// folds to k) or a dotted capital I (U+0130) is refused, not matched
// with kevin's or ida's account.
func testMatchASCII(t *testing.T, st *servicetest.Stack) {
	s, ctx := st.Service.SSO, t.Context()
	kevin := matchUser(t, st, "kevin", "kevin@corp.example", "kevin@corp.example")
	matchUser(t, st, "ida", "ida@corp.example", "ida@corp.example")
	email, upn := matchProvider(lanyard.MatchEmail, "email"), matchProvider(lanyard.MatchUPN, "upn")
	for _, v := range []string{"\u212aevin@corp.example", "\u0130da@corp.example", "kevin@corp.exampl\u212a"} {
		_, err := s.SignInClaims(ctx, email, claims("s-"+v, "email", v, "email_verified", true))
		wantRefusal(t, "e-mail "+v, err, "claim not ASCII")
		_, err = s.SignInClaims(ctx, upn, claims("s-"+v, "upn", v))
		wantRefusal(t, "UPN "+v, err, "claim not ASCII")
	}
	in, err := s.SignInClaims(ctx, email, claims("s-kevin", "email", "KEVIN@Corp.Example", "email_verified", true))
	wantSignIn(t, "e-mail in other ASCII case", in, err, kevin)
	in, err = s.SignInClaims(ctx, upn, claims("s-kevin", "upn", "Kevin@CORP.example"))
	wantSignIn(t, "UPN in other ASCII case", in, err, kevin)
}

// testJustInTimeNoUPN: a just-in-time account gets no UPN, whatever the
// claim (only an administrator sets UPNs), and no unverified e-mail.
func testJustInTimeNoUPN(t *testing.T, st *servicetest.Stack) {
	s, ctx := st.Service.SSO, t.Context()
	p := matchProvider(lanyard.MatchUPN, "upn")
	p.JIT, p.SelfService = true, true
	in, err := s.SignInClaims(ctx, p, claims("s-new", "upn", "administrator@corp.example", "preferred_username", "newbie",
		"email", "newbie@corp.example", "email_verified", false))
	if err != nil || !in.Created {
		t.Fatalf("just in time: %v", err)
	}
	var u *lanyard.User
	storetest.MustView(t, st.Store, func(tx lanyard.Tx) (err error) { u, err = tx.UserByID(in.User.ID); return })
	if u.UPN != "" || u.Email != "" || u.Login != "newbie" {
		t.Fatalf("just-in-time account has UPN %q, e-mail %q, login %q; want none, none, newbie", u.UPN, u.Email, u.Login)
	}
	p.MatchAttribute, p.Claim = lanyard.MatchLogin, "preferred_username"
	in, err = s.SignInClaims(ctx, p, claims("s-new2", "preferred_username", "second", "email", "second@corp.example", "email_verified", true))
	if err != nil || in.User.Email != "second@corp.example" || in.User.UPN != "" {
		t.Fatalf("just in time with a verified e-mail: %v, %+v", err, in)
	}
}

// testBinding: an account is bound to the provider subject of its first
// sign-in; another subject with the same e-mail is refused; a change of
// the e-mail (here: by the help desk) or of the roles unbinds it; a
// staff account binds only through a UPN match, and once bound signs in
// by e-mail too.
func testBinding(t *testing.T, st *servicetest.Stack) {
	s, ctx := st.Service.SSO, t.Context()
	email := matchProvider(lanyard.MatchEmail, "email")
	email.Console = true
	bob := matchUser(t, st, "bob", "bob@corp.example", "")
	in, err := s.SignInClaims(ctx, email, claims("s-bob", "email", "bob@corp.example", "email_verified", true))
	wantSignIn(t, "first sign-in", in, err, bob)
	_, err = s.SignInClaims(ctx, email, claims("s-mallory", "email", "bob@corp.example", "email_verified", true))
	wantRefusal(t, "another subject with bob's e-mail", err, "account of another subject")
	in, err = s.SignInClaims(ctx, email, claims("s-bob", "email", "Bob@corp.example", "email_verified", true))
	wantSignIn(t, "bob again", in, err, bob)

	// The help desk sets bob's e-mail: the binding goes, the next
	// sign-in binds afresh; bob's promotion to staff unbinds again and
	// a staff account does not bind by e-mail.
	bob.Email = "helpdesk@corp.example"
	storetest.MustUpdate(t, st.Store, func(tx lanyard.Tx) error { return tx.UpdateUser(bob) })
	in, err = s.SignInClaims(ctx, email, claims("s-helpdesk", "email", "helpdesk@corp.example", "email_verified", true))
	wantSignIn(t, "after the e-mail change", in, err, bob)
	bob.Roles = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}
	storetest.MustUpdate(t, st.Store, func(tx lanyard.Tx) error { return tx.UpdateUser(bob) })
	_, err = s.SignInClaims(ctx, email, claims("s-helpdesk", "email", "helpdesk@corp.example", "email_verified", true))
	wantRefusal(t, "staff by e-mail, unbound after the promotion", err, "staff account not bound")

	oscar := matchUser(t, st, "oscar", "oscar@corp.example", "oscar@corp.example", lanyard.RoleUser, lanyard.RoleOperator)
	_, err = s.SignInClaims(ctx, email, claims("s-oscar", "email", "oscar@corp.example", "email_verified", true))
	wantRefusal(t, "staff by e-mail, never bound", err, "staff account not bound")
	upn := matchProvider(lanyard.MatchUPN, "upn")
	upn.Console = true
	in, err = s.SignInClaims(ctx, upn, claims("s-oscar", "upn", "oscar@corp.example"))
	wantSignIn(t, "staff by UPN", in, err, oscar)
	in, err = s.SignInClaims(ctx, email, claims("s-oscar", "email", "oscar@corp.example", "email_verified", true))
	wantSignIn(t, "staff by e-mail once bound", in, err, oscar)
	_, err = s.SignInClaims(ctx, upn, claims("s-other", "upn", "oscar@corp.example"))
	wantRefusal(t, "staff by UPN from another subject", err, "account of another subject")
	var n int
	storetest.MustView(t, st.Store, func(tx lanyard.Tx) (err error) {
		events, err := tx.ListAudit(lanyard.AuditFilter{Action: "user.oidc_bind", Limit: 100})
		n = len(events)
		return
	})
	if n != 3 { // bob twice, oscar once
		t.Errorf("%d user.oidc_bind events, want 3", n)
	}
}

// testEmailVerified: matching on e-mail needs email_verified whatever
// the claim, and a claim other than email must be the verified address.
func testEmailVerified(t *testing.T, st *servicetest.Stack) {
	s, ctx := st.Service.SSO, t.Context()
	bob := matchUser(t, st, "bob", "bob@corp.example", "")
	p := matchProvider(lanyard.MatchEmail, "preferred_username")
	_, err := s.SignInClaims(ctx, p, claims("s-bob", "preferred_username", "bob@corp.example"))
	wantRefusal(t, "no email_verified", err, "email not verified")
	_, err = s.SignInClaims(ctx, p, claims("s-bob", "preferred_username", "bob@corp.example", "email", "mallory@corp.example", "email_verified", true))
	wantRefusal(t, "claim is not the verified address", err, "email not verified")
	in, err := s.SignInClaims(ctx, p, claims("s-bob", "preferred_username", "bob@corp.example", "email", "bob@corp.example", "email_verified", true))
	wantSignIn(t, "claim is the verified address", in, err, bob)
}

// TestSecondFactorFresh: the provider's amr counts only with an
// auth_time within MaxAge, and dates the second factor from then.
func TestSecondFactorFresh(t *testing.T) {
	p := matchProvider(lanyard.MatchEmail, "email")
	p.AMR = []string{"mfa"}
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		authTime any
		want     string
	}{
		{"fresh", float64(now.Add(-time.Minute).Unix()), "amr=mfa"},
		{"old", float64(now.Add(-sso.MaxAge - 2*time.Minute).Unix()), ""},
		{"missing", nil, ""},
		{"future", float64(now.Add(time.Hour).Unix()), ""},
		{"not a number", "yesterday", ""},
	} {
		c := map[string]any{"amr": []any{"pwd", "mfa"}}
		if tc.authTime != nil {
			c["auth_time"] = tc.authTime
		}
		f, at := sso.SecondFactor(p, c, now)
		if f != tc.want || (f != "" && !at.Equal(now.Add(-time.Minute))) || (f == "" && !at.IsZero()) {
			t.Errorf("%s: second factor %q at %v, want %q", tc.name, f, at, tc.want)
		}
	}
}

// testChangedBeforeBind: signIn decides from an account read in one
// transaction and binds it in another; an administrator's change in
// between (here: the promotion of a plain user to staff, matched by
// e-mail, which a staff account never binds by; or a new e-mail address)
// refuses the sign-in and binds nothing. Once the change is in, the
// next sign-in decides by the staff rules.
func testChangedBeforeBind(t *testing.T, st *servicetest.Stack) {
	s, ctx := st.Service.SSO, t.Context()
	email := matchProvider(lanyard.MatchEmail, "email")
	email.Console, email.SelfService = true, true
	rita := matchUser(t, st, "rita", "rita@corp.example", "")
	bound := func() string {
		var sub string
		storetest.MustView(t, st.Store, func(tx lanyard.Tx) (err error) {
			sub, err = tx.OIDCBinding(rita.ID)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				return nil
			}
			return err
		})
		return sub
	}
	change := func(f func(u *lanyard.User)) func() {
		return func() {
			storetest.MustUpdate(t, st.Store, func(tx lanyard.Tx) error {
				u, err := tx.UserByID(rita.ID)
				if err != nil {
					return err
				}
				f(u)
				return tx.UpdateUser(u)
			})
		}
	}
	ritaClaims := claims("s-rita", "email", "rita@corp.example", "email_verified", true)

	s.SetBeforeBind(change(func(u *lanyard.User) { u.Email = "someone@corp.example" }))
	_, err := s.SignInClaims(ctx, email, ritaClaims)
	wantRefusal(t, "e-mail changed before the bind", err, "account changed during sign-in")
	if sub := bound(); sub != "" {
		t.Fatalf("bound to %q after the e-mail changed", sub)
	}
	change(func(u *lanyard.User) { u.Email = "rita@corp.example" })()

	s.SetBeforeBind(change(func(u *lanyard.User) { u.Roles = lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator} }))
	_, err = s.SignInClaims(ctx, email, ritaClaims)
	wantRefusal(t, "promoted to staff before the bind", err, "account changed during sign-in")
	if sub := bound(); sub != "" {
		t.Fatalf("staff account bound by e-mail to %q", sub)
	}
	s.SetBeforeBind(nil)
	_, err = s.SignInClaims(ctx, email, ritaClaims)
	wantRefusal(t, "staff by e-mail after the promotion", err, "staff account not bound")
}
