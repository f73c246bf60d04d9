package personalize

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/interoptest"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestUsePUK checks that the candidates are tried while the card has two
// PUK tries left, and never its last one: two wrong candidates leave one
// try, and the right third candidate is not tried.
func TestUsePUK(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	change := func(puk string) error { return c.ChangePUK(ctx, puk, puk) }
	wrong := []PUKCandidate{{PUK: "00000001"}, {PUK: "00000002"}, {PUK: pivspec.DefaultPUK}}
	_, err := UsePUK(ctx, c, wrong, false, "testing", change)
	if !errors.Is(err, ErrWrongPUK) || !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("UsePUK with two wrong candidates first: %v, want EConflict wrapping ErrWrongPUK", err)
	}
	md, err := c.Metadata(ctx, pivspec.KeyPUK)
	if err != nil || md.RetriesLeft != 1 {
		t.Fatalf("PUK tries left: %d (%v), want 1: the last try is never spent", md.RetriesLeft, err)
	}
	// An automatic change does not try a PUK whose counter is not full.
	if _, err := UsePUK(ctx, c, wrong[2:], true, "testing", change); err == nil || errors.Is(err, ErrWrongPUK) {
		t.Fatalf("UsePUK(all) on a counter not full: %v, want a refusal without a try", err)
	}
	// The right PUK on a fresh card is used and returned.
	_, c2 := mustCard(t)
	used, err := UsePUK(ctx, c2, []PUKCandidate{{PUK: pivspec.DefaultPUK, Sealed: []byte{1}}}, true, "testing", func(puk string) error {
		return c2.ChangePUK(ctx, puk, puk)
	})
	if err != nil || used.PUK != pivspec.DefaultPUK || len(used.Sealed) != 1 {
		t.Fatalf("UsePUK with the right PUK: %+v, %v", used, err)
	}
}

// TestUsePUKSparing checks that a change nobody asked for never lets a
// refusal leave fewer than two PUK tries: after the first candidate is
// refused (three tries: two left), the right second one is not tried.
func TestUsePUKSparing(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	change := func(puk string) error { return c.ChangePUK(ctx, puk, puk) }
	_, err := UsePUKSparing(ctx, c, []PUKCandidate{{PUK: "00000001"}, {PUK: pivspec.DefaultPUK}}, "testing", change)
	if !errors.Is(err, ErrWrongPUK) {
		t.Fatalf("UsePUKSparing with a wrong candidate first: %v, want ErrWrongPUK", err)
	}
	md, err := c.Metadata(ctx, pivspec.KeyPUK)
	if err != nil || md.RetriesLeft != md.Retries-1 || md.RetriesLeft < 2 {
		t.Fatalf("PUK tries left: %+v (%v), want one spent and at least two left", md, err)
	}
}

// TestWriteCertificateChecksKey checks that a certificate for another key
// than the one in the slot is refused before it is written, and that the
// certified key's certificate is written.
func TestWriteCertificateChecksKey(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	admin, err := AuthenticateStatic(ctx, c, FactoryKeys().Admin)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := ParseSlot("9a")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := GenerateKey(ctx, admin, slot, lanyard.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	err = WriteCertificate(ctx, c, admin, slot, certificateFor(t, &other.PublicKey))
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "the key in slot 9a is no longer the certified key") {
		t.Fatalf("certificate of another key: %v, want the key check's EConflict", err)
	}
	if _, err := c.Certificate(ctx, slot); err == nil {
		t.Fatal("the refused certificate was written")
	}
	cert := certificateFor(t, pub)
	if err := WriteCertificate(ctx, c, admin, slot, cert); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Certificate(ctx, slot); err != nil || !got.Equal(cert) {
		t.Fatalf("certificate read back: %v", err)
	}
	if err := DeleteCertificates(ctx, admin, []string{"9a", "9c"}); err != nil {
		t.Fatalf("DeleteCertificates (9c empty): %v", err)
	}
	if _, err := c.Certificate(ctx, slot); err == nil {
		t.Fatal("the certificate is still there after DeleteCertificates")
	}
}

// certificateFor returns a certificate for pub, issued by a throwaway CA.
func certificateFor(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(interoptest.SelfIssued(t, pub, "test"))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestCheckIdentity checks which cards may be sent a derived key or a
// PUK: the recorded serial always, the recorded CHUID GUID for a bound
// card (CheckIdentity) and for any card holding one (CheckPUKHolder).
func TestCheckIdentity(t *testing.T) {
	bound := &lanyard.Card{Serial: "42", CardID: "abcd", GUID: "g1"}
	unbound := &lanyard.Card{Serial: "42", GUID: "g1"}
	for _, c := range []struct {
		name      string
		card      *lanyard.Card
		id        Identity
		ident, pk bool // accepted by CheckIdentity, CheckPUKHolder
	}{
		{"same card", bound, Identity{Serial: "42", GUID: "g1"}, true, true},
		{"other serial", bound, Identity{Serial: "43", GUID: "g1"}, false, false},
		{"bound, other CHUID", bound, Identity{Serial: "42", GUID: "g2"}, false, false},
		{"unbound, other CHUID", unbound, Identity{Serial: "42", GUID: "g2"}, true, false},
		{"new card", &lanyard.Card{}, Identity{Serial: "42", GUID: "g2"}, true, true},
	} {
		if err := CheckIdentity(c.card, c.id); (err == nil) != c.ident {
			t.Errorf("%s: CheckIdentity = %v", c.name, err)
		}
		if err := CheckPUKHolder(c.card, c.id); (err == nil) != c.pk {
			t.Errorf("%s: CheckPUKHolder = %v", c.name, err)
		}
	}
}
