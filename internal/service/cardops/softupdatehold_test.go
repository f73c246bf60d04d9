package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestReissueSoftwareStoreDisabledMeanwhile: the store is disabled
// (secure-email put on hold) while its re-issue's agent writes the new
// file. The re-issue fails instead of recording the new certificate from
// the copy it read before: the new certificate is revoked as unused, the
// store stays disabled, and no certificate of it is valid without its
// hold (before the fix the new one was written with the hold lifted).
func TestReissueSoftwareStoreDisabledMeanwhile(t *testing.T) {
	e := newStoreUpdateEnv(t)
	ctx := context.Background()
	e.setHold(t, "secure-email", true)
	e.clock.Add(350 * day)
	ws := e.access.Workstation(1)
	ws.BeforeStore = func() {
		ws.BeforeStore = nil
		if _, err := e.svc.Cards.DisableCard(ctx, e.admin, e.store.Card.ID); err != nil {
			t.Errorf("disable while the file is written: %v", err)
		}
	}
	_, err := e.svc.Cards.ReissueSoftwareStore(ctx, e.alice, e.store.Card.ID, cardops.StoreReissueInput{WorkstationID: 1, Password: newStorePassword})
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("re-issue of a store disabled meanwhile: %v, want a conflict", err)
	}
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(e.store.Card.ID)
		if err != nil {
			return err
		}
		if card.State != lanyard.CardDisabled {
			t.Errorf("store %s after the re-issue, want disabled", card.State)
		}
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: e.store.Card.ID})
		for _, c := range certs {
			if c.Template == "secure-email" && c.Status != lanyard.CertRevoked && !c.OnHold() {
				t.Errorf("secure-email certificate %s is %s without its hold on a disabled store", c.Serial, c.Status)
			}
			if c.Serial != e.oldFile(t, "secure-email").Certificate && c.Template == "secure-email" && c.Status != lanyard.CertRevoked {
				t.Errorf("the re-issue's new certificate %s is %s, want revoked as unused", c.Serial, c.Status)
			}
		}
		return err
	})
}
