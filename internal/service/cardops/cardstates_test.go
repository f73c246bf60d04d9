package cardops_test

import (
	"context"
	"crypto/x509"
	"math/big"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// setHold sets a template's "Put certificate on hold when the card is
// disabled".
func (e *issueEnv) setHold(t *testing.T, name string, hold bool) {
	t.Helper()
	ctx := context.Background()
	tpl, err := e.svc.Catalog.GetTemplate(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	tpl.RevokeOnDisable = hold
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, name, *tpl); err != nil {
		t.Fatal(err)
	}
}

// issueTwo issues alice's card with smartcard-logon and secure-email and
// returns the card and the two certificates by template.
func (e *issueEnv) issueTwo(t *testing.T) (*cardops.CardView, map[string]*cardops.CardCertificate) {
	t.Helper()
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]*cardops.CardCertificate{}
	for _, c := range res.Card.Certificates {
		certs[c.Template] = c
	}
	if certs["smartcard-logon"] == nil || certs["secure-email"] == nil {
		t.Fatalf("issued %+v", res.Card.Certificates)
	}
	return res.Card, certs
}

// revocation is what the CA's CRL (parsed with crypto/x509, signature
// checked) and its OCSP responder (request and response through
// golang.org/x/crypto/ocsp) say of one certificate.
type revocation struct {
	onCRL     bool
	crlReason int
	ocsp      int // ocsp.Good, ocsp.Revoked, ocsp.Unknown
	ocspWhy   int
}

func (e *issueEnv) revocationOf(t *testing.T, caName, serial string) revocation {
	t.Helper()
	ctx := context.Background()
	issuerDER, err := e.svc.PKI.CACertificate(ctx, caName)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := x509.ParseCertificate(issuerDER)
	if err != nil {
		t.Fatal(err)
	}
	der, err := e.svc.PKI.CRL(ctx, caName)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	n, _ := new(big.Int).SetString(serial, 16)
	var out revocation
	for _, r := range crl.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(n) == 0 {
			out.onCRL, out.crlReason = true, r.ReasonCode
		}
	}
	c, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, caName, serial)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c.DER)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	respDER, err := e.svc.PKI.OCSP(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.ParseResponseForCert(respDER, leaf, issuer)
	if err != nil {
		t.Fatal(err)
	}
	out.ocsp, out.ocspWhy = resp.Status, resp.RevocationReason
	return out
}

