package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// cardEnv is a service whose built-in CA issues card certificates the
// way a card issue records them: the certificate signed by the CA, its
// record (written, managed) on a card in state issued owned by the user.
type cardEnv struct {
	st    *servicetest.Stack
	clock *servicetest.Clock
}

func newCardEnv(t *testing.T) *cardEnv {
	clock := servicetest.NewClock(time.Now().UTC().Truncate(time.Second))
	return &cardEnv{st: servicetest.New(t, servicetest.Options{Now: clock.Now, CANow: clock.Now}), clock: clock}
}

// user creates a user with a UPN login@example.com and roles.
func (e *cardEnv) user(t *testing.T, login string, roles ...lanyard.Role) *lanyard.User {
	t.Helper()
	pw, upn, email, rs := totpPassword, login+"@example.com", login+"@example.com", lanyard.Roles(roles)
	if len(rs) == 0 {
		rs = lanyard.Roles{lanyard.RoleUser}
	}
	u, err := e.st.Service.Identity.CreateUser(context.Background(), e.st.Admin, identity.UserInput{Login: login, Password: &pw, UPN: &upn, Email: &email, Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// issue is servicetest.IssueCardCert on the env's store, CA and clock.
func (e *cardEnv) issue(t *testing.T, u *lanyard.User, tmpl, cardType string, edit func(*lanyard.Template)) *issued {
	t.Helper()
	c := servicetest.IssueCardCert(t, e.st.Store, e.st.CA, u, tmpl, cardType, e.clock.Now(), edit)
	return &issued{x509: c.X509, rec: c.Record, card: c.Card}
}

// issued is a certificate on a card, as the records hold it.
type issued struct {
	x509 *x509.Certificate
	rec  *lanyard.Certificate
	card *lanyard.Card
}

func (e *cardEnv) update(t *testing.T, fn func(lanyard.Tx) error) {
	t.Helper()
	if err := e.st.Store.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// refused fails unless a card sign-in with chain is refused with a
// message containing want, opening no session.
func (e *cardEnv) refused(t *testing.T, what string, chain []*x509.Certificate, want string) {
	t.Helper()
	res, err := e.st.Service.Identity.CardLogin(context.Background(), chain, remote)
	if res != nil {
		t.Errorf("%s: signed in (%+v), want refused with %q", what, res.User, want)
		return
	}
	servicetest.WantErr(t, what, err, lanyard.EUnauthenticated, want)
}

// TestCardLogin: a card certificate from the built-in CA signs its
// owner in with the card as second factor — a staff account too,
// without the authenticator app's code, and its session is one that
// AuthenticateSession accepts for staff. One session.login event says
// so.
func TestCardLogin(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	for _, u := range []*lanyard.User{e.user(t, "alice"), e.user(t, "sam", lanyard.RoleOperator)} {
		c := e.issue(t, u, "smartcard-logon", "", nil)
		res, err := e.st.Service.Identity.CardLogin(ctx, []*x509.Certificate{c.x509}, remote)
		if err != nil {
			t.Fatalf("%s signing in by card: %v", u.Login, err)
		}
		if res.Session == nil || res.Challenge != nil || res.User.ID != u.ID || res.Session.SecondFactorAt.IsZero() {
			t.Fatalf("%s: session %+v, challenge %v, user %v; want a session with its second factor", u.Login, res.Session, res.Challenge != nil, res.User.Login)
		}
		p, _, err := e.st.Service.Identity.AuthenticateSession(ctx, res.SessionID, remote)
		if err != nil || p.User.ID != u.ID || p.SecondFactorAt.IsZero() {
			t.Fatalf("%s: the card session authenticates as %v, %v", u.Login, p, err)
		}
	}
	evs, err := e.st.Service.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "session.login"})
	if err != nil {
		t.Fatal(err)
	}
	cards := 0
	for _, ev := range evs {
		d := details(t, ev)
		if d["method"] == "card" && d["second_factor"] == true && d["serial"] != "" {
			cards++
		}
	}
	if cards != 2 {
		t.Errorf("session.login events by card: %d, want 2 (%+v)", cards, evs)
	}
}

// TestCardLoginRefusals: each reason a presented certificate does not
// sign in gets its own answer, and no session.
func TestCardLoginRefusals(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	chain := func(c *issued) []*x509.Certificate { return []*x509.Certificate{c.x509} }

	e.refused(t, "no certificate", nil, "no card certificate was presented")

	// Another CA, even one that calls itself what the built-in CA is.
	lanyardChain, err := e.st.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.refused(t, "another CA", []*x509.Certificate{foreignCert(t, pkix.Name{CommonName: "Example Other CA"}, "alice@example.com")}, "not issued by this Lanyard's CA")
	e.refused(t, "an impostor CA of the same name", []*x509.Certificate{foreignCert(t, lanyardChain[0].Subject, "alice@example.com")}, "not issued by this Lanyard's CA")

	revoked := e.issue(t, alice, "smartcard-logon", "", nil)
	if _, err := e.st.Service.PKI.Revoke(ctx, e.st.Admin, revoked.rec.CA, revoked.rec.Serial, lanyard.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	e.refused(t, "revoked", chain(revoked), "revoked (key_compromise)")

	held := e.issue(t, alice, "smartcard-logon", "", nil)
	e.update(t, func(tx lanyard.Tx) error {
		_, err := e.st.Service.PKI.HoldCertificates(ctx, tx, []*lanyard.Certificate{held.rec}, true, func(*lanyard.Certificate) bool { return true })
		return err
	})
	e.refused(t, "on hold", chain(held), "on hold")

	disabled := e.issue(t, alice, "smartcard-logon", "", nil)
	e.update(t, func(tx lanyard.Tx) error {
		disabled.card.State = lanyard.CardDisabled
		return tx.UpdateCard(disabled.card)
	})
	e.refused(t, "card disabled", chain(disabled), "card is disabled")

	cardRevoked := e.issue(t, alice, "smartcard-logon", "", nil)
	e.update(t, func(tx lanyard.Tx) error {
		cardRevoked.card.State = lanyard.CardRevoked
		return tx.UpdateCard(cardRevoked.card)
	})
	e.refused(t, "card revoked", chain(cardRevoked), "card is revoked")

	software := e.issue(t, alice, "smartcard-logon", "software-store", nil)
	e.refused(t, "software store", chain(software), "software certificate store")

	notOnCard := e.issue(t, alice, "smartcard-logon", "", nil)
	e.update(t, func(tx lanyard.Tx) error { notOnCard.rec.CardID = 0; return tx.UpdateCertificate(notOnCard.rec) })
	e.refused(t, "not on a card", chain(notOnCard), "not on a card")

	email := e.issue(t, alice, "secure-email", "", nil)
	e.refused(t, "e-mail certificate", chain(email), "not meant for signing in")

	noUPN := e.issue(t, alice, "smartcard-logon", "", func(tp *lanyard.Template) {
		tp.ExtKeyUsage = []string{lanyard.EKUClientAuth}
		tp.Subject.SANUPN = false
	})
	e.refused(t, "no UPN", chain(noUPN), "names no user principal name")

	unknown := e.issue(t, alice, "smartcard-logon", "", nil)
	setUPN := func(u *lanyard.User, upn string) {
		e.update(t, func(tx lanyard.Tx) error {
			cur, err := tx.UserByID(u.ID)
			if err != nil {
				return err
			}
			cur.UPN = upn
			return tx.UpdateUser(cur)
		})
	}
	setUPN(alice, "alice.new@example.com")
	e.refused(t, "UPN of nobody", chain(unknown), `no user has the UPN "alice@example.com"`)
	setUPN(alice, "alice@example.com")
	if _, err := e.st.Service.Identity.CardLogin(ctx, chain(unknown), remote); err != nil {
		t.Fatalf("with the UPN back, the card signs in again: %v", err)
	}
	// A card of bob's holding a certificate whose UPN names alice (the
	// store keeps a UPN with its first holder, so only damaged records
	// do this) opens neither account.
	mixed := e.issue(t, alice, "smartcard-logon", "", nil)
	e.update(t, func(tx lanyard.Tx) error { mixed.card.OwnerID = bob.ID; return tx.UpdateCard(mixed.card) })
	e.refused(t, "UPN of another account", chain(mixed), "names another account than the one it was issued to")

	dis := true
	if _, err := e.st.Service.Identity.UpdateUser(ctx, e.st.Admin, "alice", identity.UserInput{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	e.refused(t, "disabled user", chain(unknown), `account "alice" is disabled`)

	carol := e.user(t, "carol")
	expiring := e.issue(t, carol, "smartcard-logon", "", func(tp *lanyard.Template) { tp.ValidityDays = 1 })
	if _, err := e.st.Service.Identity.CardLogin(ctx, chain(expiring), remote); err != nil {
		t.Fatalf("carol's card, valid: %v", err)
	}
	e.clock.Add(49 * time.Hour)
	e.refused(t, "expired", chain(expiring), "expired")

	// A refusal of a known owner's certificate is audited.
	evs, err := e.st.Service.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "session.login_failed"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, ev := range evs {
		if d := details(t, ev); d["method"] == "card" {
			reasons = append(reasons, d["reason"].(string))
		}
	}
	if len(reasons) < 8 {
		t.Errorf("audited card refusals: %q, want one per refusal of a known certificate", reasons)
	}
}

// TestCardSecondFactor: after the right password, a staff account's own
// card completes the login instead of the code; someone else's card
// does not, and the challenge stays for the right one.
func TestCardSecondFactor(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	sam, alice := e.user(t, "sam", lanyard.RoleOperator), e.user(t, "alice")
	samCard, aliceCard := e.issue(t, sam, "smartcard-logon", "", nil), e.issue(t, alice, "smartcard-logon", "", nil)
	res, err := e.st.Service.Identity.Login(ctx, "sam", totpPassword, remote)
	if err != nil || res.Challenge == nil {
		t.Fatalf("sam's password: %+v, %v; want a challenge", res, err)
	}
	_, err = e.st.Service.Identity.CompleteLoginCard(ctx, res.ChallengeID, []*x509.Certificate{aliceCard.x509}, remote)
	servicetest.WantErr(t, "someone else's card", err, lanyard.EUnauthenticated, "not yours")
	_, err = e.st.Service.Identity.CompleteLoginCard(ctx, res.ChallengeID, nil, remote)
	servicetest.WantErr(t, "no card", err, lanyard.EUnauthenticated, "no card certificate")
	done, err := e.st.Service.Identity.CompleteLoginCard(ctx, res.ChallengeID, []*x509.Certificate{samCard.x509}, remote)
	if err != nil || done.Session == nil || done.Session.SecondFactorAt.IsZero() {
		t.Fatalf("sam's own card: %+v, %v", done, err)
	}
	if _, _, err := e.st.Service.Identity.AuthenticateSession(ctx, done.SessionID, remote); err != nil {
		t.Fatalf("the session: %v", err)
	}
	_, err = e.st.Service.Identity.CompleteLoginCard(ctx, res.ChallengeID, []*x509.Certificate{samCard.x509}, remote)
	if !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("the challenge used twice: %v", err)
	}
}

// foreignCert is a logon certificate for upn from a new self-signed CA
// named name.
func foreignCert(t *testing.T, name pkix.Name, upn string) *x509.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: name, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: upn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func details(t *testing.T, ev *lanyard.AuditEvent) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(ev.Details, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCardStepUp: the step-up (password plus second factor) takes the
// caller's own card on their TLS connection instead of a code, also
// without an authenticator app; a wrong password, someone else's card,
// a revoked one or one on a connection the web layer found stale is
// refused, and without card and app the app is asked for.
func TestCardStepUp(t *testing.T) {
	e := newCardEnv(t)
	ctx := context.Background()
	alice, bob := e.user(t, "alice"), e.user(t, "bob")
	mine, theirs := e.issue(t, alice, "smartcard-logon", "", nil), e.issue(t, bob, "smartcard-logon", "", nil)
	p := func(c *issued) *lanyard.Principal {
		pr := &lanyard.Principal{User: alice, Roles: alice.Roles, RemoteAddr: remote, Session: true}
		if c != nil {
			pr.ClientCertificates = []*x509.Certificate{c.x509}
		}
		return pr
	}
	id := e.st.Service.Identity
	if err := id.VerifySecondFactor(ctx, p(mine), totpPassword, ""); err != nil {
		t.Fatalf("alice's password and card: %v", err)
	}
	evs, err := e.st.Service.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "session.step_up"})
	if err != nil || len(evs) != 1 || details(t, evs[0])["method"] != "card" || evs[0].Actor != "alice" {
		t.Fatalf("session.step_up events: %+v, %v; want one by alice's card", evs, err)
	}
	servicetest.WantErr(t, "wrong password", id.VerifySecondFactor(ctx, p(mine), "wrong", ""), lanyard.EStepUpFailed, "wrong password")
	servicetest.WantErr(t, "bob's card", id.VerifySecondFactor(ctx, p(theirs), totpPassword, ""), lanyard.EStepUpFailed, "not yours")
	servicetest.WantErr(t, "no card, no app", id.VerifySecondFactor(ctx, p(nil), totpPassword, ""), lanyard.ESecondFactorRequired, "authenticator app")
	// A chain the web layer found stale or resumed: refused with its
	// reason (after the password), not taken for "no card".
	stale := p(nil)
	stale.ClientCertificatesRefused = "the card certificate of this connection was checked 6m0s ago"
	servicetest.WantErr(t, "a stale connection", id.VerifySecondFactor(ctx, stale, totpPassword, ""), lanyard.EStepUpFailed, "checked 6m0s ago")
	servicetest.WantErr(t, "a stale connection, wrong password", id.VerifySecondFactor(ctx, stale, "wrong", ""), lanyard.EStepUpFailed, "wrong password")
	// A code given is checked as a code, card or not.
	servicetest.WantErr(t, "a code without an app", id.VerifySecondFactor(ctx, p(mine), totpPassword, "123456"), lanyard.ESecondFactorRequired, "authenticator app")
	if _, err := e.st.Service.PKI.Revoke(ctx, e.st.Admin, mine.rec.CA, mine.rec.Serial, lanyard.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	servicetest.WantErr(t, "revoked card", id.VerifySecondFactor(ctx, p(mine), totpPassword, ""), lanyard.EStepUpFailed, "revoked")
}
