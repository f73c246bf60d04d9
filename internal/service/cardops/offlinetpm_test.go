package cardops_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// issueTPMCard creates and issues alice's TPM virtual card with PIN
// 24681357 on workstation 1 (its keys from the workstation's
// VirtualKeys) and returns it with its reader.
func issueTPMCard(t *testing.T, e *issueEnv) (*lanyard.Card, string) {
	t.Helper()
	ctx := context.Background()
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard, Name: "Laptop TPM"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	var card *lanyard.Card
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(res.Card.ID); return }); err != nil {
		t.Fatal(err)
	}
	return card, cc.Reader
}

// tpmOfflineEnv issues alice's TPM virtual card, its PIN guard in tp,
// with help desk operator olivia, and returns them with the card's
// reader.
func tpmOfflineEnv(t *testing.T, tp *tpm.TPM) (e *issueEnv, olivia *lanyard.Principal, card *lanyard.Card, reader string) {
	t.Helper()
	e = newVirtualEnv(t, tpmStore(t, tp))
	e.enableTPM(t)
	olivia = helpDesk(t, e)
	card, reader = issueTPMCard(t, e)
	return e, olivia, card, reader
}

// armOf returns the card's armed code record.
func (e *issueEnv) armOf(t *testing.T, cardID int64) *lanyard.OfflineArm {
	t.Helper()
	var a *lanyard.OfflineArm
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) { a, err = tx.OfflineArmOf(cardID); return }); err != nil {
		t.Fatal(err)
	}
	return a
}

// A TPM card whose key store holds no PIN guard able to hold a code (as
// a TPM virtual card made before offline unblock): the issue records it
// unavailable and goes on; the server refuses its challenges, whatever
// they claim, and the card's arrival does not try again.
func TestOfflineUnblockTPMUnavailable(t *testing.T) {
	e := newVirtualEnv(t, emu.SoftKeyStore{})
	e.enableTPM(t)
	olivia := helpDesk(t, e)
	ctx := context.Background()
	card, reader := issueTPMCard(t, e)
	if a := e.armOf(t, card.ID); a.State != lanyard.OfflineUnavailable || a.Counter != 1 {
		t.Fatalf("arm record %+v, want unavailable", a)
	}
	for _, scheme := range []unblockcode.Scheme{unblockcode.SchemeLanyardTPM, unblockcode.SchemeLanyardMAC} {
		p, _ := unblockcode.ChallengeFields{Scheme: scheme, CardTag: unblockcode.CardTag(card.Serial), Counter: 1, Nonce: 3}.Pack()
		_, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: unblockcode.Encode(unblockcode.Challenge, p), Answers: aliceAnswers})
		if err == nil || !strings.Contains(err.Error(), "cannot be unblocked offline") && !strings.Contains(err.Error(), "not the scheme") {
			t.Errorf("a %s challenge of a card without offline unblock: %v", scheme, err)
		}
	}
	if armed, err := e.svc.Cards.RearmOffline(ctx, 1, reader, card.Serial); armed || err != nil {
		t.Fatalf("re-arming a card that cannot hold a code: %v, %v", armed, err)
	}
}

// A TPM card's code the server answered is never armed in it again
// (security review: re-arm after use). The card takes code 2 but the
// reply is lost, so the server's record says "arming"; the help desk
// answers code 2 all the same (the card shows it) and the user unblocks
// with it. The card's next connection arms code 3, not code 2 again, and
// code 2's response no longer unblocks. A record behind the card is
// refused by the card itself (its monotonic counter); the counter does
// not wrap past 65535: the server refuses to arm, saying to re-issue.
func TestOfflineUnblockTPMAnsweredCodeNotRearmed(t *testing.T) {
	e, olivia, card, reader := tpmOfflineEnv(t, tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed")))
	ctx := context.Background()
	pc := pivOf(t, e.access.Card(1, reader))
	answer := func(code string) unblockcode.Payload {
		t.Helper()
		res, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := unblockcode.Decode(unblockcode.Response, res.Response)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	rearm := func() (bool, error) { return e.svc.Cards.RearmOffline(ctx, 1, reader, card.Serial) }
	putArm := func(a lanyard.OfflineArm) {
		t.Helper()
		if err := e.st.Update(ctx, func(tx lanyard.Tx) error { return tx.PutOfflineArm(&a) }); err != nil {
			t.Fatal(err)
		}
	}

	// Code 1 used; code 2 armed, its reply lost.
	blockPIN(t, pc, "24681357")
	code1, counter1 := challengeOf(t, pc)
	if err := pc.UnblockWithResponse(ctx, counter1, answer(code1), "97531864"); err != nil {
		t.Fatal(err)
	}
	if armed, err := rearm(); !armed || err != nil {
		t.Fatalf("re-arming after the use: %v, %v", armed, err)
	}
	lost := *e.armOf(t, card.ID)
	lost.State = lanyard.OfflineArming
	putArm(lost)

	code2, counter2 := challengeOf(t, pc)
	if counter2 != 2 {
		t.Fatalf("the card shows counter %d, want 2", counter2)
	}
	resp2 := answer(code2) // the record is only arming: answered still
	if err := pc.UnblockWithResponse(ctx, counter2, resp2, "13572468"); err != nil {
		t.Fatal(err)
	}
	if armed, err := rearm(); !armed || err != nil {
		t.Fatalf("the connection after code 2 was used: %v, %v", armed, err)
	}
	code3, counter3 := challengeOf(t, pc)
	if a := e.armOf(t, card.ID); counter3 != 3 || code3 == code2 || a.Counter != 3 || a.State != lanyard.OfflineArmed {
		t.Fatalf("after the connection: the card shows counter %d (%s), record %+v; want a new code 3", counter3, code3, a)
	}
	if err := pc.UnblockWithResponse(ctx, counter2, resp2, "11223344"); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("code 2's response again: %v, want refused", err)
	}
	if err := pc.VerifyPIN(ctx, "13572468"); err != nil {
		t.Fatalf("the PIN set with code 2: %v", err)
	}

	// A record behind the card (code 3 with another nonce, as if restored
	// from a backup): the card refuses it and keeps code 3.
	behind := *e.armOf(t, card.ID)
	stale := behind
	stale.State, stale.Nonce = lanyard.OfflineArming, behind.Nonce^1
	putArm(stale)
	if armed, err := rearm(); armed || !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "armed that counter or a later one before") {
		t.Fatalf("arming a counter the card armed before: %v, %v", armed, err)
	}
	if code, _ := challengeOf(t, pc); code != code3 {
		t.Fatalf("the card's code changed: %s, want %s", code, code3)
	}
	putArm(behind)

	// The last counter: code 65535 is armed, given out, and then no
	// code follows (the challenge's 16 bits would wrap to a counter the
	// card took before).
	last := behind
	last.Counter = 0xFFFE
	putArm(last)
	if armed, err := rearm(); !armed || err != nil {
		t.Fatalf("arming counter 65535: %v, %v", armed, err)
	}
	code, counter := challengeOf(t, pc)
	if counter != 0xFFFF {
		t.Fatalf("the card shows counter %d, want 65535", counter)
	}
	answer(code)
	if armed, err := rearm(); armed || !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "new virtual card") {
		t.Fatalf("arming past counter 65535: %v, %v", armed, err)
	}
	if a := e.armOf(t, card.ID); a.Counter != 0xFFFF || a.State != lanyard.OfflineArmed {
		t.Fatalf("the record after the refusal: %+v", a)
	}
}
