package cardops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestClearInitialize: Clear with Initialize wipes a revoked card — no
// certificate left, the factory PIN, the server's record without the
// card's own PUK or diversified key — audited as one clear with
// initialized set; another user may not, and the operation is recorded
// with its Initializing step (before the RESET) and Initialized step.
func TestClearInitialize(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	card, _ := e.issueTwo(t)
	if _, err := e.svc.Cards.RevokeCard(ctx, e.alice, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	bob := e.staff(t, "bob", lanyard.RoleUser)
	_, err := e.svc.Cards.RevokeAndClearCard(ctx, bob, card.ID, cardops.ClearInput{CardTarget: e.target(), Initialize: true})
	servicetest.WantErr(t, "another user initializes alice's card", err, lanyard.ENotFound, "not found")

	v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: e.target(), Initialize: true})
	if err != nil {
		t.Fatal(err)
	}
	checkWiped(t, e, v)
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(card.ID)
		if err != nil {
			return err
		}
		if c.AdminKeyVersion != 0 || c.PUKState != lanyard.PUKDefault || len(c.SealedPUK) != 0 {
			t.Errorf("the record after the wipe: key version %d, PUK %s", c.AdminKeyVersion, c.PUKState)
		}
		evs, err := tx.ListAudit(lanyard.AuditFilter{Action: "card.revoke_clear"})
		if err != nil {
			return err
		}
		if len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"initialized":true`) {
			t.Errorf("audit: %+v", evs)
		}
		steps, err := tx.ListAudit(lanyard.AuditFilter{Action: "card.clear.step"})
		if err == nil && (len(steps) != 2 || !strings.Contains(string(steps[0].Details), `"step":"initializing"`) || !strings.Contains(string(steps[1].Details), `"step":"initialized"`)) {
			t.Errorf("steps: %+v", steps)
		}
		return err
	})
}

// TestClearInitializePulledAnywhereThenRepeated: a Clear with Initialize
// pulled after any number of APDUs — right after the card's RESET
// included, when the card no longer has the CHUID and management key
// its record holds — is finished by the next attempt: the operation
// records Initializing before the wipe, and the retry accepts the card
// by its serial and a default management key, initializes it again and
// records a completed initialize; the card can then be withdrawn.
// Before, every retry after a pull past the RESET failed (another CHUID,
// the diversified key gone), the card left revoked with its
// certificates marked on it.
func TestClearInitializePulledAnywhereThenRepeated(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	card, _ := e.issueTwo(t)
	if _, err := e.svc.Cards.RevokeCard(ctx, e.alice, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	recorded := cardRecord(t, e, card.ID).GUID
	resetSeen := 0
	var v *cardops.CardView
	for n := 1; ; n++ {
		if n > 250 {
			t.Fatalf("clear with initialize never went through (%d pulls after the RESET)", resetSeen)
		}
		e.access.FailAfter(1, reader, n)
		var err error
		if v, err = e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: e.target(), Initialize: true}); err == nil {
			break
		}
		if id, ierr := personalize.Identify(ctx, pivOf(t, e.card)); ierr == nil && id.GUID != recorded && cardRecord(t, e, card.ID).GUID == recorded {
			resetSeen++ // pulled after the RESET, before the record followed
		}
	}
	if resetSeen == 0 {
		t.Fatal("no attempt was pulled after the card's RESET: the test proved nothing")
	}
	checkWiped(t, e, v)
	c := cardRecord(t, e, card.ID)
	id, err := personalize.Identify(ctx, pivOf(t, e.card))
	if err != nil || c.GUID != id.GUID || c.AdminKeyVersion != 0 || c.PUKState != lanyard.PUKDefault {
		t.Errorf("the record after the wipe: GUID %q (card %q, %v), key version %d, PUK %s", c.GUID, id.GUID, err, c.AdminKeyVersion, c.PUKState)
	}
	var last *lanyard.Operation
	initializing := 0
	for _, op := range v.Operations {
		if op.Kind != lanyard.OpClear {
			continue
		}
		if op.State == lanyard.OpFailed && op.Step == "initializing" {
			initializing++
		}
		if last == nil || op.ID > last.ID {
			last = op
		}
	}
	if initializing == 0 || last.State != lanyard.OpDone {
		t.Errorf("clear operations: %d failed while initializing; the last %+v", initializing, last)
	}
	olga := e.staff(t, "olga", lanyard.RoleUser, lanyard.RoleOperator)
	if _, err := e.svc.Cards.WithdrawCard(ctx, olga, card.ID, cardops.WithdrawCardInput{To: cardops.WithdrawToStock}); err != nil {
		t.Errorf("withdraw after the finished clear: %v", err)
	}
}

// checkWiped checks a card that was lost, revoked and initialized: still
// revoked as lost, no certificate on it, the factory PIN.
func checkWiped(t *testing.T, e *issueEnv, v *cardops.CardView) {
	t.Helper()
	if v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost {
		t.Errorf("after the wipe: %s %q", v.State, v.RevocationReason)
	}
	pc := pivOf(t, e.card)
	if certs, _ := pc.Certificates(context.Background()); len(certs) != 0 {
		t.Errorf("the wiped card holds %d certificates", len(certs))
	}
	if err := pc.VerifyPIN(context.Background(), "123456"); err != nil {
		t.Errorf("the factory PIN on the wiped card: %v", err)
	}
}

// The retry of an initialization pulled after the card's RESET takes a
// card by its serial and a default management key, which any card can
// claim; it is therefore taken only at the workstation where the
// initialization ran (review of the fixes, 5).
func TestClearInitializeRetryOnlyWhereItRan(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	card, _ := e.issueTwo(t)
	if _, err := e.svc.Cards.RevokeCard(ctx, e.alice, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	recorded := cardRecord(t, e, card.ID).GUID
	pulledAfterReset := false
	for n := 1; n < 250 && !pulledAfterReset; n++ {
		e.access.FailAfter(1, reader, n)
		if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: e.target(), Initialize: true}); err == nil {
			t.Fatal("the clear went through before any pull after the RESET")
		}
		id, err := personalize.Identify(ctx, pivOf(t, e.card))
		pulledAfterReset = err == nil && id.GUID != recorded && cardRecord(t, e, card.ID).GUID == recorded
	}
	if !pulledAfterReset {
		t.Fatal("no attempt was pulled after the card's RESET")
	}
	// The same card (or one claiming its serial) at another workstation.
	w1 := e.access.Workstation(1)
	w2 := e.access.AddWorkstation(2, e.alice.User.ID, "ws-2")
	w2.Readers[secondReader], w2.Serials[secondReader] = e.card, w1.Serials[reader]
	delete(w1.Readers, reader)
	other := cardops.CardTarget{WorkstationID: 2, Reader: secondReader}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: other, Initialize: true}); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "another workstation") {
		t.Fatalf("the retry at another workstation: %v, want refused", err)
	}
	delete(w2.Readers, secondReader)
	w1.Readers[reader] = e.card
	v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, card.ID, cardops.ClearInput{CardTarget: e.target(), Initialize: true})
	if err != nil {
		t.Fatalf("the retry where the initialization ran: %v", err)
	}
	checkWiped(t, e, v)
}
