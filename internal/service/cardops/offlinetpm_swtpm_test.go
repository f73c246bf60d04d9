//go:build integration

package cardops_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// TestOfflineUnblockTPMVirtualCard (issue 16, item 5) on swtpm: a TPM
// virtual card is armed at issue; its PIN blocked, it shows the armed
// code's challenge; the help desk's response, checked by the TPM, sets
// the new PIN, which signs, and the old one no longer verifies; the code
// is dead afterwards; the card's next connection arms a new one; three
// wrong responses use a code up (6983) without unblocking.
func TestOfflineUnblockTPMVirtualCard(t *testing.T) {
	e, olivia, card, reader := tpmOfflineEnv(t, tpmtest.OpenSwtpm(t))
	ctx := context.Background()
	a := e.armOf(t, card.ID)
	if a.State != lanyard.OfflineArmed || a.Counter != 1 || a.KeyVersion == 0 {
		t.Fatalf("after the issue: arm record %+v", a)
	}
	for _, action := range []string{"card.offline_unblock.arm.start", "card.offline_unblock.arm"} {
		if evs, err := e.svc.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: action}); err != nil || len(evs) != 1 {
			t.Fatalf("audit %s: %d, %v", action, len(evs), err)
		}
	}
	// Nothing to do at the card's connection: its code is fresh.
	if armed, err := e.svc.Cards.RearmOffline(ctx, 1, reader, card.Serial); armed || err != nil {
		t.Fatalf("re-arming a fresh code: %v, %v", armed, err)
	}

	pc := pivOf(t, e.access.Card(1, reader))
	blockPIN(t, pc, "24681357")
	code, counter := challengeOf(t, pc)
	if f := decodeChallenge(t, code); f.Scheme != unblockcode.SchemeLanyardTPM || f.Counter != 1 || int64(f.Nonce) != a.Nonce {
		t.Fatalf("the card's challenge %+v; armed %+v", f, a)
	}
	// The scheme must be the card's, the code the one armed.
	for name, f := range map[string]unblockcode.ChallengeFields{
		"a lanyard-mac challenge": {Scheme: unblockcode.SchemeLanyardMAC, CardTag: unblockcode.CardTag(card.Serial), Counter: 1, Nonce: uint64(a.Nonce)},
		"another nonce":           {Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(card.Serial), Counter: 1, Nonce: uint64(a.Nonce) ^ 1},
		"another counter":         {Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(card.Serial), Counter: 2, Nonce: uint64(a.Nonce)},
	} {
		p, _ := f.Pack()
		if _, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: unblockcode.Encode(unblockcode.Challenge, p), Answers: aliceAnswers}); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	res, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scheme != "lanyard-tpm" {
		t.Errorf("scheme %q", res.Scheme)
	}
	resp, err := unblockcode.Decode(unblockcode.Response, res.Response)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.UnblockWithResponse(ctx, counter, resp, "97531864"); err != nil {
		t.Fatalf("the TPM refused the server's response: %v", err)
	}
	if err := pc.VerifyPIN(ctx, "24681357"); err == nil {
		t.Fatal("the old PIN verifies after the unblock")
	}
	if err := pc.VerifyPIN(ctx, "97531864"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	signs(t, pc)
	// The code is dead: the card shows no challenge and refuses it.
	if err := pc.UnblockWithResponse(ctx, counter, resp, "11223344"); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("the used code again: %v", err)
	}
	// Asked again, the server shows the same code, audited as again.
	again, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
	if err != nil || again.Response != res.Response {
		t.Fatalf("the same armed code again: %+v, %v", again, err)
	}
	evs, _ := e.svc.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "card.offline_unblock"})
	if len(evs) != 2 || strings.Contains(string(evs[0].Details), `"again":true`) == strings.Contains(string(evs[1].Details), `"again":true`) {
		t.Fatalf("audit of the answers: %d events, want the first and one again", len(evs))
	}

	// The next connection arms a new code: a new challenge.
	if armed, err := e.svc.Cards.RearmOffline(ctx, 1, reader, card.Serial); !armed || err != nil {
		t.Fatalf("re-arming after the use: %v, %v", armed, err)
	}
	code2, counter2 := challengeOf(t, pc)
	if code2 == code || counter2 != 2 || e.armOf(t, card.ID).Counter != 2 {
		t.Fatalf("after re-arming: challenge %s counter %d", code2, counter2)
	}
	// Three wrong responses use it up; the right one is refused then
	// (6983), and the PIN stays.
	res2, err := e.svc.Cards.OfflineUnblock(ctx, olivia, card.ID, cardops.OfflineUnblockInput{Challenge: code2, Answers: aliceAnswers})
	if err != nil {
		t.Fatal(err)
	}
	right, _ := unblockcode.Decode(unblockcode.Response, res2.Response)
	wrong := right
	wrong[4] ^= 0x10
	for left := 2; left >= 0; left-- {
		var wc *piv.WrongCodeError
		if err := pc.UnblockWithResponse(ctx, counter2, wrong, "13572468"); !errors.As(err, &wc) || wc.TriesLeft != left {
			t.Fatalf("a wrong response, want %d tries left: %v", left, err)
		}
	}
	if err := pc.UnblockWithResponse(ctx, counter2, right, "13572468"); !errors.Is(err, piv.ErrBlocked) {
		t.Fatalf("the right response after three wrong ones: %v, want 6983", err)
	}
	if err := pc.VerifyPIN(ctx, "97531864"); err != nil {
		t.Fatalf("the PIN changed: %v", err)
	}
	// Used up: the next connection arms a third code.
	if armed, err := e.svc.Cards.RearmOffline(ctx, 1, reader, card.Serial); !armed || err != nil {
		t.Fatalf("re-arming a used-up code: %v, %v", armed, err)
	}
	if _, c := challengeOf(t, pc); c != 3 {
		t.Fatalf("third code: counter %d", c)
	}

	// A platform credential has the same PIN guard: it is armed at
	// issue too, before its PIN is set up.
	e.enrollTOTP(t)
	pcc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindPlatformCredential, Name: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: pcc.Reader}})
	if err != nil {
		t.Fatal(err)
	}
	if a := e.armOf(t, pres.Card.ID); a.State != lanyard.OfflineArmed || a.Counter != 1 {
		t.Fatalf("the platform credential's arm record: %+v", a)
	}
	if ch, err := pivOf(t, e.access.Card(1, pcc.Reader)).UnblockChallenge(ctx); err != nil || !ch.Armed {
		t.Fatalf("the platform credential's challenge: %+v, %v", ch, err)
	}
}

func decodeChallenge(t *testing.T, code string) unblockcode.ChallengeFields {
	t.Helper()
	p, err := unblockcode.Decode(unblockcode.Challenge, code)
	if err != nil {
		t.Fatal(err)
	}
	return unblockcode.UnpackChallenge(p)
}

// signs checks that the card's 9A key signs with the PIN verified.
func signs(t *testing.T, pc *piv.Card) {
	t.Helper()
	ctx := context.Background()
	cert, err := pc.Certificate(ctx, pivspec.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("signed after an offline unblock"))
	sig, err := pc.Sign(ctx, pivspec.SlotAuthentication, cert.PublicKey, d[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("signing with the new PIN: %v", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
		t.Fatal("the signature does not verify with the certificate's key")
	}
}
