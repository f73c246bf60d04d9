package storetest

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// NewCard returns a card of ownerID (0: none) with every field set.
func NewCard(serial string, ownerID int64) *lanyard.Card {
	return &lanyard.Card{
		Serial: serial, CardType: "piv", OwnerID: ownerID, Name: "Card " + serial, State: lanyard.CardIssued,
		CardID: "a0b1c2" + serial, AdminKeyVersion: 1, ATR: []byte{0x3b, 0xf8, 0x13}, WorkstationID: 5,
		GUID: "9f3e" + serial, SealedPUK: []byte("sealed " + serial), PUKState: lanyard.PUKRandom,
		IssuedAt: at(time.Minute), CreatedAt: t0, UpdatedAt: at(time.Second),
	}
}

func testCards(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	a1, a2, b1 := NewCard("1001", alice.ID), NewCard("1002", alice.ID), NewCard("2001", bob.ID)
	a2.WorkstationID, b1.WorkstationID = 77, 77
	a2.PUKState, a2.SealedPUK, b1.PUKState, b1.SealedPUK = lanyard.PUKDefault, nil, lanyard.PUKUnknown, nil
	clean := NewCard("3001", 0)
	clean.State, clean.IssuedAt, clean.ATR, clean.WorkstationID, clean.Name = lanyard.CardClean, time.Time{}, nil, 0, ""
	clean.PUKState, clean.SealedPUK = lanyard.PUKFactory, nil
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.Card{a1, a2, b1, clean} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.Card{a1, clean} {
			got, err := tx.CardByID(want.ID)
			if err != nil {
				return err
			}
			equal(t, "CardByID", got, want)
			got, err = tx.CardBySerial(want.CardType, want.Serial)
			if err != nil {
				return err
			}
			equal(t, "CardBySerial", got, want)
		}
		_, err := tx.CardBySerial("piv", "nope")
		wantCode(t, "CardBySerial missing", err, lanyard.ENotFound)
		_, err = tx.CardByID(999_999)
		wantCode(t, "CardByID missing", err, lanyard.ENotFound)
		list, err := tx.ListCards(lanyard.CardFilter{OwnerID: alice.ID})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards owner", list, func(c *lanyard.Card) int64 { return c.ID }, a1.ID, a2.ID)
		list, err = tx.ListCards(lanyard.CardFilter{State: lanyard.CardClean})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards state", list, func(c *lanyard.Card) int64 { return c.ID }, clean.ID)
		list, err = tx.ListCards(lanyard.CardFilter{WorkstationID: 77})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards workstation", list, func(c *lanyard.Card) int64 { return c.ID }, a2.ID, b1.ID)
		// Which cards still have a shared PUK (issue 13), by PUK state.
		for state, want := range map[lanyard.PUKState][]int64{
			lanyard.PUKDefault: {a2.ID}, lanyard.PUKUnknown: {b1.ID}, lanyard.PUKRandom: {a1.ID},
		} {
			list, err = tx.ListCards(lanyard.CardFilter{PUKState: state})
			if err != nil {
				return err
			}
			wantIDs(t, "ListCards PUK state "+string(state), list, func(c *lanyard.Card) int64 { return c.ID }, want...)
		}
		list, err = tx.ListCards(lanyard.CardFilter{PUKState: lanyard.PUKDefault, OwnerID: bob.ID})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards PUK state and owner", list, func(c *lanyard.Card) int64 { return c.ID })
		list, err = tx.ListCards(lanyard.CardFilter{Query: "200"})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards query", list, func(c *lanyard.Card) int64 { return c.ID }, b1.ID)
		list, err = tx.ListCards(lanyard.CardFilter{Query: "%"})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards query with a wildcard", list, func(c *lanyard.Card) int64 { return c.ID })
		list, err = tx.ListCards(lanyard.CardFilter{Limit: 2, Offset: 1})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCards page", list, func(c *lanyard.Card) int64 { return c.ID }, a2.ID, b1.ID)
		return nil
	})

	// The same serial is a different card under another card type, and
	// the same one under the same type.
	dup := NewCard("1001", bob.ID)
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCard(dup) })
	wantCode(t, "CreateCard duplicate", err, lanyard.EConflict)
	other := NewCard("1001", bob.ID)
	other.CardType = "tpm"
	// ... but no two cards share the identifier their management key is
	// bound to, or a CHUID GUID (issue 13: a copied CHUID is refused).
	for _, clash := range []func(c *lanyard.Card){
		func(c *lanyard.Card) { c.GUID = "" },   // a1's key identifier
		func(c *lanyard.Card) { c.CardID = "" }, // a1's GUID
	} {
		c := *other
		clash(&c)
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCard(&c) })
		wantCode(t, "CreateCard with another card's identity", err, lanyard.EConflict)
	}
	other.CardID, other.GUID = "", ""
	bad := NewCard("4001", 999_999)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCard(other) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCard(bad) })
	wantCode(t, "CreateCard missing owner", err, lanyard.EInvalid)
	badState := NewCard("4002", 0)
	badState.State = "lost"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCard(badState) })
	wantCode(t, "CreateCard bad state", err, lanyard.EInvalid)
	badState.State, badState.PUKState = lanyard.CardClean, "shared"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCard(badState) })
	wantCode(t, "CreateCard bad PUK state", err, lanyard.EInvalid)
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, tc := range []struct {
			ident, guid string
			want        []int64
		}{
			{a1.CardID, "", []int64{a1.ID}},
			{"", b1.GUID, []int64{b1.ID}},
			{a1.CardID, b1.GUID, []int64{a1.ID, b1.ID}},
			{"nope", "", nil},
			{"", "", nil}, // cards without a GUID or identifier share ""
		} {
			list, err := tx.CardsByIdentity(tc.ident, tc.guid)
			if err != nil {
				return err
			}
			wantIDs(t, fmt.Sprintf("CardsByIdentity(%q, %q)", tc.ident, tc.guid), list, func(c *lanyard.Card) int64 { return c.ID }, tc.want...)
		}
		return nil
	})

	// Update writes every mutable field and leaves serial, type and
	// creation alone; revoked cards stop counting.
	upd := *a2
	upd.OwnerID, upd.Name, upd.State, upd.CardID, upd.AdminKeyVersion = bob.ID, "renamed", lanyard.CardRevoked, "ff", 2
	upd.ATR, upd.WorkstationID, upd.IssuedAt, upd.UpdatedAt = []byte{1}, 9, at(time.Hour), at(2*time.Hour)
	upd.GUID, upd.SealedPUK, upd.PUKState = "77aa", []byte("resealed"), lanyard.PUKUnknown
	upd.RevocationReason = lanyard.CardLost
	upd.OfflineScheme, upd.PUKReleasedAt = "piv-puk", at(90*time.Minute)
	upd.Serial, upd.CreatedAt = "changed", at(-time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateCard(&upd) })
	want := upd
	want.Serial, want.CreatedAt = a2.Serial, a2.CreatedAt
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CardByID(a2.ID)
		if err != nil {
			return err
		}
		equal(t, "card after UpdateCard", got, &want)
		n, err := tx.CountCards(alice.ID)
		if err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("CountCards(alice) = %d, want 1", n)
		}
		n, err = tx.CountCards(bob.ID)
		if err != nil {
			return err
		}
		if n != 2 { // b1 and other; a2 is bob's now but revoked
			t.Errorf("CountCards(bob) = %d, want 2", n)
		}
		return nil
	})
	missing := *a1
	missing.ID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateCard(&missing) })
	wantCode(t, "UpdateCard missing", err, lanyard.ENotFound)

	// Certificates can be listed by card.
	c1 := NewCertificate("builtin", "c1", alice.ID)
	c1.CardID = a1.ID
	c2 := NewCertificate("builtin", "c2", alice.ID)
	c2.CardID = 0
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateCertificate(c1); err != nil {
			return err
		}
		return tx.CreateCertificate(c2)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		list, err := tx.ListCertificates(lanyard.CertFilter{CardID: a1.ID})
		if err != nil {
			return err
		}
		wantIDs(t, "ListCertificates by card", list, func(c *lanyard.Certificate) int64 { return c.ID }, c1.ID)
		return nil
	})
}

