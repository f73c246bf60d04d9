package cardops

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestHistoryRoom: the key history an update writes stops below the
// lowest staging slot still in use (not yet verified); an issue, or an
// update whose staged slots are all verified, has all twenty.
func TestHistoryRoom(t *testing.T) {
	for _, tc := range []struct {
		name     string
		upd      *updateRecord
		wantRoom int
	}{
		{"issue", nil, 20},
		{"nothing staged", &updateRecord{}, 20},
		{"9a staged in 95", &updateRecord{Stage: map[string]string{"9a": "95"}}, 19},
		{"9a in 88, 9c in 95", &updateRecord{Stage: map[string]string{"9a": "88", "9c": "95"}}, 6},
		{"9a in 88 verified, 9c in 95 not", &updateRecord{Stage: map[string]string{"9a": "88", "9c": "95"}, Verified: map[string]bool{"9a": true}}, 19},
		{"all verified", &updateRecord{Stage: map[string]string{"9a": "88"}, Verified: map[string]bool{"9a": true}}, 20},
	} {
		j := &issueJob{data: issueData{Update: tc.upd}}
		if got := historyRoom(j); got != tc.wantRoom {
			t.Errorf("%s: room %d, want %d", tc.name, got, tc.wantRoom)
		}
	}
}

// TestFreeRetiredSlotKeepsHistory: an update's staging slot is never one
// the Key History Object counts or one this operation recorded its key
// history to take, even while such a slot is still empty.
func TestFreeRetiredSlotKeepsHistory(t *testing.T) {
	ctx := context.Background()
	e, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := piv.New(e.Transport(), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Select(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := personalize.AuthenticateStatic(ctx, pc, personalize.FactoryKeys().Admin)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t)
	// Retired slots 85 to 95 hold certificates; 82, 83 and 84 are empty.
	for s := piv.Slot(0x85); s <= pivspec.SlotRetiredLast; s++ {
		if err := a.PutCertificate(ctx, s, cert); err != nil {
			t.Fatal(err)
		}
	}
	free := func(history int, want piv.Slot) {
		t.Helper()
		got, err := freeRetiredSlot(ctx, pc, nil, history)
		switch {
		case want == 0 && !lanyard.IsCode(err, lanyard.EConflict):
			t.Fatalf("history %d: slot %02X, %v; want no free slot", history, byte(got), err)
		case want != 0 && (err != nil || got != want):
			t.Fatalf("history %d: slot %02X, %v; want %02X", history, byte(got), err, byte(want))
		}
	}
	free(0, 0x84)
	free(2, 0x84)
	free(3, 0) // the recorded history takes 82 to 84
	if err := a.WriteObject(ctx, pivspec.ObjectKeyHistory, personalize.KeyHistory{OnCard: 3}.Encode()); err != nil {
		t.Fatal(err)
	}
	free(0, 0) // the card's key history counts 82 to 84
}

// selfSigned is a throw-away certificate to fill slots with.
func selfSigned(t *testing.T) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "filler"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
