package emu_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

// A session sits in a vpcd reader as a card does.
var _ vpcd.Card = (*emu.Session)(nil)

// sessionOn returns a tcard that talks to a new session of card, with PIV
// selected.
func sessionOn(tb testing.TB, card *emu.Card) (*tcard, *emu.Session) {
	tb.Helper()
	s := card.NewSession()
	tb.Cleanup(s.Close)
	c := &tcard{tb: tb, card: card, client: &apdu.Client{Transport: s.Transport()}}
	c.selectPIV()
	return c, s
}

// pinTries reads the PIN's retry counter with an empty VERIFY (63CX), or
// -1 when the session has verified the PIN (9000).
func (c *tcard) pinTries() int {
	c.tb.Helper()
	r := c.send(0x20, 0x00, 0x80, nil)
	if r.SW == apdu.SWOK {
		return -1
	}
	if r.SW&0xFFF0 != 0x63C0 {
		c.tb.Fatalf("empty VERIFY: %v", r.SW)
	}
	return int(r.SW & 0x0F)
}

func TestSessionsHaveTheirOwnSecurityStatus(t *testing.T) {
	card := newCard(t).card
	a, _ := sessionOn(t, card)
	b, _ := sessionOn(t, card)

	// Management key authentication in A does not count in B.
	b.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9A, tlv(0xAC, tlv(0x80, []byte{byte(pivspec.AlgECCP256)})))
	a.authDefault()
	pub := a.generate(0x9A, pivspec.AlgECCP256).(*ecdsa.PublicKey)
	b.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9A, tlv(0xAC, tlv(0x80, []byte{byte(pivspec.AlgECCP256)})))

	// A verifies the PIN and signs; B cannot sign with the same key.
	a.verifyPIN(pivspec.DefaultPIN)
	digest := sha256Of([]byte("only A may sign"))
	r := a.sign(pivspec.AlgECCP256, 0x9A, digest)
	if r.SW != apdu.SWOK || !ecdsa.VerifyASN1(pub, digest, field(t, r.Data, 0x82)) {
		t.Fatalf("A's signature: %v", r.SW)
	}
	if r := b.sign(pivspec.AlgECCP256, 0x9A, digest); r.SW != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("B signs without a PIN: %v, want 6982", r.SW)
	}
	// Nor does the default session (Card.Transmit) share A's status.
	d := &tcard{tb: t, card: card, client: &apdu.Client{Transport: card.Transport()}}
	if r := d.sign(pivspec.AlgECCP256, 0x9A, digest); r.SW != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("the default session signs without a PIN: %v, want 6982", r.SW)
	}

	// B's wrong PIN costs a try of the one counter, and leaves A
	// verified.
	b.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, pad("000000"))
	if got := d.pinTries(); got != 2 {
		t.Fatalf("tries left seen by another session: %d, want 2", got)
	}
	if got := a.pinTries(); got != -1 {
		t.Fatalf("A after B's wrong PIN: %d tries, want still verified", got)
	}
	if r := a.sign(pivspec.AlgECCP256, 0x9A, digest); r.SW != apdu.SWOK {
		t.Fatalf("A signs after B's wrong PIN: %v", r.SW)
	}
	// A's correct PIN resets the shared counter.
	a.verifyPIN(pivspec.DefaultPIN)
	if got := b.pinTries(); got != 3 {
		t.Fatalf("B's tries after A's VERIFY: %d, want 3", got)
	}

	// Resetting B (power off, as vpcd does when a connection ends)
	// leaves A as it was.
	b.card.NewSession().Close() // a closed session is harmless
	if got := a.pinTries(); got != -1 {
		t.Fatalf("A after another session opened and closed: %d", got)
	}
}

