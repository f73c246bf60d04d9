package cardops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
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
