package archive_test

import (
	"bytes"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestOpenForCard: alice's active archived key opens for her card with
// its certificate (the key is the certificate's); for bob it is not
// found; the owner's notice of keys put on her card is queued to her.
func TestOpenForCard(t *testing.T) {
	e := newRecoverEnv(t)
	st := e.stack.Store
	storetest.MustView(t, st, func(tx lanyard.Tx) error {
		ks, err := e.arc.OpenForCardTx(tx, e.alice.User.ID, []int64{e.key.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 1 || !bytes.Equal(ks[0].Certificate.Raw, e.cert.Raw) || !personalize.PublicKeysEqual(ks[0].Private.Public(), e.cert.PublicKey) || ks[0].Key.SealedKey != nil {
			t.Fatalf("opened %+v", ks)
		}
		if _, err := e.arc.OpenForCardTx(tx, e.bob.User.ID, []int64{e.key.ID}); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("alice's key for bob's card: %v, want not found", err)
		}
		return nil
	})
	card := storetest.NewCard("e002", e.alice.User.ID)
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		queued, err := e.arc.NotifyOntoCardTx(tx, e.olga, e.alice.User, card, []*lanyard.ArchivedKey{e.key})
		if !queued {
			t.Error("no notice queued")
		}
		return err
	})
	ms := e.mail(t, notify.KindKeyRecoveredToCard)
	if len(ms) != 1 || ms[0].To[0] != "alice@example.com" {
		t.Fatalf("key_recovered_to_card notices %+v, want one to alice", ms)
	}
	if ms[0].Subject != "Your earlier encryption keys were put on your card" {
		t.Errorf("notice subject %q", ms[0].Subject)
	}
}