func TestSessionLosesStatusWhenAnotherChangesTheCard(t *testing.T) {
	t.Run("PIN change", func(t *testing.T) {
		card := newCard(t).card
		a, _ := sessionOn(t, card)
		b, _ := sessionOn(t, card)
		a.verifyPIN(pivspec.DefaultPIN)
		b.must(0x24, 0x00, 0x80, append(pad(pivspec.DefaultPIN), pad("654321")...))
		if got := a.pinTries(); got != 3 {
			t.Fatalf("A after B changed the PIN: %d, want not verified (3)", got)
		}
		if got := b.pinTries(); got != -1 {
			t.Fatalf("B after changing the PIN: %d, want verified", got)
		}
	})
	t.Run("PIN blocked", func(t *testing.T) {
		card := newCard(t).card
		a, _ := sessionOn(t, card)
		b, _ := sessionOn(t, card)
		a.verifyPIN(pivspec.DefaultPIN)
		for range 3 {
			b.send(0x20, 0x00, 0x80, pad("000000"))
		}
		a.expect(apdu.SWAuthBlocked, 0x20, 0x00, 0x80, nil)
	})
	t.Run("management key change", func(t *testing.T) {
		card := newCard(t).card
		a, _ := sessionOn(t, card)
		b, _ := sessionOn(t, card)
		a.authDefault()
		b.authDefault()
		newKey := randBytes(t, 32)
		b.must(0xFF, 0xFF, 0xFF, append([]byte{byte(pivspec.AlgAES256), 0x9B, 32}, newKey...))
		a.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9A, tlv(0xAC, tlv(0x80, []byte{byte(pivspec.AlgECCP256)})))
		b.generate(0x9A, pivspec.AlgECCP256) // B keeps its authentication
	})
}

func TestSessionPowerAndClose(t *testing.T) {
	card := newCard(t).card
	a, sa := sessionOn(t, card)
	b, _ := sessionOn(t, card)
	a.verifyPIN(pivspec.DefaultPIN)
	b.verifyPIN(pivspec.DefaultPIN)
	sa.PowerOff()
	// A's power cycle cleared A's state only: nothing is selected.
	a.expect(apdu.SWInstructionNotSupported, 0x20, 0x00, 0x80, nil)
	if got := b.pinTries(); got != -1 {
		t.Fatalf("B after A's power off: %d", got)
	}
	if string(sa.ATR()) != string(card.ATR()) {
		t.Fatal("the session's ATR is not the card's")
	}
	sa.Close()
	if r, _ := apdu.ParseResponse(sa.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})); r.SW != apdu.SWNoPreciseDiagnosis {
		t.Fatalf("closed session answered %v, want 6F00", r.SW)
	}
	if _, err := sa.Transport().Transmit(context.Background(), []byte{0x00, 0xA4, 0x04, 0x00}); !errors.Is(err, emu.ErrSessionClosed) {
		t.Fatalf("closed session's transport: %v", err)
	}
	sa.Close()
}

// TestSessionsConcurrent runs sessions on one card at once (run with
// -race): each verifies the PIN, signs and checks its signature, while
// the card's counter and keys are shared.
func TestSessionsConcurrent(t *testing.T) {
	card := newCard(t).card
	admin, _ := sessionOn(t, card)
	admin.authDefault()
	pub := admin.generate(0x9A, pivspec.AlgECCP256).(*ecdsa.PublicKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			s := card.NewSession()
			defer s.Close()
			cl := &apdu.Client{Transport: s.Transport()}
			send := func(ins, p1, p2 byte, data []byte) (apdu.Response, error) {
				return cl.Send(context.Background(), apdu.Command{INS: ins, P1: p1, P2: p2, Data: data, Le: 256})
			}
			for j := range 20 {
				if r, err := send(0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil || r.SW != apdu.SWOK {
					errs <- fmt.Errorf("session %d: SELECT: %v %v", i, r.SW, err)
					return
				}
				digest := sha256Of(fmt.Appendf(nil, "%d/%d", i, j))
				in := tlv(0x7C, append(tlv(0x82, nil), tlv(0x81, digest)...))
				if r, _ := send(0x87, byte(pivspec.AlgECCP256), 0x9A, in); r.SW != apdu.SWSecurityStatusNotSatisfied {
					errs <- fmt.Errorf("session %d signs before its VERIFY: %v", i, r.SW)
					return
				}
				if r, err := send(0x20, 0x00, 0x80, pad(pivspec.DefaultPIN)); err != nil || r.SW != apdu.SWOK {
					errs <- fmt.Errorf("session %d: VERIFY: %v %v", i, r.SW, err)
					return
				}
				r, err := send(0x87, byte(pivspec.AlgECCP256), 0x9A, in)
				if err != nil || r.SW != apdu.SWOK {
					errs <- fmt.Errorf("session %d: sign: %v %v", i, r.SW, err)
					return
				}
				var sig []byte
				if outer, err := apdu.ParseTLVs(r.Data); err == nil && len(outer) == 1 {
					if inner, err := outer[0].Children(); err == nil {
						t, _ := apdu.Find(inner, 0x82)
						sig = t.Value
					}
				}
				if !ecdsa.VerifyASN1(pub, digest, sig) {
					errs <- fmt.Errorf("session %d: bad signature", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
