package cardops_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// pinMailEnv is alice's issue under a policy that sets a random PIN,
// shows it and mails it to her; she has a manager's address. It returns
// the issue's result.
func pinMailEnv(t *testing.T, m service.Notifier, mailTo lanyard.PINRecipient) (*issueEnv, *cardops.IssueCardResult) {
	t.Helper()
	return pinMailEnvWith(t, m, mailTo, servicetest.Options{})
}

// The result dialog's "E-mail it to me / to my manager" (issue 14 item
// 2): offered with the shown PIN, it mails the server's sealed copy of
// the PIN (the request carries none) once; only the card's owner may ask,
// only for that issue and within PINMailWindow.
func TestMailIssuePIN(t *testing.T) {
	ctx := context.Background()
	m := &pinMail{}
	e, res := pinMailEnv(t, m, lanyard.PINMailUser)
	if m.calls != 1 || !slices.Equal(res.PINMailedTo, []string{"alice@example.test"}) {
		t.Fatalf("the policy's own mail: %d calls, result says %v", m.calls, res.PINMailedTo)
	}
	if !slices.Equal(res.PINMailChoices, []string{cardops.PINMailToMe, cardops.PINMailToManager}) {
		t.Fatalf("the dialog offers %v, want user and manager", res.PINMailChoices)
	}
	op := operation(t, e, res.OperationID)
	if strings.Contains(string(op.Data), res.RandomPIN) || strings.Contains(string(op.Data), `"pin_copy"`) {
		t.Fatalf("the operation record holds the PIN: %s", op.Data)
	}
	h := heldPIN(t, e, res.OperationID, lanyard.HeldPINMail)
	if h == nil || len(h.Sealed) == 0 || bytes.Contains(h.Sealed, []byte(res.RandomPIN)) || h.Recipient(cardops.PINMailToManager) != "boss@example.test" {
		t.Fatalf("the held copy: %+v", h)
	}

	// Nobody but the card's owner: not another user, not an operator.
	bob, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "bob", Email: ptr("bob@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	in := cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToMe}
	for _, p := range []*lanyard.Principal{{User: bob, Roles: bob.Roles, Session: true}, inSession(e.admin)} {
		_, err := e.svc.Cards.MailIssuePIN(ctx, p, res.Card.ID, in)
		wantCode(t, err, lanyard.ENotFound)
	}
	_, err = e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID + 1000, To: cardops.PINMailToMe})
	wantCode(t, err, lanyard.EInvalid)
	viaToken := *e.alice // an API token an administrator could have minted for alice
	viaToken.TokenID = 1
	_, err = e.svc.Cards.MailIssuePIN(ctx, &viaToken, res.Card.ID, in)
	wantCode(t, err, lanyard.EForbidden)
	if m.calls != 1 {
		t.Fatalf("refused requests mailed: %d calls", m.calls)
	}

	got, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToManager})
	if err != nil {
		t.Fatal(err)
	}
	if got.MailedTo != "boss@example.test" || m.calls != 2 || m.pin != res.RandomPIN || !slices.Equal(m.to, []string{"boss@example.test"}) {
		t.Fatalf("mailed to %q: %d calls, last %v %q; the PIN is %s", got.MailedTo, m.calls, m.to, m.pin, res.RandomPIN)
	}
	if h := heldPIN(t, e, res.OperationID, lanyard.HeldPINMail); h == nil || h.Sealed != nil || h.MailedTo != cardops.PINMailToManager {
		t.Errorf("the sealed copy outlives the mail: %+v", h)
	}
	for _, to := range []string{cardops.PINMailToManager, cardops.PINMailToMe} {
		_, err = e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: to})
		wantCode(t, err, lanyard.EConflict)
		if !strings.Contains(lanyard.ErrorMessage(err), "already e-mailed to your manager; it is sent only once") {
			t.Errorf("a second request is refused with %q", lanyard.ErrorMessage(err))
		}
	}
	if m.calls != 2 {
		t.Fatalf("a second request mailed: %d calls", m.calls)
	}
	wantAudit(t, e, "card.issue.pin_mail", 1)
}