func (e *issueEnv) cardOf(t *testing.T, id int64) *cardops.CardView {
	t.Helper()
	v, err := e.svc.Cards.GetCard(context.Background(), e.admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// auditActions lists the actions of the audit events about card id.
func (e *issueEnv) auditActions(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, ev := range e.allAudit(t) {
		if strings.HasPrefix(ev.Action, prefix) {
			out = append(out, ev.Action)
		}
	}
	return out
}

// Disable puts on hold exactly the certificates whose template says so:
// the CRL lists them with reason certificateHold and OCSP answers
// revoked (certificateHold); the card cannot be issued meanwhile. Enable
// takes them off hold: the next CRL (signed in the same transaction)
// no longer lists them and OCSP answers good. Each is one audit event.
func TestDisableEnableHoldsCertificates(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setHold(t, "smartcard-logon", true)
	e.setHold(t, "secure-email", false)
	card, certs := e.issueTwo(t)
	logon, mail := certs["smartcard-logon"], certs["secure-email"]

	v, err := e.svc.Cards.DisableCard(ctx, e.alice, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardDisabled || !slices.Equal(v.AllowedOperations, []cardperm.Op{cardperm.Enable, cardperm.Revoke}) {
		t.Fatalf("after disable: %s, allowed %v", v.State, v.AllowedOperations)
	}
	for _, c := range v.Certificates {
		if c.OnHold != (c.Template == "smartcard-logon") || c.Status != lanyard.CertWritten {
			t.Errorf("after disable %s: on hold %v, status %s", c.Template, c.OnHold, c.Status)
		}
	}
	if got := e.revocationOf(t, logon.CA, logon.Serial); !got.onCRL || got.crlReason != int(lanyard.ReasonCertificateHold) ||
		got.ocsp != ocsp.Revoked || got.ocspWhy != ocsp.CertificateHold {
		t.Errorf("held certificate: %+v", got)
	}
	if got := e.revocationOf(t, mail.CA, mail.Serial); got.onCRL || got.ocsp != ocsp.Good {
		t.Errorf("certificate of a template without the flag: %+v", got)
	}
	// A disabled card is not issued again, and not disabled twice.
	if _, err := e.svc.Cards.IssueOptions(ctx, e.alice, e.target()); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "enable it first") {
		t.Errorf("issue options of a disabled card: %v", err)
	}
	if _, err := e.svc.Cards.DisableCard(ctx, e.alice, card.ID); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("disabling a disabled card: %v", err)
	}

	v, err = e.svc.Cards.EnableCard(ctx, e.alice, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardIssued || slices.ContainsFunc(v.Certificates, func(c *cardops.CardCertificate) bool { return c.OnHold }) {
		t.Fatalf("after enable: %s %+v", v.State, v.Certificates)
	}
	if got := e.revocationOf(t, logon.CA, logon.Serial); got.onCRL || got.ocsp != ocsp.Good {
		t.Errorf("released certificate: %+v", got)
	}
	if got := e.auditActions(t, "card."); !slices.Contains(got, "card.disable") || !slices.Contains(got, "card.enable") {
		t.Errorf("audit: %v", got)
	}
	e.checkIssued(t, card.ID, "24681357", "smartcard-logon", "secure-email")
}

// Revoke card as lost with the card absent: the card is revoked with its
// reason, every certificate revoked for key compromise (those on hold
// too), the held flag gone; a revoked card is withdrawn only once
// cleared; Clear of the connected card deletes Lanyard's certificates and
// keeps it revoked; Withdraw then keeps it for its owner or sends it to
// stock.
func TestRevokeLostThenClearAndWithdraw(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setHold(t, "smartcard-logon", true)
	card, certs := e.issueTwo(t)
	if _, err := e.svc.Cards.DisableCard(ctx, e.alice, card.ID); err != nil {
		t.Fatal(err)
	}
	olga := e.staff(t, "olga", lanyard.RoleUser, lanyard.RoleOperator)
	v, err := e.svc.Cards.RevokeCard(ctx, olga, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost, Comment: "left on a train"})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost || !slices.Equal(v.AllowedOperations, []cardperm.Op{cardperm.Clear, cardperm.Withdraw, cardperm.Replace}) {
		t.Fatalf("after revoke: %s %q allowed %v", v.State, v.RevocationReason, v.AllowedOperations)
	}
	for _, c := range certs {
		got := e.revocationOf(t, c.CA, c.Serial)
		if !got.onCRL || got.crlReason != int(lanyard.ReasonKeyCompromise) || got.ocsp != ocsp.Revoked || got.ocspWhy != ocsp.KeyCompromise {
			t.Errorf("%s after revoke as lost: %+v", c.Template, got)
		}
	}
	// The owner sees the reason in her list; she may clear, not withdraw.
	mine, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	if err != nil || len(mine) != 1 || mine[0].RevocationReason != lanyard.CardLost || !slices.Equal(mine[0].AllowedOperations, []cardperm.Op{cardperm.Clear}) {
		t.Fatalf("alice's cards: %v %+v", err, mine)
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, e.alice, card.ID, cardops.WithdrawCardInput{}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("withdraw by the owner: %v", err)
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, olga, card.ID, cardops.WithdrawCardInput{To: cardops.WithdrawToStock}); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "clear it first") {
		t.Fatalf("withdraw before clear: %v", err)
	}
	// Enable a revoked card: never back.
	if _, err := e.svc.Cards.EnableCard(ctx, olga, card.ID); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("enabling a revoked card: %v", err)
	}

	// The card turns up: clear it (the owner, her card connected).
	v, err = e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardRevoked || v.OwnerID != e.alice.User.ID || v.RevocationReason != lanyard.CardLost {
		t.Fatalf("after clear: %s owner %d reason %q", v.State, v.OwnerID, v.RevocationReason)
	}
	if all, _ := pivOf(t, e.card).Certificates(ctx); len(all) != 0 {
		t.Fatalf("the cleared card still holds %d certificates", len(all))
	}
	for _, c := range certs {
		if got := e.revocationOf(t, c.CA, c.Serial); got.crlReason != int(lanyard.ReasonKeyCompromise) {
			t.Errorf("%s after clear: %+v (the clear must not change the reason)", c.Template, got)
		}
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, olga, card.ID, cardops.WithdrawCardInput{To: "drawer"}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("withdraw to a drawer: %v", err)
	}
	v, err = e.svc.Cards.WithdrawCard(ctx, olga, card.ID, cardops.WithdrawCardInput{To: cardops.WithdrawToOwner})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardClean || v.OwnerID != e.alice.User.ID || v.RevocationReason != "" {
		t.Fatalf("withdrawn to the owner: %s owner %d reason %q", v.State, v.OwnerID, v.RevocationReason)
	}
	if got := e.auditActions(t, "card."); !slices.Contains(got, "card.revoke") || !slices.Contains(got, "card.withdraw") {
		t.Errorf("audit: %v", got)
	}
	// Kept for her: she issues it again.
	again, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIssued(t, again.Card.ID, "13572468", "smartcard-logon")
}

