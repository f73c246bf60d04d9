package cardops_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// recoverKeysEnv is alice with an archived secure-email key on her first
// card, a password and an authenticator app, and her second card (second
// reader) issued with the logon template only: it holds none of her
// encryption keys.
type recoverKeysEnv struct {
	*issueEnv
	clock      *servicetest.Clock
	secret     string // alice's authenticator app
	adamSecret string // the approver's
	secondCard *cardops.IssueCardResult
	keys       []*lanyard.ArchivedKey
}

const accountPassword = "correct horse battery staple"

func newRecoverKeysEnv(t *testing.T) *recoverKeysEnv {
	t.Helper()
	e := newStepUpEnv(t)
	var err error
	if e.secondCard, err = e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.issueEnv.second(t), UserPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// newStepUpEnv is alice with an archived secure-email key on her first
// card, a password and an authenticator app (no second card yet).
func newStepUpEnv(t *testing.T) *recoverKeysEnv {
	t.Helper()
	ctx := context.Background()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 12, 0, time.UTC)) // 12 s into a TOTP step
	e := &recoverKeysEnv{issueEnv: newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.Now}}), clock: clock}
	e.issueArchived(t)
	var err error
	if e.keys, err = e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email"); err != nil || len(e.keys) != 1 {
		t.Fatalf("archived keys %+v, %v", e.keys, err)
	}
	pw := accountPassword
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	e.secret = setup.Secret
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, e.alice, e.code(t)); err != nil {
		t.Fatal(err)
	}
	clock.Add(identity.TOTPPeriod)
	return e
}

func (e *recoverKeysEnv) code(t *testing.T) string { t.Helper(); return e.codeOf(t, e.secret) }

// stepUp is alice's step-up for putting her earlier keys on a card at a
// fresh TOTP step.
func (e *recoverKeysEnv) stepUp(t *testing.T) *cardops.HistoryAuthority {
	t.Helper()
	e.clock.Add(identity.TOTPPeriod)
	return &cardops.HistoryAuthority{AccountPassword: accountPassword, Code: e.code(t)}
}

// approvedRequest is p's key recovery request of alice's archived key,
// approved by adam.
func (e *recoverKeysEnv) approvedRequest(t *testing.T, p *lanyard.Principal) int64 {
	t.Helper()
	ctx := context.Background()
	req, err := e.svc.Archive.RequestRecovery(ctx, p, e.keys[0].ID, "alice's card is lost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Archive.DecideRecovery(ctx, e.approver(t), req.ID, e.approval(t, "checked with alice")); err != nil {
		t.Fatal(err)
	}
	return req.ID
}

func (e *recoverKeysEnv) codeOf(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// approver is adam, an administrator with a password and an
// authenticator app: approving a key recovery takes his step-up.
func (e *recoverKeysEnv) approver(t *testing.T) *lanyard.Principal {
	t.Helper()
	ctx := context.Background()
	e.newUser(t, "adam")
	u, err := e.svc.Identity.UpdateUser(ctx, e.admin, "adam", identity.UserInput{Roles: &lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}, Password: ptr(accountPassword)})
	if err != nil {
		t.Fatal(err)
	}
	adam := &lanyard.Principal{User: u, Roles: u.Roles}
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, adam)
	if err != nil {
		t.Fatal(err)
	}
	e.adamSecret = setup.Secret
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, adam, e.codeOf(t, e.adamSecret)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(identity.TOTPPeriod)
	return adam
}

// approval is adam's approval with his step-up, at a fresh TOTP step.
func (e *recoverKeysEnv) approval(t *testing.T, comment string) archive.Decision {
	t.Helper()
	d := archive.Decision{Approve: true, Comment: comment, AccountPassword: accountPassword, Code: e.codeOf(t, e.adamSecret)}
	e.clock.Add(identity.TOTPPeriod)
	return d
}

func (e *recoverKeysEnv) target() cardops.CardTarget {
	return cardops.CardTarget{WorkstationID: 2, Reader: secondReader}
}

// TestRecoverKeysOntoCardByOwner: alice puts her archived key onto her
// second card after her step-up; a wrong code changes nothing, and a
// request of her own is refused. The key is in slot 82 with the key
// history counting it, recorded in one key.recover event.
func TestRecoverKeysOntoCardByOwner(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	id := e.secondCard.Card.ID
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: "000000"}); err == nil {
		t.Fatal("a wrong authenticator code recovered keys")
	}
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, cardops.RecoverKeysInput{CardTarget: e.target(), Requests: []int64{1}}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("the owner with a request: %v, want invalid", err)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", nil)
	res, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: e.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].ID != e.keys[0].ID {
		t.Fatalf("recovered %+v, want alice's key %d", res.Keys, e.keys[0].ID)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", e.keys)
	if n := len(e.recoveries(t, id)); n != 1 {
		t.Errorf("%d key.recover events, want 1", n)
	}
}

