package cardops_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestClearRemovesRecoveredKeys: alice's second card gets her archived
// key in retired slot 82 (Recover keys onto card); Revoke and clear
// leaves its key history at none and slot 82 without her key or its
// certificate — deleted on a card that can move keys, overwritten by a
// throw-away key on one that cannot — so the card, back behind its card
// type's default PIN, opens none of her mail.
func TestClearRemovesRecoveredKeys(t *testing.T) {
	for name, opts := range map[string][]emu.Option{"move key": nil, "without move key": {emu.WithoutMoveKey()}} {
		t.Run(name, func(t *testing.T) {
			e := newStepUpEnv(t)
			ctx := context.Background()
			card := e.access.AddWith(t, 2, e.alice.User.ID, secondReader, opts...)
			res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"})
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Add(identity.TOTPPeriod)
			if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, res.Card.ID, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: e.code(t)}); err != nil {
				t.Fatal(err)
			}
			e.checkRetired(t, card, "13572468", e.keys)
			if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
				t.Fatal(err)
			}
			pc := pivOf(t, card)
			if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 0 {
				t.Fatalf("key history after the clear: %+v, %v", h, err)
			}
			if _, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst); err == nil {
				t.Fatal("slot 82 still holds alice's earlier certificate")
			}
			m, err := pc.Metadata(ctx, pivspec.SlotRetiredFirst.Ref())
			if errors.Is(err, piv.ErrNotFound) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
				_, key, err := e.svc.Archive.OpenTx(tx, e.keys[0].ID)
				if err == nil && personalize.PublicKeysEqual(m.PublicKey, key.Public()) {
					t.Error("slot 82 still holds alice's earlier key")
				}
				return err
			})
		})
	}
}

// TestIssueClearsEarlierOwnersRetiredKeys: a card that still holds
// someone's retired keys (cleared by an older server, which left them) is
// issued to alice without Initialize: the issue empties the retired slots
// and the key history first, so alice's card holds none of them.
func TestIssueClearsEarlierOwnersRetiredKeys(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	pc := pivOf(t, e.card)
	admin, err := personalize.AuthenticateStatic(ctx, pc, personalize.FactoryKeys().Admin)
	if err != nil {
		t.Fatal(err)
	}
	earlier, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "bob's old key"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, earlier.Public(), earlier)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if err := personalize.WriteRetiredKeys(ctx, pc, admin, []personalize.RetiredKey{{Key: earlier, Certificate: cert}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"}); err != nil {
		t.Fatal(err)
	}
	pc = pivOf(t, e.card)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 0 {
		t.Fatalf("alice's new card's key history: %+v, %v", h, err)
	}
	if _, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst); err == nil {
		t.Fatal("slot 82 still holds the earlier owner's certificate")
	}
	if m, err := pc.Metadata(ctx, pivspec.SlotRetiredFirst.Ref()); !errors.Is(err, piv.ErrNotFound) && (err != nil || personalize.PublicKeysEqual(m.PublicKey, earlier.Public())) {
		t.Fatalf("slot 82 after the issue: %v, want the earlier owner's key gone", err)
	}
}