func testOperations(t *testing.T, s lanyard.Store) {
	alice, op := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "operator")
	card := NewCard("1001", alice.ID)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCard(card) })
	o1 := &lanyard.Operation{Kind: lanyard.OpIssue, CardID: card.ID, UserID: alice.ID, ActorID: alice.ID, State: lanyard.OpRunning,
		Step: "plan", Data: json.RawMessage(`{"templates":["logon"]}`), CreatedAt: t0, UpdatedAt: t0}
	o2 := &lanyard.Operation{Kind: lanyard.OpIssue, CardID: card.ID, UserID: alice.ID, ActorID: op.ID, State: lanyard.OpDone,
		CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateOperation(o1); err != nil {
			return err
		}
		return tx.CreateOperation(o2)
	})
	upd := *o1
	upd.State, upd.Step, upd.Data, upd.Error, upd.UpdatedAt = lanyard.OpInterrupted, "keys", json.RawMessage(`{"slots":{"9a":"ab"}}`), "card removed", at(time.Minute)
	upd.Kind, upd.CreatedAt = "other", at(-time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateOperation(&upd, o1.UpdatedAt) })
	// A run holding the old state loses: the operation changed meanwhile.
	stale := *o1
	stale.State = lanyard.OpDone
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateOperation(&stale, o1.UpdatedAt) })
	wantCode(t, "UpdateOperation from a stale read", err, lanyard.EConflict)
	missingOp := *o1
	missingOp.ID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateOperation(&missingOp, o1.UpdatedAt) })
	wantCode(t, "UpdateOperation missing", err, lanyard.ENotFound)
	want := upd
	want.Kind, want.CreatedAt = o1.Kind, o1.CreatedAt
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.OperationByID(o1.ID)
		if err != nil {
			return err
		}
		equal(t, "operation after UpdateOperation", got, &want)
		got, err = tx.OperationByID(o2.ID)
		if err != nil {
			return err
		}
		equal(t, "OperationByID without data", got, o2)
		list, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID})
		if err != nil {
			return err
		}
		wantIDs(t, "ListOperations newest first", list, func(o *lanyard.Operation) int64 { return o.ID }, o2.ID, o1.ID)
		list, err = tx.ListOperations(lanyard.OperationFilter{State: lanyard.OpInterrupted})
		if err != nil {
			return err
		}
		wantIDs(t, "ListOperations by state", list, func(o *lanyard.Operation) int64 { return o.ID }, o1.ID)
		list, err = tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Unfinished: true})
		if err != nil {
			return err
		}
		wantIDs(t, "ListOperations unfinished", list, func(o *lanyard.Operation) int64 { return o.ID }, o1.ID)
		list, err = tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Kind: lanyard.OpIssue, State: lanyard.OpDone})
		if err != nil {
			return err
		}
		wantIDs(t, "ListOperations by kind and state", list, func(o *lanyard.Operation) int64 { return o.ID }, o2.ID)
		list, err = tx.ListOperations(lanyard.OperationFilter{Kind: lanyard.OpClear})
		if err != nil {
			return err
		}
		wantIDs(t, "ListOperations of a kind there is none of", list, func(o *lanyard.Operation) int64 { return o.ID })
		_, err = tx.OperationByID(999_999)
		wantCode(t, "OperationByID missing", err, lanyard.ENotFound)
		return nil
	})
	bad := &lanyard.Operation{Kind: lanyard.OpIssue, CardID: 999_999, UserID: alice.ID, State: lanyard.OpRunning, CreatedAt: t0, UpdatedAt: t0}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateOperation(bad) })
	wantCode(t, "CreateOperation missing card", err, lanyard.EInvalid)
}

