package cardops_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// Four eyes: a CA manager cannot approve a request for their own
// certificate, nor one they asked for on alice's behalf (issue 13: it was
// compared with the owner only); another CA manager can. A certificate
// asked for on another's behalf waits for that approval whatever its
// template says.
func TestApproveOwnRequestRefused(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	tpl := service.DefaultTemplates()[1] // secure-email
	tpl.Name, tpl.RequiresCAApproval = "approved-email", true
	if _, err := e.svc.Catalog.CreateTemplate(ctx, e.admin, tpl); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	res, err := e.svc.PKI.Issue(ctx, e.admin, pki.IssueInput{Template: "approved-email", User: "alice", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	if err != nil || res.Request == nil {
		t.Fatalf("queue for alice: %v %+v", err, res)
	}
	own, err := e.svc.PKI.Issue(ctx, e.admin, pki.IssueInput{Template: "approved-email", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	if err != nil || own.Request == nil {
		t.Fatalf("queue for the admin: %v %+v", err, own)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, own.Request.ID, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("approving one's own request: %v", err)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, res.Request.ID, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("approving the request one asked for alice: %v", err)
	}
	plain, err := e.svc.PKI.Issue(ctx, e.admin, pki.IssueInput{Template: "secure-email", User: "alice", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	if err != nil || plain.Request == nil || plain.Certificate != nil {
		t.Fatalf("a template without approval, for alice: %v %+v", err, plain)
	}
	carol := e.newUser(t, "carol")
	carol.User.Roles = lanyard.Roles{lanyard.RoleCAManager, lanyard.RoleUser}
	carol.Roles = carol.User.Roles
	for _, id := range []int64{res.Request.ID, plain.Request.ID} {
		if _, err := e.svc.PKI.ApproveRequest(ctx, carol, id, ""); err != nil {
			t.Fatalf("another CA manager approving request %d: %v", id, err)
		}
	}
}

// Issue 13: staff issuing a card on alice's behalf cannot finish it alone,
// whatever the template says: every certificate waits in the CA's queue,
// the issuer's own approval is refused, another CA manager's is taken, and
// Continue card issue then writes the certificates.
func TestIssueCardOnBehalfNeedsSecondPerson(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	target := e.target()
	target.User = "alice"
	res, err := e.svc.Cards.IssueCard(ctx, e.admin, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "pending" || len(res.Card.Certificates) != 1 || res.Card.Certificates[0].RequestID == 0 {
		t.Fatalf("a card issued for alice: state %s, contents %+v", res.State, res.Card.Certificates)
	}
	id := res.Card.Certificates[0].RequestID
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("the issuer approving: %v", err)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.alice, id, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("the owner approving: %v", err)
	}
	carol := e.newUser(t, "carol")
	if _, err := e.svc.PKI.ApproveRequest(ctx, carol, id, "identity checked"); err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, e.admin, res.Card.ID, cardops.ContinueInput{CardTarget: target, UserPIN: "24681357"})
	if err != nil || done.State != string(lanyard.CardIssued) {
		t.Fatalf("continue after approval: %v %+v", err, done)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon")
}

// issueForAlice has the administrator issue a card for alice under a
// policy that sets a random PIN shown to the user (and to administrators
// when toAdmin) and mailed to mailTo.
func issueForAlice(t *testing.T, e *issueEnv, mailTo lanyard.PINRecipient, toAdmin bool) (*cardops.IssueCardResult, cardops.CardTarget) {
	t.Helper()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.RandomUserPIN = true
		s.Issuance.RandomPIN.ShowToUser = true
		s.Issuance.RandomPIN.ShowToAdmin = toAdmin
		s.Issuance.RandomPIN.MailTo = mailTo
	})
	target := e.target()
	target.User = "alice"
	res, err := e.svc.Cards.IssueCard(context.Background(), e.admin, cardops.IssueCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	return res, target
}

// Issue 14 item 1: a random PIN set while staff issue a card for alice
// reaches alice as her policy says (here by mail), never the operator's
// screen, unless the policy's "Show generated user PIN to administrator"
// is on.
func TestIssueCardOnBehalfRandomPINNotShownToStaff(t *testing.T) {
	for _, toAdmin := range []bool{false, true} {
		e := &issueEnv{}
		m := &pinMail{}
		e.opts.Notifier = m
		e = newIssueEnvFrom(t, e)
		res, _ := issueForAlice(t, e, lanyard.PINMailUser, toAdmin)
		if m.calls != 1 || len(m.pin) != 8 || len(res.PINMailedTo) != 1 || res.PINMailedTo[0] != e.alice.User.Email {
			t.Fatalf("show to admin %v: the PIN was mailed %d times to %v (result says %v)", toAdmin, m.calls, m.to, res.PINMailedTo)
		}
		if toAdmin != (res.RandomPIN == m.pin) || (!toAdmin && res.RandomPIN != "") {
			t.Errorf("show to admin %v: the operator's result shows PIN %q (the card's is %s)", toAdmin, res.RandomPIN, m.pin)
		}
		if len(res.PINMailChoices) != 0 {
			t.Errorf("the operator is offered to mail alice's PIN to %v", res.PINMailChoices)
		}
	}
}

// Issue 14 item 1: with nothing mailed and no PIN shown to staff, the
// random PIN an operator's issue sets waits sealed for alice, who is
// shown it once (IssuedPINs, ShowIssuedPIN); nobody else may ask, and it
// is the card's PIN once the second person approved and the issue is
// continued.
func TestIssueCardOnBehalfRandomPINShownToOwnerOnce(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, target := issueForAlice(t, e, lanyard.PINMailNobody, false)
	if res.RandomPIN != "" {
		t.Fatalf("the operator is shown alice's PIN %q", res.RandomPIN)
	}
	// The audit trail says where the PIN went.
	var evs []*lanyard.AuditEvent
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.issue.pending"})
		return
	}); err != nil || len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"random_pin":{"held":["owner"],"shown_to_caller":false}`) {
		t.Fatalf("the issue's audit event: %v %+v", err, evs)
	}
	if mine, err := e.svc.Cards.IssuedPINs(ctx, e.admin); err != nil || len(mine) != 0 {
		t.Fatalf("the operator's own waiting PINs: %v %+v", err, mine)
	}
	waiting, err := e.svc.Cards.IssuedPINs(ctx, e.alice)
	if err != nil || len(waiting) != 1 || waiting[0].CardID != res.Card.ID || waiting[0].OperationID != res.OperationID {
		t.Fatalf("alice's waiting PINs: %v %+v", err, waiting)
	}
	in := cardops.ShowIssuedPINInput{OperationID: res.OperationID}
	if _, err := e.svc.Cards.ShowIssuedPIN(ctx, inSession(e.admin), res.Card.ID, in); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("the operator asking for alice's PIN: %v", err)
	}
	// Not through an API token, which an administrator could have minted
	// for alice: only alice's own browser session.
	viaToken := *e.alice
	viaToken.TokenID = 1
	if _, err := e.svc.Cards.ShowIssuedPIN(ctx, &viaToken, res.Card.ID, in); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("alice's PIN through an API token: %v", err)
	}
	shown, err := e.svc.Cards.ShowIssuedPIN(ctx, e.alice, res.Card.ID, in)
	if err != nil || len(shown.PIN) != 8 {
		t.Fatalf("alice's PIN: %v %+v", err, shown)
	}
	if _, err := e.svc.Cards.ShowIssuedPIN(ctx, e.alice, res.Card.ID, in); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("a second look: %v", err)
	}
	if waiting, _ := e.svc.Cards.IssuedPINs(ctx, e.alice); len(waiting) != 0 {
		t.Fatalf("still waiting after it was shown: %+v", waiting)
	}
	carol := e.newUser(t, "carol")
	for _, cc := range res.Card.Certificates {
		if _, err := e.svc.PKI.ApproveRequest(ctx, carol, cc.RequestID, ""); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, e.admin, res.Card.ID, cardops.ContinueInput{CardTarget: target})
	if err != nil || done.State != string(lanyard.CardIssued) || done.RandomPIN != "" {
		t.Fatalf("continue: %v %+v", err, done)
	}
	e.checkIssued(t, res.Card.ID, shown.PIN, "smartcard-logon")
}

// Issue 13: a smart card logon request queued through the certificate API
// before the template became card-only is not signed: no card holds its
// key.
func TestApproveCardOnlyRequestWithoutCard(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	r := &lanyard.CertRequest{CA: "builtin", Template: "smartcard-logon", UserID: e.alice.User.ID, RequestedBy: e.alice.User.ID,
		PublicKey: spki, KeySHA256: "00", Subject: "Alice", Status: lanyard.RequestPending, CreatedAt: time.Now()}
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.CreateRequest(r) })
	carol := e.newUser(t, "carol")
	if _, err := e.svc.PKI.ApproveRequest(ctx, carol, r.ID, ""); !lanyard.IsCode(err, lanyard.EForbidden) || !strings.Contains(err.Error(), "did not come from a card issue") {
		t.Fatalf("approving a card-only request without a card: %v", err)
	}
	if _, err := e.svc.PKI.RejectRequest(ctx, carol, r.ID, "no card"); err != nil {
		t.Fatal(err)
	}
}
