package cardops_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// Where a random PIN set at an issue is held, and for how long (docs/
// security.md, "Where a random PIN is kept"): apart from the operation
// record, until it is used, it expires, or the card is cleared.

// pinMailEnvWith is pinMailEnv on a service changed by opts.
func pinMailEnvWith(t *testing.T, m service.Notifier, mailTo lanyard.PINRecipient, opts servicetest.Options) (*issueEnv, *cardops.IssueCardResult) {
	t.Helper()
	opts.Notifier = m
	e := newIssueEnvFrom(t, &issueEnv{opts: opts})
	ctx := context.Background()
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{ManagerEmail: ptr("boss@example.test")}); err != nil {
		t.Fatal(err)
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.RandomUserPIN = true
		s.Issuance.RandomPIN.ShowToUser = true
		s.Issuance.RandomPIN.MailTo = mailTo
	})
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	return e, res
}

// The owner's copy of a PIN someone else's issue set expires after
// OwnerPINWindow: it is no longer offered or shown, and the schedule
// erases it.
func TestOwnerPINExpires(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{}
	e := newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.now}})
	res, _ := issueForAlice(t, e, lanyard.PINMailNobody, false)
	waiting, err := e.svc.Cards.IssuedPINs(ctx, e.alice)
	if err != nil || len(waiting) != 1 {
		t.Fatalf("alice's waiting PINs: %v %+v", err, waiting)
	}
	purge(t, e, 0)
	clock.advance(cardops.OwnerPINWindow)
	if waiting, err := e.svc.Cards.IssuedPINs(ctx, e.alice); err != nil || len(waiting) != 0 {
		t.Fatalf("alice's waiting PINs after %v: %v %+v", cardops.OwnerPINWindow, err, waiting)
	}
	_, err = e.svc.Cards.ShowIssuedPIN(ctx, e.alice, res.Card.ID, cardops.ShowIssuedPINInput{OperationID: res.OperationID})
	wantCode(t, err, lanyard.EConflict)
	purge(t, e, 1)
	purge(t, e, 0)
}

// A copy whose issue failed or was interrupted after it was made (a
// Continue that stopped) is erased on schedule like any other.
func TestPINCopyOfStoppedIssuePurged(t *testing.T) {
	for _, state := range []lanyard.OperationState{lanyard.OpFailed, lanyard.OpInterrupted} {
		clock := &testClock{}
		e, res := pinMailEnvWith(t, &pinMail{}, lanyard.PINMailUser, servicetest.Options{Now: clock.now})
		op := operation(t, e, res.OperationID)
		prev := op.UpdatedAt
		op.State, op.UpdatedAt = state, time.Now()
		if err := e.st.Update(context.Background(), func(tx lanyard.Tx) error { return tx.UpdateOperation(op, prev) }); err != nil {
			t.Fatal(err)
		}
		clock.advance(cardops.PINMailWindow)
		if n, err := e.svc.Cards.PurgePINCopies(context.Background()); err != nil || n != 1 {
			t.Errorf("%s issue: the purge erased %d copies (%v), want 1", state, n, err)
		}
	}
}

// Revoking and clearing a card erases the copies of its PIN, the mail
// copy and the owner's, in the same transaction.
func TestRevokeAndClearErasesPINCopies(t *testing.T) {
	ctx := context.Background()
	for name, setup := range map[string]func(*testClock) (*issueEnv, *cardops.IssueCardResult, *lanyard.Principal){
		"mail copy": func(c *testClock) (*issueEnv, *cardops.IssueCardResult, *lanyard.Principal) {
			e, res := pinMailEnvWith(t, &pinMail{}, lanyard.PINMailUser, servicetest.Options{Now: c.now})
			return e, res, e.alice
		},
		"owner's copy": func(c *testClock) (*issueEnv, *cardops.IssueCardResult, *lanyard.Principal) {
			e := newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: c.now}})
			res, _ := issueForAlice(t, e, lanyard.PINMailNobody, false)
			return e, res, e.admin
		},
	} {
		clock := &testClock{}
		e, res, by := setup(clock)
		if _, err := e.svc.Cards.RevokeAndClearCard(ctx, by, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if data := string(operation(t, e, res.OperationID).Data); strings.Contains(data, "pin_copy\"") || strings.Contains(data, "owner_pin") {
			t.Errorf("%s: the issue record keeps a copy after the card was cleared: %s", name, data)
		}
		// Nothing is left for the schedule to erase, even past every window.
		clock.advance(cardops.OwnerPINWindow + cardops.PINMailWindow)
		if n, err := e.svc.Cards.PurgePINCopies(ctx); err != nil || n != 0 {
			t.Errorf("%s: %d copies outlived the clearing (%v)", name, n, err)
		}
	}
}