// Each reason revokes the card's certificates with its RFC 5280 reason,
// and a card revoked before anything was written to it goes back to
// stock without a clear.
func TestRevokeReasonsAndWithdrawUnwritten(t *testing.T) {
	want := map[lanyard.CardRevocationReason]lanyard.RevocationReason{
		lanyard.CardLost: lanyard.ReasonKeyCompromise, lanyard.CardCompromised: lanyard.ReasonKeyCompromise,
		lanyard.CardDamaged: lanyard.ReasonCessationOfOperation, lanyard.CardSuperseded: lanyard.ReasonSuperseded,
		lanyard.CardWithdrawn: lanyard.ReasonAffiliationChanged,
	}
	for r, w := range want {
		if got := r.CertReason(); got != w {
			t.Errorf("%s: %s, want %s", r, got, w)
		}
	}
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Card.State != lanyard.CardPending {
		t.Fatalf("issue: %s", res.Card.State)
	}
	request := res.Card.Certificates[0].RequestID
	v, err := e.svc.Cards.RevokeCard(ctx, e.alice, res.Card.ID, cardops.RevokeCardInput{Reason: lanyard.CardSuperseded})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardRevoked {
		t.Fatalf("after revoke: %s", v.State)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, request, ""); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("approving the request of a revoked card: %v", err)
	}
	for _, op := range v.Operations {
		if !op.State.Finished() {
			t.Errorf("operation %d (%s) is %s after the revoke", op.ID, op.Kind, op.State)
		}
	}
	v, err = e.svc.Cards.WithdrawCard(ctx, e.admin, res.Card.ID, cardops.WithdrawCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardClean || v.OwnerID != 0 {
		t.Fatalf("withdrawn to stock: %s owner %d", v.State, v.OwnerID)
	}
}

// Refusals change nothing: a user whose policy does not allow disable
// (403), an operation the card's state does not allow (409), another
// user's card (404, as for every card they cannot see), a reason not in
// the list (400). The card, its certificates, the CRL and the audit log
// stay as they were.
func TestCardStateRefusals(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setHold(t, "smartcard-logon", true)
	card, _ := e.issueTwo(t)
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.Disable = false
		s.Workflow.IssuedCardOps.Revoke = false
	})
	bob := e.staff(t, "bob", lanyard.RoleUser)
	crlBefore, err := e.svc.PKI.CRL(ctx, "builtin")
	if err != nil {
		t.Fatal(err)
	}
	auditBefore := len(e.allAudit(t))
	before := e.cardOf(t, card.ID)

	for _, tc := range []struct {
		name string
		do   func() error
		code string
	}{
		{"owner, disable not allowed by the policy", func() error { _, err := e.svc.Cards.DisableCard(ctx, e.alice, card.ID); return err }, lanyard.EForbidden},
		{"owner, revoke not allowed by the policy", func() error {
			_, err := e.svc.Cards.RevokeCard(ctx, e.alice, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost})
			return err
		}, lanyard.EForbidden},
		{"enable an issued card", func() error { _, err := e.svc.Cards.EnableCard(ctx, e.admin, card.ID); return err }, lanyard.EConflict},
		{"withdraw an issued card", func() error {
			_, err := e.svc.Cards.WithdrawCard(ctx, e.admin, card.ID, cardops.WithdrawCardInput{})
			return err
		}, lanyard.EConflict},
		{"another user", func() error { _, err := e.svc.Cards.DisableCard(ctx, bob, card.ID); return err }, lanyard.ENotFound},
		{"unknown reason", func() error {
			_, err := e.svc.Cards.RevokeCard(ctx, e.admin, card.ID, cardops.RevokeCardInput{Reason: "misplaced"})
			return err
		}, lanyard.EInvalid},
		{"unknown card", func() error { _, err := e.svc.Cards.DisableCard(ctx, e.admin, card.ID+100); return err }, lanyard.ENotFound},
	} {
		if err := tc.do(); !lanyard.IsCode(err, tc.code) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	after := e.cardOf(t, card.ID)
	if after.State != before.State || !after.UpdatedAt.Equal(before.UpdatedAt) || slices.ContainsFunc(after.Certificates, func(c *cardops.CardCertificate) bool { return c.OnHold }) {
		t.Errorf("the card changed: %+v", after.Card)
	}
	crlAfter, err := e.svc.PKI.CRL(ctx, "builtin")
	if err != nil {
		t.Fatal(err)
	}
	if string(crlAfter) != string(crlBefore) || len(e.allAudit(t)) != auditBefore {
		t.Errorf("refusals signed a CRL or wrote audit events")
	}
	// The operator may still stop the card.
	olga := e.staff(t, "olga", lanyard.RoleUser, lanyard.RoleOperator)
	if _, err := e.svc.Cards.DisableCard(ctx, olga, card.ID); err != nil {
		t.Fatalf("operator disabling: %v", err)
	}
}

