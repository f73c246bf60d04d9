package apdu_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// FuzzParseCommand: ParseCommand never panics, rejects only with
// ErrMalformed, and what it accepts encodes back to the same bytes in the
// same form.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"00A40400", "00CB3FFF00", "00A4040005A000000308", "00A4040005A00000030800",
		"00CB3FFF000400", "00DB3FFF0000025C03", "00DB3FFF000001AA0100", "10DB3FFF025C03",
		"00A404", "00A4040000", "00A404000001", "00A4040005A0", "00DB3FFF000000AA",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := apdu.ParseCommand(in)
		if err != nil {
			if !errors.Is(err, apdu.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(c.Data) > apdu.MaxExtendedData || c.Le < 0 || c.Le > apdu.MaxExtendedLe {
			t.Fatalf("out of range: %d data bytes, Le %d", len(c.Data), c.Le)
		}
		var out []byte
		if len(in) <= 5 || in[4] != 0 { // short form
			if out, err = c.Bytes(); err != nil {
				t.Fatalf("short command does not encode: %v", err)
			}
		} else {
			out = encodeExtended(c)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("%X parsed to %+v, which encodes as %X", in, c, out)
		}
	})
}

// FuzzParseTLVs: ParseTLVs never panics, rejects only with ErrMalformed,
// and what it accepts encodes back to the same bytes when the input used
// minimal lengths, and to a shorter equivalent otherwise; likewise at
// every level of nesting that parses.
func FuzzParseTLVs(f *testing.F) {
	for _, s := range []string{
		"", "5300", "530102", "7C0682820102 8100", "5FC10500", "7F4903860100", "53820100",
		"5381050001020304", "5380", "5383000001", "5FC1", "5FC1810100", "0000", "530100FF",
		"61114F0600001000010079074F05A000000308",
	} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkTLVRoundTrip(t, in, 0)
	})
}

func checkTLVRoundTrip(t *testing.T, in []byte, depth int) {
	tlvs, err := apdu.ParseTLVs(in)
	if err != nil {
		if !errors.Is(err, apdu.ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	out := apdu.AppendTLVs(nil, tlvs...)
	if len(out) > len(in) || (len(out) == len(in) && !bytes.Equal(out, in)) {
		t.Fatalf("%X parsed and encoded as %X", in, out)
	}
	again, err := apdu.ParseTLVs(out)
	if err != nil || !sameTLVs(again, tlvs) {
		t.Fatalf("%X parsed, encoded as %X, parsed again as %v, %v", in, out, again, err)
	}
	if depth < 8 {
		for _, tlv := range tlvs {
			checkTLVRoundTrip(t, tlv.Value, depth+1)
		}
	}
}

// FuzzCardFramer feeds a CardFramer arbitrary raw commands (each prefixed
// by its length in the input). Every command gets a response APDU that
// respects the command's Le, and the handler only sees complete commands
// within MaxChainData.
func FuzzCardFramer(f *testing.F) {
	f.Add(mustHex(f, "09 00CB3FFF 03 5C017E 08 05 00C00000 0C"))
	f.Add(mustHex(f, "07 10DB3FFF 02 5302 07 00DB3FFF 02 AABB 04 00C00000"))
	f.Add(mustHex(f, "03 00A404 00 05 00C0000000"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fr apdu.CardFramer
		handle := func(c apdu.Command) apdu.Response {
			if len(c.Data) > apdu.MaxChainData || c.Chained() {
				t.Fatalf("handler got %d data bytes, CLA %02X", len(c.Data), c.CLA)
			}
			// Answer with P1-P2 bytes (at most 4 KiB) and a status word from INS.
			n := (int(c.P1)<<8 | int(c.P2)) % 4096
			sw := apdu.SWOK
			if c.INS&1 == 1 {
				sw = apdu.SW(0x6A00 | uint16(c.INS))
			}
			return apdu.Response{Data: seq(n), SW: sw}
		}
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			raw := in[1 : 1+n]
			in = in[1+n:]
			out := fr.Process(raw, handle)
			if len(out) < 2 {
				t.Fatalf("%X answered with %X", raw, out)
			}
			if c, err := apdu.ParseCommand(raw); err == nil {
				limit := c.Le
				if limit == 0 {
					limit = apdu.MaxShortLe
				}
				if len(out)-2 > limit {
					t.Fatalf("%X (Le %d) answered with %d data bytes", raw, c.Le, len(out)-2)
				}
			} else if !bytes.Equal(out, []byte{0x67, 0x00}) {
				t.Fatalf("malformed %X answered with %X, want 6700", raw, out)
			}
		}
	})
}

// FuzzClientHostileCard lets a card answer with arbitrary responses (taken
// in turn from the input, cycling). Send always ends, within the limits,
// with a response or an error.
func FuzzClientHostileCard(f *testing.F) {
	f.Add(uint16(0), mustHex(f, "02 6100"))
	f.Add(uint16(600), mustHex(f, "02 9000 02 9000 03 AA 6101"))
	f.Add(uint16(10), mustHex(f, "02 6C05 02 6C05"))
	f.Add(uint16(10), mustHex(f, "01 61"))
	f.Fuzz(func(t *testing.T, dataLen uint16, script []byte) {
		var answers [][]byte
		for len(script) > 0 {
			n := min(int(script[0]), len(script)-1)
			answers = append(answers, script[1:1+n])
			script = script[1+n:]
		}
		if len(answers) == 0 {
			return
		}
		const maxResponse, maxExchanges = 4096, 64
		sent := 0
		tr := apdu.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
			if len(cmd) > 4+1+255+1 {
				t.Fatalf("command of %d bytes", len(cmd))
			}
			a := answers[sent%len(answers)]
			sent++
			return a, nil
		})
		c := &apdu.Client{Transport: tr, MaxResponse: maxResponse, MaxExchanges: maxExchanges}
		r, err := c.Send(context.Background(), apdu.Command{INS: 0xDB, Data: seq(int(dataLen % 2048)), Le: 256})
		if sent > maxExchanges {
			t.Fatalf("%d exchanges", sent)
		}
		if err == nil && len(r.Data) > maxResponse {
			t.Fatalf("%d response bytes", len(r.Data))
		}
		if err != nil && !errors.Is(err, apdu.ErrLimit) && !errors.Is(err, apdu.ErrProtocol) && !errors.Is(err, apdu.ErrMalformed) {
			t.Fatalf("unexpected kind of error: %v", err)
		}
	})
}