// A change of the manager's or the user's address after the issue does
// not redirect the PIN: it goes to the address recorded when the copy was
// made (the one the policy named when the PIN was set), so an operator
// who can edit users cannot route a PIN to themselves.
func TestMailIssuePINToAddressAtIssue(t *testing.T) {
	ctx := context.Background()
	m := &pinMail{}
	e, res := pinMailEnv(t, m, lanyard.PINMailUser)
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Email: ptr("mallory@example.test"), ManagerEmail: ptr("mallory-boss@example.test")}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToManager})
	if err != nil {
		t.Fatal(err)
	}
	if want := "boss@example.test"; got.MailedTo != want || len(m.to) != 1 || m.to[0] != want || m.pin != res.RandomPIN {
		t.Errorf("mailed to the manager: result %q, sent to %v; want %s", got.MailedTo, m.to, want)
	}
}

// Mailing or showing the PIN does not write the operation record: an
// update of the operation (a Continue's step) landing between the
// request's reads and its write does not make either fail.
func TestPINTakeWithOperationUpdateBetween(t *testing.T) {
	ctx := context.Background()
	race := &raceStore{}
	opts := servicetest.Options{WrapStore: func(st lanyard.Store) lanyard.Store { race.Store = st; return race }}
	m := &pinMail{}
	e, res := pinMailEnvWith(t, m, lanyard.PINMailUser, opts)
	race.arm(func() { touchOperation(t, e, res.OperationID) })
	if _, err := e.svc.Cards.MailIssuePIN(ctx, e.alice, res.Card.ID, cardops.MailIssuePINInput{OperationID: res.OperationID, To: cardops.PINMailToMe}); err != nil {
		t.Errorf("mailing the PIN with the operation updated meanwhile: %v", err)
	}

	e2 := newIssueEnvFrom(t, &issueEnv{opts: opts})
	res, _ = issueForAlice(t, e2, lanyard.PINMailNobody, false)
	race.arm(func() { touchOperation(t, e2, res.OperationID) })
	if shown, err := e2.svc.Cards.ShowIssuedPIN(ctx, e2.alice, res.Card.ID, cardops.ShowIssuedPINInput{OperationID: res.OperationID}); err != nil || len(shown.PIN) != 8 {
		t.Errorf("showing the PIN with the operation updated meanwhile: %v", err)
	}
}

// touchOperation writes operation id as a step of its run would.
func touchOperation(t *testing.T, e *issueEnv, id int64) {
	t.Helper()
	op := operation(t, e, id)
	prev := op.UpdatedAt
	op.UpdatedAt = prev.Add(time.Millisecond)
	if err := e.st.Update(context.Background(), func(tx lanyard.Tx) error { return tx.UpdateOperation(op, prev) }); err != nil {
		t.Fatal(err)
	}
}

// raceStore is the service's store with a hook run once, after the first
// transaction that ends once it is armed: another writer's transaction
// landing between two of the service's.
type raceStore struct {
	lanyard.Store
	mu   sync.Mutex
	hook func()
}

func (s *raceStore) arm(hook func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = hook
}

func (s *raceStore) fire() {
	s.mu.Lock()
	hook := s.hook
	s.hook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
}

func (s *raceStore) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	defer s.fire()
	return s.Store.View(ctx, fn)
}

func (s *raceStore) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	defer s.fire()
	return s.Store.Update(ctx, fn)
}

// testClock is a service clock the test moves forward.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// Whoever sets someone else's password can sign in as them: the random
// PIN kept for the owner's first look is erased with the change, so an
// operator who issued a card for alice cannot reset her password and
// read it in her session.
func TestOwnerPINErasedWhenSomeoneElseSetsPassword(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, _ := issueForAlice(t, e, lanyard.PINMailNobody, false)
	if waiting, err := e.svc.Cards.IssuedPINs(ctx, e.alice); err != nil || len(waiting) != 1 {
		t.Fatalf("alice's waiting PINs: %v %+v", err, waiting)
	}
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Password: ptr("a new password for alice")}); err != nil {
		t.Fatal(err)
	}
	if waiting, err := e.svc.Cards.IssuedPINs(ctx, e.alice); err != nil || len(waiting) != 0 {
		t.Fatalf("alice's waiting PINs after someone else set her password: %v %+v", err, waiting)
	}
	_, err := e.svc.Cards.ShowIssuedPIN(ctx, e.alice, res.Card.ID, cardops.ShowIssuedPINInput{OperationID: res.OperationID})
	wantCode(t, err, lanyard.EConflict)
}