// TestRecoverKeysOntoCardDualControl: operator olga puts alice's key onto
// alice's card only with her own request an administrator approved; no
// request, or a pending one, is refused before the card is touched; the
// request is used once.
func TestRecoverKeysOntoCardDualControl(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	id := e.secondCard.Card.ID
	olga := e.operator(t, "olga")
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, id, cardops.RecoverKeysInput{CardTarget: e.target()}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("without a request: %v, want forbidden", err)
	}
	req, err := e.svc.Archive.RequestRecovery(ctx, olga, e.keys[0].ID, "alice's card lost its encryption key")
	if err != nil {
		t.Fatal(err)
	}
	in := cardops.RecoverKeysInput{CardTarget: e.target(), Requests: []int64{req.ID}}
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, id, in); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("with a pending request: %v, want conflict", err)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", nil)
	if _, err := e.svc.Archive.DecideRecovery(ctx, e.approver(t), req.ID, e.approval(t, "checked with alice")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, id, in); err != nil {
		t.Fatal(err)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", e.keys)
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, id, in); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("the request used again: %v, want conflict", err)
	}
	if n := len(e.recoveries(t, id)); n != 1 {
		t.Errorf("%d key.recover events, want 1", n)
	}
}

// TestRecoverKeysOntoCardResumed: alice's card is pulled (its last reply
// lost) after her recovery was recorded and before the card confirmed
// the keys; the next Recover keys onto card (a new step-up) writes the
// recorded key, with no second key.recover event. The interruption point
// is searched for: each attempt before it leaves nothing recorded.
func TestRecoverKeysOntoCardResumed(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	id := e.secondCard.Card.ID
	interrupted := e.interruptRecovery(t, id)
	if n := len(e.recoveries(t, id)); n != 1 {
		t.Fatalf("%d key.recover events before the card has the keys, want 1", n)
	}
	e.clock.Add(identity.TOTPPeriod)
	res, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: e.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || interrupted() {
		t.Fatalf("resumed recovery: %+v, still interrupted %v", res.Keys, interrupted())
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", e.keys)
	if n := len(e.recoveries(t, id)); n != 1 {
		t.Errorf("%d key.recover events after the resumed recovery, want 1", n)
	}
}

// TestRecoverKeysOntoCardNothingToRecover: alice, with no archived key,
// is told so before her step-up is asked (she has no authenticator app:
// the step-up would refuse otherwise).
func TestRecoverKeysOntoCardNothingToRecover(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, res.Card.ID, cardops.RecoverKeysInput{CardTarget: e.target()})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "no earlier archived keys") {
		t.Fatalf("recovery without archived keys: %v, want a conflict saying there are none", err)
	}
}

// TestRecoverKeysOntoCardOwnerEmailChanged: olga's approved request is
// refused onto alice's card once alice's e-mail address changed since it
// was requested (her notice went to the old one), as a download is.
func TestRecoverKeysOntoCardOwnerEmailChanged(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	olga := e.operator(t, "olga")
	req := e.approvedRequest(t, olga)
	email := "mallory@example.com"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Email: &email}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, e.secondCard.Card.ID, cardops.RecoverKeysInput{CardTarget: e.target(), Requests: []int64{req}})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "changed since") {
		t.Fatalf("recovery onto the card after the owner's address changed: %v, want conflict", err)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", nil)
}

// TestRecoverKeysOntoCardTurn: a recovery onto alice's card is refused
// while an update of the card is unfinished (its staged key may sit in a
// retired slot), while another recovery runs, and an interrupted one
// (alice's) is resumed only by whoever started it or the owner, not by
// operator olga, who has no request for it.
func TestRecoverKeysOntoCardTurn(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	id := e.secondCard.Card.ID
	olga := e.operator(t, "olga")
	add := func(kind lanyard.OperationKind, state lanyard.OperationState) *lanyard.Operation {
		op := &lanyard.Operation{Kind: kind, State: state, CardID: id, UserID: e.alice.User.ID, ActorID: e.alice.User.ID, Data: []byte(`{"keys":[]}`),
			CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
		storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.CreateOperation(op) })
		return op
	}
	set := func(op *lanyard.Operation, state lanyard.OperationState) {
		prev := op.UpdatedAt
		op.State, op.UpdatedAt = state, prev.Add(time.Second)
		storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.UpdateOperation(op, prev) })
	}
	in := cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: e.code(t)}
	up := add(lanyard.OpUpdate, lanyard.OpInterrupted)
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, in); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "Continue card update") {
		t.Fatalf("recovery during an unfinished update: %v, want conflict", err)
	}
	set(up, lanyard.OpFailed)
	running := add(lanyard.OpRecoverKeys, lanyard.OpRunning)
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, in); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("recovery while another runs: %v, want conflict", err)
	}
	set(running, lanyard.OpInterrupted)
	if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, olga, id, cardops.RecoverKeysInput{CardTarget: e.target()}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("olga resuming alice's interrupted recovery: %v, want forbidden", err)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", nil)
}
