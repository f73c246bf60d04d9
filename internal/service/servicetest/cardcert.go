package servicetest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardCert is a certificate on a card as a card issue leaves it: signed
// by the CA, recorded (written, managed) on a card in state issued that
// its user owns; Key is the card's private key.
type CardCert struct {
	X509   *x509.Certificate
	Key    crypto.Signer
	Record *lanyard.Certificate
	Card   *lanyard.Card
}

var cardSerials atomic.Int64

// IssueCardCert has c sign a certificate of template tmpl (changed by
// edit, if any) for u's new P-256 key and records it on a new issued
// card of cardType ("" is piv) at now, without a card workflow: the
// tests of what a certificate on a card is good for (smart card
// sign-in) start from it.
func IssueCardCert(tb testing.TB, st lanyard.Store, c ca.CA, u *lanyard.User, tmpl, cardType string, now time.Time, edit func(*lanyard.Template)) *CardCert {
	tb.Helper()
	ctx := context.Background()
	if cardType == "" {
		cardType = "piv"
	}
	var tp *lanyard.Template
	if err := st.View(ctx, func(tx lanyard.Tx) (err error) { tp, err = tx.TemplateByName(tmpl); return }); err != nil {
		tb.Fatal(err)
	}
	if edit != nil {
		edit(tp)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := c.Sign(ctx, &ca.SignRequest{Template: tp, User: u, PublicKey: key.Public()})
	if err != nil {
		tb.Fatal(err)
	}
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	out := &CardCert{X509: cert, Key: key}
	err = st.Update(ctx, func(tx lanyard.Tx) error {
		out.Card = &lanyard.Card{Serial: "test-card-" + strconv.FormatInt(cardSerials.Add(1), 10), CardType: cardType, OwnerID: u.ID,
			State: lanyard.CardIssued, IssuedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateCard(out.Card); err != nil {
			return err
		}
		out.Record = &lanyard.Certificate{Serial: lanyard.SerialHex(cert.SerialNumber), CA: c.Name(), Template: tmpl, UserID: u.ID, CardID: out.Card.ID, Slot: tp.Slot,
			Subject: cert.Subject.String(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Status: lanyard.CertWritten, Source: lanyard.SourceManaged,
			KeySHA256: hex.EncodeToString(spki[:]), DER: cert.Raw, CreatedAt: now, UpdatedAt: now}
		return tx.CreateCertificate(out.Record)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
