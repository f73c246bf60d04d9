package cardops_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// Update card contents with an archive-key template on the card kinds
// other than PIV cards (docs/lifecycle.md, "Key archival"): their key
// stores import the archived key as at Issue card, so the renewal with a
// new key makes and archives it on the server and imports it into the
// card like on a PIV card.

// updateArchived renews all of card's certificates (the clock moved to
// a month before the first one expires) through target and checks that 9D then holds the new
// archived key, imported, decrypting under pin, recoverable, while the
// old archived key stays active and goes into retired slot 82.
func (a *archiveEnv) updateArchived(t *testing.T, card *emu.Card, cardID int64, target cardops.CardTarget, pin string) {
	t.Helper()
	ctx := t.Context()
	old, err := a.svc.Archive.Keys(ctx, a.alice.User.ID, archivedEmail)
	if err != nil || len(old) != 1 {
		t.Fatalf("archived keys after the issue: %d, %v", len(old), err)
	}
	a.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Certificates.RenewalWindowDays = 60
		s.Workflow.IssuedCardOps.Update = true
	})
	a.clock.Add(a.firstExpiry(t, cardID).Sub(a.clock.Now()) - 30*24*time.Hour) // the CA signs on the real clock
	up, err := a.svc.Cards.UpdateCard(ctx, a.alice, cardops.UpdateCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	var renewed string
	for _, sl := range up.Slots {
		if sl.Template == archivedEmail {
			renewed = sl.NewSerial
		}
	}
	if up.State != "done" || renewed == "" {
		t.Fatalf("update %+v; want done, %s renewed", up, archivedEmail)
	}
	keys, err := a.svc.Archive.Keys(ctx, a.alice.User.ID, archivedEmail)
	if err != nil {
		t.Fatal(err)
	}
	var current *lanyard.ArchivedKey
	for _, k := range keys {
		switch {
		case k.State != lanyard.ArchivedKeyActive:
			t.Errorf("archived key %d is %s after the update", k.ID, k.State)
		case k.CertificateSerial == renewed:
			current = k
		case k.ID != old[0].ID:
			t.Errorf("archived key %d is neither the old nor the new one", k.ID)
		}
	}
	if len(keys) != 2 || current == nil || current.ID == old[0].ID || current.CardID != cardID {
		t.Fatalf("archived keys after the update: %d, the new certificate's %+v", len(keys), current)
	}
	a.checkKeyOnCard(t, card, current, pin)
	// The replaced key stays on the card, in retired slot 82 with the
	// key history, as on a PIV card: mail to the old certificate opens.
	a.checkEarlierKey(t, card, pin, old[0])
}

// TestUpdateTPMVirtualCardArchivesKey: a TPM virtual card (the reference
// simulator) issued with an archive-key template is updated: the new key
// is archived and imported into the TPM, and decrypts there under the
// card's PIN.
func TestUpdateTPMVirtualCardArchivesKey(t *testing.T) {
	testUpdateTPMVirtualCardArchivesKey(t, tpmStore(t, tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed"))))
}

func testUpdateTPMVirtualCardArchivesKey(t *testing.T, keys emu.KeyStore) {
	a := newArchiveEnv(t, keys)
	card, reader := issueTPMCard(t, a.issueEnv)
	a.updateArchived(t, a.access.Card(1, reader), card.ID, cardops.CardTarget{WorkstationID: 1, Reader: reader}, "24681357")
}

// TestUpdateAirCardArchivesKey: an AirCard's update imports the new
// archived key into its key store on the AirCard service.
func TestUpdateAirCardArchivesKey(t *testing.T) {
	a := newArchiveEnv(t, nil)
	card, cardID, target := a.issueAirCard(t)
	a.updateArchived(t, card, cardID, target, "24681357")
}

// firstExpiry is when the first certificate on card cardID expires.
func (a *archiveEnv) firstExpiry(t *testing.T, cardID int64) time.Time {
	t.Helper()
	var first time.Time
	if err := a.st.View(t.Context(), func(tx lanyard.Tx) error {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: cardID})
		for _, c := range certs {
			if first.IsZero() || c.NotAfter.Before(first) {
				first = c.NotAfter
			}
		}
		return err
	}); err != nil || first.IsZero() {
		t.Fatalf("the card's certificates: %v", err)
	}
	return first
}
