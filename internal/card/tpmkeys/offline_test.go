package tpmkeys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// TestOfflineUnblockSimulator runs the offline unblock tests on the
// in-process reference TPM.
func TestOfflineUnblockSimulator(t *testing.T) {
	runOfflineSuite(t, func(t *testing.T) *tpm.TPM {
		tp, _ := simulator(t)
		return tp
	})
}

// armedCode is the code the server would arm for counter and nonce of
// the card with serial: any 70 bits do for the card.
func armedCode(t *testing.T, serial uint32, counter uint16, nonce uint64) (unblockcode.Payload, unblockcode.Payload) {
	t.Helper()
	s := itoa(serial)
	ch, err := unblockcode.ChallengeFields{Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(s), Counter: counter, Nonce: nonce}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return ch, unblockcode.ResponseMAC([]byte("a test key of the server"), s, ch)
}

func itoa(n uint32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// v1Store makes guards as TPM virtual cards made before offline unblock
// hold them.
type v1Store struct{ *tpmkeys.Store }

func (s v1Store) NewGuard(pin, puk []byte) ([]byte, error) { return s.NewGuardV1(pin, puk) }

func runOfflineSuite(t *testing.T, open func(t *testing.T) *tpm.TPM) {
	ctx := context.Background()
	digest := sha256.Sum256([]byte("signed after an offline unblock"))

	// Issue → arm → block the PIN → challenge → response → new PIN; the
	// code is dead afterwards, in the card and in the TPM itself.
	t.Run("armed code unblocks once", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if _, err := tc.c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("challenge before any arm: %v, want ErrNoChallenge", err)
		}
		ch, code := armedCode(t, tc.card.Serial(), 1, 0x9_8765_4321)
		// Without the management key, then with a wrong PUK: refused.
		if _, err := tc.c.Select(ctx); err != nil { // a new session: no management key
			t.Fatal(err)
		}
		raw := apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsArmOfflineUnblock, P2: 0x80, Data: make([]byte, 24)}
		if r := tc.send(raw); r.SW != apdu.SWSecurityStatusNotSatisfied {
			t.Fatalf("ARM without the management key: %s", r.SW)
		}
		admin := tc.admin()
		// SET OFFLINE KEY (the emulator's software check) is refused.
		if err := admin.SetOfflineKey(ctx, make([]byte, 32)); !errors.Is(err, piv.ErrUnsupported) {
			t.Fatalf("SET OFFLINE KEY on a TPM card: %v", err)
		}
		var ae *piv.AuthError
		if err := admin.ArmOfflineUnblock(ctx, "87654321", 1, 0x9_8765_4321, code); !errors.As(err, &ae) || ae.Ref != pivspec.KeyPUK || ae.Retries != 2 {
			t.Fatalf("ARM with a wrong PUK: %v", err)
		}
		if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 1, 0x9_8765_4321, code); err != nil {
			t.Fatal(err)
		}
		if m, _ := tc.c.Metadata(ctx, pivspec.KeyPUK); m.RetriesLeft != 3 {
			t.Fatalf("PUK tries after arming: %+v", m)
		}
		// Sent again (a resumed arm): nothing changes.
		if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 1, 0x9_8765_4321, code); err != nil {
			t.Fatal(err)
		}
		// The PIN and the PUK change after arming, as at issue: the code
		// stays armed (ObjectChangeAuth keeps Names).
		if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "55556666"); err != nil {
			t.Fatal(err)
		}
		if err := tc.c.ChangePUK(ctx, pivspec.DefaultPUK, "8765432a"); err != nil {
			t.Fatal(err)
		}
		got, err := tc.c.UnblockChallenge(ctx)
		if err != nil || !got.Armed || got.TriesLeft != pivspec.ArmedCodeTries || got.Payload != ch {
			t.Fatalf("challenge %+v, %v; want the armed one %x with 3 tries", got, err, ch)
		}
		for range 3 {
			tc.c.VerifyPIN(ctx, "000000")
		}
		if err := tc.c.VerifyPIN(ctx, "55556666"); !errors.Is(err, piv.ErrBlocked) {
			t.Fatalf("PIN not blocked: %v", err)
		}
		wrong := code
		wrong[8] ^= 1
		var wc *piv.WrongCodeError
		if err := tc.c.UnblockWithResponse(ctx, 1, wrong, "24682468"); !errors.As(err, &wc) || wc.TriesLeft != 2 {
			t.Fatalf("a wrong code: %v", err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 2, code, "24682468"); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("another counter: %v", err)
		}
		guardBefore := tc.state().Guard.Data
		if err := tc.c.UnblockWithResponse(ctx, 1, code, "24682468"); err != nil {
			t.Fatal(err)
		}
		if err := tc.c.VerifyPIN(ctx, "55556666"); swOf(err) != 0x63C2 {
			t.Fatalf("the old PIN after the unblock: %v", err)
		}
		tc.verifyPIN("24682468")
		sig, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("signing with the new PIN: %v", err)
		}
		// The card no longer shows or takes the code...
		if _, err := tc.c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("challenge after the use: %v", err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 1, code, "11112222"); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("the same code again: %v", err)
		}
		// ...and the TPM refuses it too: the unblock object was disarmed.
		if _, err := tc.store.UnblockWithCode(tc.state().Guard.Data, code[:], []byte("11112222")); !errors.Is(err, emu.ErrWrongReference) {
			t.Fatalf("the TPM took the used code: %v", err)
		}
		// A copy of the guard data from before the use still holds it:
		// the residual risk the package documents (an old copy of the
		// state, with the code).
		if _, err := tc.store.UnblockWithCode(guardBefore, code[:], []byte("11112222")); err != nil {
			t.Fatalf("the copy from before the use: %v (the documented residual risk no longer holds: update the docs)", err)
		}
	})

	// Any 70 bits are a code, zero octets included (a zero octet in an
	// authorization value failed before codes were armed in hexadecimal).
	t.Run("codes with zero octets", func(t *testing.T) {
		tp := open(t)
		store, err := tpmkeys.New(tp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		pad := func(s string) []byte { return append([]byte(s), bytes.Repeat([]byte{0xFF}, 8-len(s))...) }
		for pos := range 9 {
			code := []byte{0x11, 0x9a, 0xaf, 0x42, 0x66, 0xaf, 0xd0, 0x1f, 0x19}
			code[pos] = 0
			g, err := store.NewGuard(pad("123456"), pad("12345678"))
			if err != nil {
				t.Fatal(err)
			}
			if g, err = store.ArmUnblock(g, pad("12345678"), code); err != nil {
				t.Fatalf("arming %x: %v", code, err)
			}
			if _, err := store.UnblockWithCode(g, code, pad("654321")); err != nil {
				t.Errorf("unblocking with %x: %v", code, err)
			}
		}
	})

	t.Run("three wrong codes use up the armed code", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		_, code := armedCode(t, tc.card.Serial(), 7, 5)
		if err := tc.admin().ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 7, 5, code); err != nil {
			t.Fatal(err)
		}
		wrong := code
		wrong[0] ^= 0x20
		for left := 2; left >= 0; left-- {
			var wc *piv.WrongCodeError
			if err := tc.c.UnblockWithResponse(ctx, 7, wrong, "24682468"); !errors.As(err, &wc) || wc.TriesLeft != left {
				t.Fatalf("wrong code, want %d left: %v", left, err)
			}
		}
		if err := tc.c.UnblockWithResponse(ctx, 7, code, "24682468"); !errors.Is(err, piv.ErrBlocked) || swOf(err) != apdu.SWAuthBlocked {
			t.Fatalf("the right code after three wrong ones: %v, want 6983", err)
		}
		tc.verifyPIN(pivspec.DefaultPIN) // unchanged
		if _, err := tc.c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("challenge of a used-up code: %v", err)
		}
		// Armed again (the next online contact): a new challenge, and it
		// works.
		ch, code2 := armedCode(t, tc.card.Serial(), 8, 6)
		if err := tc.admin().ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 8, 6, code2); err != nil {
			t.Fatal(err)
		}
		if got, err := tc.c.UnblockChallenge(ctx); err != nil || got.Payload != ch || got.TriesLeft != 3 {
			t.Fatalf("challenge after re-arming: %+v, %v", got, err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 8, code, "24682468"); !errors.As(err, new(*piv.WrongCodeError)) {
			t.Fatalf("the old code after re-arming: %v", err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 8, code2, "24682468"); err != nil {
			t.Fatal(err)
		}
		tc.verifyPIN("24682468")
	})

	// The card's monotonic counter: a code used, or replaced by a later
	// one, is never armed again, even sent by the server with its PUK (a
	// resumed arm after a lost reply, replayed after the code was given
	// out and used); the armed code's own ARM sent again still changes
	// nothing. A new PIN guard starts the counters again.
	t.Run("a code used or replaced is not armed again", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		admin := tc.admin()
		ch3, code3 := armedCode(t, tc.card.Serial(), 3, 0x1234)
		if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 3, 0x1234, code3); err != nil {
			t.Fatal(err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 3, code3, "24682468"); err != nil {
			t.Fatal(err)
		}
		if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 3, 0x1234, code3); !errors.Is(err, piv.ErrCounterUsed) || swOf(err) != apdu.SWConditionsNotSatisfied {
			t.Fatalf("the used code armed again: %v, want ErrCounterUsed (6985)", err)
		}
		if _, err := tc.c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("challenge after the refused re-arm: %v", err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 3, code3, "13571357"); !errors.Is(err, piv.ErrNoChallenge) {
			t.Fatalf("the used code unblocks again: %v", err)
		}
		tc.verifyPIN("24682468")

		ch4, code4 := armedCode(t, tc.card.Serial(), 4, 0x5678)
		for range 2 { // the second: a resumed arm, idempotent
			if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 4, 0x5678, code4); err != nil {
				t.Fatal(err)
			}
		}
		if m, _ := tc.c.Metadata(ctx, pivspec.KeyPUK); m.RetriesLeft != 3 {
			t.Fatalf("PUK tries after arming: %+v", m)
		}
		_, other := armedCode(t, tc.card.Serial(), 4, 0x9999)
		for name, arm := range map[string]func() error{
			"the replaced counter": func() error { return admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 3, 0x1234, code3) },
			"an older counter":     func() error { return admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 2, 0x1234, code3) },
			"the armed counter with another nonce": func() error {
				return admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 4, 0x9999, other)
			},
		} {
			if err := arm(); !errors.Is(err, piv.ErrCounterUsed) {
				t.Errorf("%s: %v, want ErrCounterUsed", name, err)
			}
		}
		if got, err := tc.c.UnblockChallenge(ctx); err != nil || got.Payload != ch4 || got.Payload == ch3 || got.TriesLeft != 3 {
			t.Fatalf("challenge after the refused arms: %+v, %v; want counter 4's", got, err)
		}
		if st := tc.state().Offline; st.LastArmed != 4 {
			t.Fatalf("last armed counter %d, want 4", st.LastArmed)
		}

		// A new PIN guard (SET PIN RETRIES, as an issue does) holds no
		// code and counts from the start: the next card's record starts
		// at 1.
		tc.verifyPIN("24682468")
		if err := admin.SetRetries(ctx, "24682468", 3, 3); err != nil {
			t.Fatal(err)
		}
		if err := tc.admin().ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 1, 0x1234, code3); err != nil {
			t.Fatalf("counter 1 in a new PIN guard: %v", err)
		}
	})

	t.Run("a card made before offline unblock says so and still works", func(t *testing.T) {
		tp := open(t)
		store, err := tpmkeys.New(tp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		card, err := emu.New(emu.WithStateStore(&emu.MemoryStore{}), emu.WithKeyStore(v1Store{store}), emu.WithATR(tpmkeys.ATR))
		if err != nil {
			t.Fatal(err)
		}
		tc := &tpmCard{t: t, tpm: tp, store: store, card: card, c: client(t, card)}
		tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if _, err := tc.c.UnblockChallenge(ctx); !errors.Is(err, piv.ErrOfflineUnavailable) {
			t.Fatalf("challenge of a v1 card: %v, want ErrOfflineUnavailable", err)
		}
		_, code := armedCode(t, card.Serial(), 1, 1)
		if err := tc.admin().ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 1, 1, code); !errors.Is(err, piv.ErrUnsupported) {
			t.Fatalf("arming a v1 card: %v", err)
		}
		if err := tc.c.UnblockWithResponse(ctx, 1, code, "24682468"); !errors.Is(err, piv.ErrOfflineUnavailable) {
			t.Fatalf("unblocking a v1 card offline: %v", err)
		}
		for range 3 {
			tc.c.VerifyPIN(ctx, "000000")
		}
		if err := tc.c.UnblockPIN(ctx, pivspec.DefaultPUK, "13571357"); err != nil {
			t.Fatal(err)
		}
		tc.verifyPIN("13571357")
	})
}