func testSecretAnswers(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.SecretAnswers(alice.ID)
		if err != nil {
			return err
		}
		equal(t, "no secret answers", got, []lanyard.SecretAnswer{})
		return nil
	})
	first := []lanyard.SecretAnswer{{Question: "q1", AnswerHash: "h1"}, {Question: "q2", AnswerHash: "h2"}}
	second := []lanyard.SecretAnswer{{Question: "q3", AnswerHash: "h3"}}
	for _, want := range [][]lanyard.SecretAnswer{first, second} {
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.SetSecretAnswers(alice.ID, want) })
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := tx.SecretAnswers(alice.ID)
			if err != nil {
				return err
			}
			equal(t, "secret answers", got, want)
			return nil
		})
	}
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetSecretAnswers(999_999, first) })
	wantCode(t, "SetSecretAnswers missing user", err, lanyard.EInvalid)
}

// testMaxCardsConcurrent: transactions that lock the user, count her
// cards and add one if she has fewer than two — issues of two cards at
// once under a policy maximum — never let more than two through, on an
// engine that serializes writers (SQLite) as on one that does not
// (PostgreSQL at READ COMMITTED, where LockUser's row lock does it).
func testMaxCardsConcurrent(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.LockUser(999_999) })
	wantCode(t, "LockUser of a missing user", err, lanyard.ENotFound)
	const max = 2
	ok := checkThenWrite(t, s, 8, func(tx lanyard.Tx, i int, checked func()) error {
		if err := tx.LockUser(alice.ID); err != nil {
			return err
		}
		have, err := tx.CountCards(alice.ID)
		if err != nil {
			return err
		}
		if have >= max {
			return lanyard.Errorf(lanyard.EConflict, "at most %d cards", max)
		}
		checked()
		return tx.CreateCard(NewCard(fmt.Sprintf("90%02d", i), alice.ID))
	})
	var have int
	MustView(t, s, func(tx lanyard.Tx) (err error) { have, err = tx.CountCards(alice.ID); return err })
	if ok != max || have != max {
		t.Errorf("%d concurrent issues succeeded and alice has %d cards, want %d", ok, have, max)
	}
}

