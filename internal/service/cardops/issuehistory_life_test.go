package cardops_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Alice's card was issued with an archived secure-email key K0. Operator
// olga revokes and clears it, withdraws it to stock, issues it again to
// alice with a PIN she chooses, then renews secure-email: the update's
// "held by this card" keys are those of the card's current life only, so
// K0 (archived for the card in its previous life) needs a key recovery
// and is not put in its retired slots.
func TestUpdateHistoryOnlyThisLifeOfTheCard(t *testing.T) {
	ctx := context.Background()
	e := newStepUpEnv(t)
	k0 := e.keys[0]
	card := e.firstCard(t)
	olga := e.operator(t, "olga")
	tgt := cardops.CardTarget{WorkstationID: 1, Reader: reader}
	if _, err := e.svc.Cards.RevokeCard(ctx, olga, card.ID, cardops.RevokeCardInput{Reason: lanyard.CardRevocationReason("superseded")}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, olga, card.ID, cardops.ClearInput{CardTarget: tgt}); err != nil {
		t.Fatalf("clear: %v", err)
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, olga, card.ID, cardops.WithdrawCardInput{To: cardops.WithdrawToStock}); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	issueTgt := tgt
	issueTgt.User = "alice"
	res, err := e.svc.Cards.IssueCard(ctx, olga, cardops.IssueCardInput{CardTarget: issueTgt, Templates: []string{"secure-email"}, UserPIN: "99887766"})
	if err != nil {
		t.Fatalf("issue again: %v", err)
	}
	if res.State != string(lanyard.CardIssued) {
		e.approveAndContinue(t, olga, res, issueTgt)
	}
	up, err := e.svc.Cards.UpdateCard(ctx, olga, cardops.UpdateCardInput{CardTarget: tgt, CardID: card.ID, Renew: []string{"secure-email"}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	for up.State == "pending" {
		v, err := e.svc.Cards.GetCard(ctx, olga, card.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range v.Certificates {
			if c.RequestID != 0 {
				if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, c.RequestID, "ok"); err != nil {
					t.Logf("approve %d: %v", c.RequestID, err)
				}
			}
		}
		if up, err = e.svc.Cards.ContinueCardUpdate(ctx, olga, card.ID, tgt); err != nil {
			t.Fatalf("continue update: %v", err)
		}
	}
	pc := pivOf(t, e.card)
	h, err := personalize.ReadKeyHistory(ctx, pc)
	if err != nil {
		t.Fatalf("key history: %v", err)
	}
	for n := 1; n <= h.OnCard; n++ {
		slot, _ := pivspec.RetiredSlot(n)
		if c, err := pc.Certificate(ctx, slot); err == nil && c.SerialNumber.Text(16) == k0.CertificateSerial {
			t.Fatalf("slot %s holds archived key %d from the card's previous life, put there by an update without any key recovery", slot, k0.ID)
		}
	}
	for _, ev := range e.recoveries(t, card.ID) {
		if ev.Actor == "olga" && strings.Contains(fmt.Sprint(ev.Details), k0.CertificateSerial) {
			t.Fatalf("olga's update recorded recovering archived key %d of the card's previous life: %s", k0.ID, ev.Details)
		}
	}
}