// After PINMailWindow the issue's PIN can no longer be mailed.
func TestMailIssuePINWindow(t *testing.T) {
	ctx := context.Background()
	m := &pinMail{}
	clock := &testClock{}
	e, res := pinMailEnvWith(t, m, lanyard.PINMailManager, servicetest.Options{Now: clock.now})
	h := heldPIN(t, e, res.OperationID, lanyard.HeldPINMail)
	if left := h.ExpiresAt.Sub(h.CreatedAt); left != cardops.PINMailWindow {
		t.Fatalf("the copy is kept %v", left)
	}
	purge(t, e, 0) // within the window the copy stays
	clock.advance(cardops.PINMailWindow)
	_, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToMe})
	wantCode(t, err, lanyard.EConflict)
	if !strings.Contains(lanyard.ErrorMessage(err), "no longer be e-mailed") || m.calls != 1 {
		t.Fatalf("after the window: %v, %d calls", err, m.calls)
	}

	// The schedule erases the copy past its window, once.
	purge(t, e, 1)
	purge(t, e, 0)
	if h := heldPIN(t, e, res.OperationID, lanyard.HeldPINMail); h != nil {
		t.Errorf("after the purge the copy is still held: %+v", h)
	}
	wantAudit(t, e, "card.issue.pin_copies_purged", 1)
}

// When the outbox refuses the mail (here: the relay has no TLS) the user
// is told why, and nothing changed: the copy is kept for another try,
// with no audit event (the claim and the queueing are one transaction).
func TestMailIssuePINRefusedByOutbox(t *testing.T) {
	ctx := context.Background()
	m := &pinMail{}
	e, res := pinMailEnv(t, m, lanyard.PINMailUser)
	m.err = lanyard.Errorf(lanyard.EUnavailable, "not sent: the mail relay has no TLS (SMTP security none)")
	in := cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToMe}
	_, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, in)
	wantCode(t, err, lanyard.EUnavailable)
	if msg := lanyard.ErrorMessage(err); msg != "the PIN was not e-mailed: the mail relay has no TLS (SMTP security none)" {
		t.Errorf("the refusal says %q", msg)
	}
	m.err = nil
	if _, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, in); err != nil || m.calls != 2 || m.pin != res.RandomPIN {
		t.Fatalf("the try after the refusal: %v, %d calls", err, m.calls)
	}
	wantAudit(t, e, "card.issue.pin_mail", 1)
}

// Without notifications, or with a policy that mails no PIN, nothing is
// offered.
func TestMailIssuePINNotOffered(t *testing.T) {
	for name, c := range map[string]struct {
		n      service.Notifier
		mailTo lanyard.PINRecipient
	}{"no notifier": {nil, lanyard.PINMailUser}, "policy mails nobody": {&pinMail{}, lanyard.PINMailNobody}} {
		e, res := pinMailEnv(t, c.n, c.mailTo)
		if len(res.PINMailChoices) != 0 || res.RandomPIN == "" {
			t.Errorf("%s: PIN %q, offered %v", name, res.RandomPIN, res.PINMailChoices)
		}
		_, err := e.svc.Cards.MailIssuePIN(context.Background(), e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToMe})
		wantCode(t, err, lanyard.EConflict)
	}
}

func purge(t *testing.T, e *issueEnv, want int) {
	t.Helper()
	if n, err := e.svc.Cards.PurgePINCopies(context.Background()); err != nil || n != want {
		t.Fatalf("PurgePINCopies: %d, %v; want %d", n, err, want)
	}
}

func operation(t *testing.T, e *issueEnv, id int64) *lanyard.Operation {
	t.Helper()
	var op *lanyard.Operation
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) { op, err = tx.OperationByID(id); return }); err != nil {
		t.Fatal(err)
	}
	return op
}

func wantAudit(t *testing.T, e *issueEnv, action string, n int) {
	t.Helper()
	var evs []*lanyard.AuditEvent
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Action: action})
		return
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Errorf("%d %s audit events, want %d", len(evs), action, n)
	}
}

// heldPIN is the copy of opID's PIN held for purpose, nil when none.
func heldPIN(t *testing.T, e *issueEnv, opID int64, purpose lanyard.HeldPINPurpose) *lanyard.HeldPIN {
	t.Helper()
	var h *lanyard.HeldPIN
	err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) { h, err = tx.HeldPIN(opID, purpose); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// inSession is p calling from a browser session.
func inSession(p *lanyard.Principal) *lanyard.Principal {
	c := *p
	c.Session = true
	return &c
}
