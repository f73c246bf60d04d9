package emu_test

import (
	"bytes"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Power off, power on and reset clear what a card keeps in RAM and keep
// what it keeps in non-volatile memory.
func TestPowerEvents(t *testing.T) {
	events := map[string]func(*emu.Card){
		"power off": (*emu.Card).PowerOff,
		"power on":  (*emu.Card).PowerOn,
		"reset":     (*emu.Card).Reset,
	}
	for name, event := range events {
		t.Run(name, func(t *testing.T) {
			c := newCard(t)
			c.authDefault()
			c.generate(0x9A, pivspec.AlgECCP256)
			c.verifyPIN(pivspec.DefaultPIN)
			c.expect(apdu.VerifyFailed(2), 0x24, 0x00, 0x81, append(pad("00000000"), pad("00000000")...))

			// A pending response (61XX) and a command chain in progress.
			r := c.raw(mustHex(t, "00CB3FFF 05 5C035FFF01 08"))
			if _, ok := r.SW.Available(); !ok {
				t.Fatalf("no pending response: %v", r.SW)
			}
			event(c.card)
			if sw := c.raw(mustHex(t, "00C0000000")).SW; sw != apdu.SWConditionsNotSatisfied {
				t.Fatalf("GET RESPONSE after %s: %v", name, sw)
			}

			// Nothing is selected; selecting shows that the PIN and the
			// management key are no longer verified.
			c.expect(apdu.SWInstructionNotSupported, 0xFD, 0, 0, nil)
			c.selectPIV()
			c.expect(apdu.VerifyFailed(3), 0x20, 0x00, 0x80, nil)
			c.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9D, mustHex(t, "AC03800111"))
			c.expect(apdu.SWSecurityStatusNotSatisfied, 0x87, 0x11, 0x9A, tlv(0x7C, append(tlv(0x82, nil), tlv(0x81, make([]byte, 32))...)))

			// Persistent state survives: the key, the PUK counter.
			c.must(0xF7, 0x00, 0x9A, nil)
			if got := c.must(0xF7, 0x00, 0x81, nil); !bytes.HasSuffix(got, []byte{0x06, 0x02, 0x03, 0x02}) {
				t.Fatalf("PUK metadata %X", got)
			}

			// A management key witness does not survive either.
			c.must(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, nil)))
			event(c.card)
			c.selectPIV()
			c.expect(apdu.SWConditionsNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, append(tlv(0x80, make([]byte, 8)), tlv(0x81, make([]byte, 8))...)))

			// Nor does a command chain.
			c.authDefault()
			big := append(tlv(0x5C, mustHex(t, "5FC105")), tlv(0x53, bytes.Repeat([]byte{1}, 300))...)
			first := append([]byte{0x10, 0xDB, 0x3F, 0xFF, 0xFF}, big[:255]...)
			if sw := c.raw(first).SW; sw != apdu.SWOK {
				t.Fatalf("first block: %v", sw)
			}
			event(c.card)
			c.selectPIV()
			c.authDefault()
			last := append([]byte{0x00, 0xDB, 0x3F, 0xFF, byte(len(big) - 255)}, big[255:]...)
			if sw := c.raw(last).SW; sw != apdu.SWIncorrectData {
				t.Fatalf("last block alone after %s: %v, want 6A80", name, sw)
			}
		})
	}
}
