package cardops_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// archivedKeys are alice's secure-email archived keys by state.
func (e *updateEnv) archivedKeys(t *testing.T) map[lanyard.ArchivedKeyState][]*lanyard.ArchivedKey {
	t.Helper()
	keys, err := e.svc.Archive.Keys(context.Background(), e.alice.User.ID, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	out := map[lanyard.ArchivedKeyState][]*lanyard.ArchivedKey{}
	for _, k := range keys {
		out[k.State] = append(out[k.State], k)
	}
	return out
}

// slot9D is the certificate in alice's slot 9D.
func (e *updateEnv) slot9D(t *testing.T) (serial string, spki []byte) {
	t.Helper()
	c, err := pivOf(t, e.card).Certificate(context.Background(), pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16), c.RawSubjectPublicKeyInfo
}

// Key archival (docs/lifecycle.md, "Key archival"): an archive-key
// template's renewal with a new key makes and archives the key on the
// server and imports it only once its certificate is approved (the card
// keeps its old pair while the request waits); the old archived key
// stays active (old mail still decrypts). A reuse-key renewal certifies
// the archived key again: the archive names the new certificate.
func TestUpdateCardArchiveKey(t *testing.T) {
	ctx := context.Background()
	t.Run("new key, pending CA approval", func(t *testing.T) {
		e := newUpdateEnvBefore(t, func(t *testing.T, ie *issueEnv) { archiveSecureEmail(t, ie) })
		oldKeys := e.archivedKeys(t)[lanyard.ArchivedKeyActive]
		if len(oldKeys) != 1 {
			t.Fatalf("%d active archived keys after the issue", len(oldKeys))
		}
		_, reqs := e.pendingUpdate(t)
		if serial, spki := e.slot9D(t); serial != e.old["9d"].Serial || !bytes.Equal(spki, oldKeys[0].PublicKey) {
			t.Fatal("slot 9D changed while its new certificate waits for approval")
		}
		if got := e.archivedKeys(t)[lanyard.ArchivedKeyPending]; len(got) != 1 {
			t.Fatalf("%d pending archived keys while the request waits, want 1", len(got))
		}
		for _, id := range reqs {
			if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target()); err != nil {
			t.Fatal(err)
		}
		e.checkUpdated(t, "9a", "9d")
		keys := e.archivedKeys(t)
		if len(keys[lanyard.ArchivedKeyActive]) != 2 || len(keys[lanyard.ArchivedKeyPending]) != 0 {
			t.Fatalf("archived keys after the update: %d active, %d pending; want the old and the new one active", len(keys[lanyard.ArchivedKeyActive]), len(keys[lanyard.ArchivedKeyPending]))
		}
		serial, spki := e.slot9D(t)
		found := false
		for _, k := range keys[lanyard.ArchivedKeyActive] {
			found = found || (k.CertificateSerial == serial && bytes.Equal(k.PublicKey, spki))
		}
		if !found || bytes.Equal(spki, oldKeys[0].PublicKey) {
			t.Fatal("slot 9D does not hold the new archived key")
		}
	})
	t.Run("reuse key", func(t *testing.T) {
		e := newUpdateEnvBefore(t, func(t *testing.T, ie *issueEnv) { archiveSecureEmail(t, ie) })
		e.setRenewalKey(t, lanyard.RenewalReuseKey, "secure-email")
		before := e.archivedKeys(t)[lanyard.ArchivedKeyActive]
		if _, err := e.update(t, cardops.UpdateCardInput{}); err != nil {
			t.Fatal(err)
		}
		after := e.archivedKeys(t)
		serial, spki := e.slot9D(t)
		if len(after[lanyard.ArchivedKeyActive]) != 1 || len(after[lanyard.ArchivedKeyPending]) != 0 {
			t.Fatalf("archived keys after a reuse-key update: %v", after)
		}
		k := after[lanyard.ArchivedKeyActive][0]
		if k.ID != before[0].ID || k.CertificateSerial != serial || serial == e.old["9d"].Serial || !bytes.Equal(spki, k.PublicKey) {
			t.Fatalf("archived key %d names certificate %s; the card's 9D holds %s", k.ID, k.CertificateSerial, serial)
		}
	})
}