// An operator stops an administrator's card (disable, revoke) but an
// operation outside the card's state stays refused; the card's
// allowed operations say so.
func TestOperatorOnAdministratorsCard(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	card, _ := e.issueTwo(t)
	// alice becomes an administrator: her card is a staff card.
	roles := lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}
	var alice *lanyard.User
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) { alice, err = tx.UserByID(e.alice.User.ID); return })
	alice.Roles = roles
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.UpdateUser(alice) })
	olga := e.staff(t, "olga", lanyard.RoleUser, lanyard.RoleOperator)
	v, err := e.svc.Cards.GetCard(ctx, olga, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Recover keys onto card too: it puts alice's own keys on her card,
	// under dual control (approved requests), as the service allows.
	if !slices.Equal(v.AllowedOperations, []cardperm.Op{cardperm.RecoverKeys, cardperm.Disable, cardperm.Revoke}) {
		t.Fatalf("operator on an administrator's card may: %v", v.AllowedOperations)
	}
	if _, err := e.svc.Cards.EnableCard(ctx, olga, card.ID); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("enable an issued card: %v", err)
	}
	if _, err := e.svc.Cards.DisableCard(ctx, olga, card.ID); err != nil {
		t.Fatal(err)
	}
}

// stateMail records the card state notifications.
type stateMail struct {
	pinMail
	sent []string // kind: recipients
}

func (m *stateMail) CardState(_ context.Context, to []string, ev cardops.CardStateEvent) error {
	m.sent = append(m.sent, ev.Kind+" "+ev.Reason+": "+strings.Join(to, ","))
	return nil
}

// Disable, enable and revoke tell the owner, with the manager in copy
// when the policy says so; withdraw and refusals send nothing.
func TestCardStateNotifications(t *testing.T) {
	ctx := context.Background()
	m := &stateMail{}
	e := &issueEnv{}
	e.opts.Notifier = m
	e = newIssueEnvFrom(t, e)
	mgr := "boss@example.test"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{ManagerEmail: &mgr}); err != nil {
		t.Fatal(err)
	}
	card, _ := e.issueTwo(t)
	if _, err := e.svc.Cards.DisableCard(ctx, e.alice, card.ID); err != nil {
		t.Fatal(err)
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Notifications.NotifyManager = true })
	if _, err := e.svc.Cards.EnableCard(ctx, e.alice, card.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.EnableCard(ctx, e.alice, card.ID); err == nil {
		t.Fatal("enabling an enabled card succeeded")
	}
	if _, err := e.svc.Cards.RevokeCard(ctx, e.admin, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardDamaged}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"disabled : alice@example.test",
		"enabled : alice@example.test,boss@example.test",
		"revoked damaged: alice@example.test,boss@example.test",
	}
	if !slices.Equal(m.sent, want) {
		t.Errorf("notifications %q, want %q", m.sent, want)
	}
}
