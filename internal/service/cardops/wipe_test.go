package cardops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestClearInitialize: Clear with Initialize wipes a revoked card — no
// certificate left, the factory PIN, the server's record without the
// card's own PUK or diversified key — audited as one clear with
// initialized set; another user may not, and the operation is recorded
// with its Initialized step.
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
	if v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost {
		t.Errorf("after the wipe: %s %q", v.State, v.RevocationReason)
	}
	pc := pivOf(t, e.card)
	if certs, _ := pc.Certificates(ctx); len(certs) != 0 {
		t.Errorf("the wiped card holds %d certificates", len(certs))
	}
	if err := pc.VerifyPIN(ctx, "123456"); err != nil {
		t.Errorf("the factory PIN on the wiped card: %v", err)
	}
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
		if err == nil && (len(steps) == 0 || !strings.Contains(string(steps[0].Details), `"step":"initialized"`)) {
			t.Errorf("steps: %+v", steps)
		}
		return err
	})
}