// testCardLockConcurrent: transactions that lock a card, check that it is
// still clean and take it — two issues of one AirCard at once — let
// exactly one through on both engines.
func testCardLockConcurrent(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	c := NewCard("7001", alice.ID)
	c.State = lanyard.CardClean
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCard(c) })
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.LockCard(999_999) })
	wantCode(t, "LockCard of a missing card", err, lanyard.ENotFound)
	ok := checkThenWrite(t, s, 8, func(tx lanyard.Tx, _ int, checked func()) error {
		if err := tx.LockCard(c.ID); err != nil {
			return err
		}
		cur, err := tx.CardByID(c.ID)
		if err != nil {
			return err
		}
		if cur.State != lanyard.CardClean {
			return lanyard.Errorf(lanyard.EConflict, "taken")
		}
		checked()
		cur.State = lanyard.CardAssigned
		return tx.UpdateCard(cur)
	})
	if ok != 1 {
		t.Errorf("%d concurrent takes of one card succeeded, want 1", ok)
	}
}

// checkThenWrite runs n Update transactions at once, each fn(tx, i,
// checked), and returns how many committed; the others must fail with
// EConflict. fn calls checked between its check and its write: each
// transaction waits there until all n have checked, or for a short while
// when they cannot all get there (a lock lets one in at a time). Without
// the lock every transaction thus checks before any writes, whatever
// order the pool starts them in: the race the lock must prevent is
// always run.
func checkThenWrite(t *testing.T, s lanyard.Store, n int, fn func(tx lanyard.Tx, i int, checked func()) error) (ok int) {
	t.Helper()
	var arrived atomic.Int32
	all := make(chan struct{})
	checked := func() {
		if arrived.Add(1) == int32(n) {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(100 * time.Millisecond):
		}
	}
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- s.Update(t.Context(), func(tx lanyard.Tx) error { return fn(tx, i, checked) }) }()
	}
	for range n {
		switch err := <-errs; {
		case err == nil:
			ok++
		case !lanyard.IsCode(err, lanyard.EConflict):
			t.Errorf("concurrent transaction: %v", err)
		}
	}
	return ok
}
