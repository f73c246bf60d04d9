package piv_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
)

// allNines is the FASC-N that PIV-I and other non-federal cards carry
// (agency 9999, system 9999, credential 999999), as published in the
// PIV-I guidance and seen on many cards.
const allNines = "D4E739DA739CED39CE739D836858210842108421C84210C3EB"

func TestCHUID(t *testing.T) {
	ctx := context.Background()
	// SP 800-73-4 Part 1 table 9: FASC-N, GUID, expiration date, issuer
	// signature, error detection code.
	c := replayCard(t, `
> 00 CB 3F FF 05 5C035FC102 00
< 533B 3019`+allNines+` 3410 00112233445566778899AABBCCDDEEFF 3508 3230333031323331 3E00 FE00 9000`)
	ch, err := c.CHUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ch.GUID, mustHex(t, "00112233445566778899AABBCCDDEEFF")) {
		t.Errorf("GUID %X", ch.GUID)
	}
	if !ch.Expiration.Equal(time.Date(2030, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expiration %v", ch.Expiration)
	}
	f, err := piv.ParseFASCN(ch.FASCN)
	if err != nil {
		t.Fatal(err)
	}
	want := piv.FASCN{AgencyCode: "9999", SystemCode: "9999", CredentialNumber: "999999", CredentialSeries: "0",
		IssueLevel: "1", PersonID: "0000000000", OrgCategory: "3", OrgID: "0000", Association: "1"}
	if f != want {
		t.Errorf("FASC-N %+v, want %+v", f, want)
	}
}

func TestCHUIDErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		response string
		want     error
	}{
		{"empty object", "5300 9000", piv.ErrNotFound},
		{"no object", "6A82", piv.ErrNotFound},
		{"GUID of 15 bytes", "5311 340F 00112233445566778899AABBCCDDEE 9000", apdu.ErrMalformed},
		{"FASC-N of 24 bytes", "531A 3018 " + allNines[:48] + " 9000", apdu.ErrMalformed},
		{"expiration not a date", "530A 3508 3230333031333332 9000", apdu.ErrMalformed},
		{"wrong outer tag", "5402 3400 9000", apdu.ErrMalformed},
		{"PIN required", "6982", piv.ErrSecurityStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replayCard(t, "> 00 CB 3F FF 05 5C035FC102 00\n< "+tt.response)
			if _, err := c.CHUID(ctx); !errors.Is(err, tt.want) {
				t.Fatalf("CHUID error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseCHUIDMinimal(t *testing.T) {
	ch, err := piv.ParseCHUID(mustHex(t, "3410 0102030405060708090A0B0C0D0E0F10 EE020000"))
	if err != nil {
		t.Fatal(err)
	}
	if ch.FASCN != nil || !ch.Expiration.IsZero() || len(ch.GUID) != 16 {
		t.Fatalf("%+v", ch)
	}
}

// encodeFASCN is an encoder written from TIG SCEPACS independently of
// ParseFASCN: 5-bit characters, 4 data bits least significant first, odd
// parity, packed most significant bit first, LRC over the data bits.
func encodeFASCN(chars []byte) []byte {
	var lrc byte
	for _, c := range chars {
		lrc ^= c
	}
	chars = append(chars, lrc)
	var bits []byte
	for _, c := range chars {
		ones := byte(0)
		for j := range 4 {
			b := c >> j & 1
			bits = append(bits, b)
			ones += b
		}
		bits = append(bits, 1-ones%2)
	}
	out := make([]byte, len(bits)/8)
	for i, b := range bits {
		out[i/8] |= b << (7 - i%8)
	}
	return out
}

func fascnChars(f string) []byte {
	var chars []byte
	for _, r := range f {
		switch r {
		case 'S':
			chars = append(chars, 0xB)
		case 'F':
			chars = append(chars, 0xD)
		case 'E':
			chars = append(chars, 0xF)
		default:
			chars = append(chars, byte(r-'0'))
		}
	}
	return chars
}

func TestParseFASCN(t *testing.T) {
	if got := encodeFASCN(fascnChars("S9999F9999F999999F0F1F000000000030000" + "1E")); !bytes.Equal(got, mustHex(t, allNines)) {
		t.Fatalf("the test's encoder gives %X for the all-nines FASC-N", got)
	}
	good := "S0123F4567F890123F4F5F678901234567890" + "1E"
	f, err := piv.ParseFASCN(encodeFASCN(fascnChars(good)))
	if err != nil {
		t.Fatal(err)
	}
	want := piv.FASCN{AgencyCode: "0123", SystemCode: "4567", CredentialNumber: "890123", CredentialSeries: "4",
		IssueLevel: "5", PersonID: "6789012345", OrgCategory: "6", OrgID: "7890", Association: "1"}
	if f != want {
		t.Fatalf("ParseFASCN = %+v, want %+v", f, want)
	}

	tests := map[string][]byte{
		"24 bytes":            encodeFASCN(fascnChars(good))[:24],
		"no start sentinel":   encodeFASCN(fascnChars("F" + good[1:])),
		"separator for digit": encodeFASCN(fascnChars("S0F23F4567F890123F4F5F678901234567890" + "1E")),
		"digit for separator": encodeFASCN(fascnChars("S012354567F890123F4F5F678901234567890" + "1E")),
		"no end sentinel":     encodeFASCN(fascnChars(good[:38] + "F")),
	}
	flipped := encodeFASCN(fascnChars(good))
	flipped[10] ^= 0x10
	tests["one bit flipped"] = flipped
	badLRC := encodeFASCN(fascnChars(good))
	badLRC[24] ^= 0x3E // LRC data bits and parity changed together
	tests["wrong LRC"] = badLRC
	for name, b := range tests {
		if name != "24 bytes" && len(b) != 25 {
			t.Fatalf("%s: the test case has %d bytes", name, len(b))
		}
		if _, err := piv.ParseFASCN(b); !errors.Is(err, apdu.ErrMalformed) {
			t.Errorf("%s: ParseFASCN = %v, want ErrMalformed", name, err)
		}
	}
}
