package cardops_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// sealedMail is a message encrypted to a P-256 key-management certificate
// as ECDH-based S/MIME does: an ephemeral key agrees on a secret with the
// certificate's key, which keys AES-GCM.
type sealedMail struct {
	ephemeral *ecdh.PublicKey
	nonce     []byte
	sealed    []byte
}

// sealTo encrypts msg to cert's P-256 public key.
func sealTo(t *testing.T, cert *x509.Certificate, msg []byte) sealedMail {
	t.Helper()
	pub, err := cert.PublicKey.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := eph.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	m := sealedMail{ephemeral: eph.PublicKey(), nonce: make([]byte, 12)}
	m.sealed = mailCipher(t, secret).Seal(nil, m.nonce, msg, nil)
	return m
}

// openWith has card pc agree on the secret with the key in slot and
// opens m with it.
func (m sealedMail) openWith(t *testing.T, pc *piv.Card, slot pivspec.Slot) ([]byte, error) {
	t.Helper()
	secret, err := pc.ECDH(context.Background(), slot, m.ephemeral)
	if err != nil {
		return nil, err
	}
	return mailCipher(t, secret).Open(nil, m.nonce, m.sealed, nil)
}

func mailCipher(t *testing.T, secret []byte) cipher.AEAD {
	t.Helper()
	key := sha256.Sum256(secret)
	b, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestUpdateCardArchiveKeyHistory: alice's card was issued with
// secure-email archiving its key; mail is encrypted to that certificate.
// The update renews it with a new archived key in 9D and puts the
// replaced key, which the server holds, into retired slot 82 with its
// certificate and the Key History Object counting it: the card still
// opens the old mail (under its PIN) and holds the new certificate in
// 9D. The recovery onto the card is one key.recover event (format card)
// naming the old key, recorded before the card got it.
func TestUpdateCardArchiveKeyHistory(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnvBefore(t, func(t *testing.T, ie *issueEnv) { archiveSecureEmail(t, ie) })
	old := e.archivedKeys(t)[lanyard.ArchivedKeyActive]
	if len(old) != 1 {
		t.Fatalf("%d active archived keys after the issue", len(old))
	}
	pc := pivOf(t, e.card)
	oldCert, err := pc.Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("minutes of the board, last year")
	mail := sealTo(t, oldCert, msg)

	up, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if up.State != "done" {
		t.Fatalf("update %+v", up)
	}
	e.checkUpdated(t, "9a", "9d")
	serial, spki := e.slot9D(t)
	keys := e.archivedKeys(t)[lanyard.ArchivedKeyActive]
	var current *lanyard.ArchivedKey
	for _, k := range keys {
		if k.CertificateSerial == serial && string(k.PublicKey) == string(spki) {
			current = k
		}
	}
	if len(keys) != 2 || current == nil || current.ID == old[0].ID {
		t.Fatalf("9D holds certificate %s; active archived keys %d, the new one %+v", serial, len(keys), current)
	}
	// The old key in 82, the new one in 9D: the card opens the old mail
	// with the retired key only.
	e.checkRetired(t, e.card, updatePIN, old)
	pc = pivOf(t, e.card)
	if err := pc.VerifyPIN(ctx, updatePIN); err != nil {
		t.Fatal(err)
	}
	if got, err := mail.openWith(t, pc, 0x82); err != nil || string(got) != string(msg) {
		t.Fatalf("the card's retired key opens the old mail to %q, %v", got, err)
	}
	if _, err := mail.openWith(t, pc, pivspec.SlotKeyManagement); err == nil {
		t.Fatal("the new 9D key opens mail encrypted to the old certificate")
	}
	evs := e.recoveries(t, e.cardID)
	if len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"format":"card"`) {
		t.Fatalf("key.recover events %+v, want one onto the card", evs)
	}
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 1 {
		t.Fatalf("key history %+v, %v", h, err)
	}
}

// checkHistory checks, after an update renewing secure-email whose key
// alice's card was issued with, that the card's key history is that one
// key, recovered onto the card by one key.recover event.
func (e *updateEnv) checkHistory(t *testing.T) {
	t.Helper()
	if t.Failed() {
		return
	}
	var first *lanyard.ArchivedKey
	for _, k := range e.archivedKeys(t)[lanyard.ArchivedKeyActive] {
		if k.CertificateSerial == e.old["9d"].Serial {
			first = k
		}
	}
	if first == nil {
		t.Fatal("the issue's archived key is no longer active")
	}
	e.checkRetired(t, e.card, updatePIN, []*lanyard.ArchivedKey{first})
	if evs := e.recoveries(t, e.cardID); len(evs) != 1 {
		t.Fatalf("%d key.recover events, want 1", len(evs))
	}
}
