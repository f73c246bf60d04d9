package emu_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

func ecdsaCurve(alg emu.Algorithm) elliptic.Curve {
	if alg == pivspec.AlgECCP384 {
		return elliptic.P384()
	}
	return elliptic.P256()
}

func TestATR(t *testing.T) {
	c := openCard(t)
	atr := c.card.ATR()
	if err := vpcd.CheckATR(atr); err != nil {
		t.Fatalf("ATR % X: %v", atr, err)
	}
	atr[0] = 0
	if c.card.ATR()[0] != 0x3B {
		t.Fatal("ATR returned the card's own slice")
	}
}

// The card is a vpcd.Card.
var _ vpcd.Card = (*emu.Card)(nil)

func TestSelect(t *testing.T) {
	apt := mustHex(t, "61 41 4F 06 000010000100 79 07 4F 05 A000000308 50 0B 4C616E79617264 20 504956"+
		" AC 21 800103 800108 80010A 80010C 800106 800107 800105 800116 800111 800114 060100")
	tests := []struct {
		name     string
		p1, p2   byte
		aid      string
		want     apdu.SW
		wantData []byte
	}{
		{"RID", 0x04, 0x00, "A000000308", apdu.SWOK, apt},
		{"full AID", 0x04, 0x00, "A0000003080000100001 00", apdu.SWOK, apt},
		{"AID without version (OpenSC)", 0x04, 0x00, "A000000308000010 00", apdu.SWOK, apt},
		{"no response data", 0x04, 0x0C, "A000000308", apdu.SWOK, nil},
		{"other application", 0x04, 0x00, "A000000527471117", apdu.SWNotFound, nil},
		{"too short", 0x04, 0x00, "A0000003", apdu.SWNotFound, nil},
		{"longer than the AID", 0x04, 0x00, "A000000308000010000100 01", apdu.SWNotFound, nil},
		{"no AID", 0x04, 0x00, "", apdu.SWIncorrectData, nil},
		{"by file identifier", 0x00, 0x00, "3F00", apdu.SWNotFound, nil},
		{"bad P1", 0x0A, 0x00, "A000000308", apdu.SWIncorrectP1P2, nil},
		{"bad P2", 0x04, 0x02, "A000000308", apdu.SWIncorrectP1P2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openCard(t)
			r := c.send(0xA4, tt.p1, tt.p2, mustHex(t, tt.aid))
			if r.SW != tt.want || !bytes.Equal(r.Data, tt.wantData) {
				t.Fatalf("got %X %v, want %X %v", r.Data, r.SW, tt.wantData, tt.want)
			}
			// Only a successful SELECT makes PIV instructions available.
			sw := c.send(0xFD, 0, 0, nil).SW
			if (sw == apdu.SWOK) != (tt.want == apdu.SWOK) {
				t.Fatalf("GET VERSION after SELECT answered %v", sw)
			}
		})
	}
}

func TestSelectOtherAIDKeepsPIV(t *testing.T) {
	c := newCard(t)
	c.verifyPIN(pivspec.DefaultPIN)
	c.expect(apdu.SWNotFound, 0xA4, 0x04, 0x00, mustHex(t, "A000000527200101"))
	c.must(0x20, 0x00, 0x80, nil) // still selected, PIN still verified
}

func TestSelectResetsSecurityStatus(t *testing.T) {
	c := newCard(t)
	c.verifyPIN(pivspec.DefaultPIN)
	c.authDefault()
	c.selectPIV()
	c.expect(apdu.VerifyFailed(3), 0x20, 0x00, 0x80, nil)
	c.expect(apdu.SWSecurityStatusNotSatisfied, 0xDB, 0x3F, 0xFF, append(tlv(0x5C, mustHex(t, "5FC109")), tlv(0x53, []byte{1})...))
}

func TestNothingSelected(t *testing.T) {
	c := openCard(t)
	c.expect(apdu.SWInstructionNotSupported, 0xCB, 0x3F, 0xFF, tlv(0x5C, []byte{0x7E}))
	c.selectPIV()
	c.must(0xCB, 0x3F, 0xFF, tlv(0x5C, []byte{0x7E}))
	c.card.PowerOff()
	c.card.PowerOn()
	c.expect(apdu.SWInstructionNotSupported, 0xCB, 0x3F, 0xFF, tlv(0x5C, []byte{0x7E}))
}

func TestClassAndInstruction(t *testing.T) {
	c := newCard(t)
	tests := []struct {
		name string
		raw  string
		want apdu.SW
	}{
		{"proprietary class", "A0FD0000", apdu.SWClassNotSupported},
		// Class 80 is Lanyard's vendor class (offline unblock), which
		// knows only its own instructions.
		{"Lanyard's class, another instruction", "80FD0000", apdu.SWInstructionNotSupported},
		{"secure messaging", "0CFD0000", apdu.SWSecureMessagingNotSupported},
		{"logical channel 1", "01FD0000", 0x6881},
		{"unknown instruction", "00B00000", apdu.SWInstructionNotSupported},
		{"header only, 3 bytes", "00FD00", apdu.SWWrongLength},
		{"Lc larger than the data", "00DB3FFF055C03", apdu.SWWrongLength},
		{"GET RESPONSE with nothing pending", "00C0000000", apdu.SWConditionsNotSatisfied},
		{"GET VERSION with Lc 0 (piv-go)", "00FD000000", apdu.SWOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.raw(mustHex(t, tt.raw)).SW; got != tt.want {
				t.Fatalf("%s: %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestTransportHonoursContext(t *testing.T) {
	c := openCard(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.card.Transport().Transmit(ctx, mustHex(t, "00A4040005A000000308")); err == nil {
		t.Fatal("Transmit with a cancelled context succeeded")
	}
}

// TestWithATR checks that a card answers with the ATR it was given and
// by default with Lanyard's (pivspec tests the ATRs themselves).
func TestWithATR(t *testing.T) {
	if c := openCard(t); !bytes.Equal(c.card.ATR(), pivspec.ATRWithIssuerData("Lanyard")) {
		t.Errorf("default ATR % X", c.card.ATR())
	}
	c, err := emu.New(emu.WithATR(pivspec.ATRWithIssuerData("LanyardTPM")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.ATR(), pivspec.ATRWithIssuerData("LanyardTPM")) || bytes.Equal(c.ATR(), pivspec.ATRWithIssuerData("Lanyard")) {
		t.Errorf("WithATR: card answers % X", c.ATR())
	}
}
