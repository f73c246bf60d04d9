package unblockcode

import (
	"encoding/hex"
	"errors"
	"testing"
)

// TestPUKResponseKAT pins the mask and check derivation (docs/lifecycle.md,
// "Offline unblock"), computed independently: masked = base62(PUK) XOR
// first 48 bits of SHA-256("LANYARD-PUK-MASK-1" ‖ len ‖ serial ‖ ch),
// check = first 22 bits of SHA-256("LANYARD-PUK-CHECK-1" ‖ len ‖ serial ‖
// ch ‖ PUK), laid out masked ‖ check in 70 bits.
func TestPUKResponseKAT(t *testing.T) {
	ch := Payload{0x20, 1, 2, 3, 4, 5, 6, 7, 8}
	r, err := PUKResponse("12345678", ch, "aZ09xY3q")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(r[:]); got != "12beca3e7c2ef45d41" {
		t.Errorf("response %s, want 12beca3e7c2ef45d41", got)
	}
	if puk, err := OpenPUKResponse("12345678", ch, r); err != nil || puk != "aZ09xY3q" {
		t.Errorf("OpenPUKResponse = %q, %v", puk, err)
	}
}

func TestPUKResponseRoundTripAndRefusals(t *testing.T) {
	ch, _ := ChallengeFields{Scheme: SchemePIVPUK, CardTag: CardTag("4711"), Nonce: 0xABCDEF123}.Pack()
	other, _ := ChallengeFields{Scheme: SchemePIVPUK, CardTag: CardTag("4711"), Nonce: 0xABCDEF124}.Pack()
	for _, puk := range []string{"00000000", "ZZZZZZZZ", "k3Jq9xWm", "12345678"} {
		r, err := PUKResponse("4711", ch, puk)
		if err != nil || !r.Valid() {
			t.Fatalf("PUKResponse(%q) = %x, %v", puk, r, err)
		}
		code := Encode(Response, r)
		back, err := Decode(Response, code)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := OpenPUKResponse("4711", ch, back); err != nil || got != puk {
			t.Errorf("round trip of %q: %q, %v", puk, got, err)
		}
		// Another challenge, another card: refused before any card sees it.
		if _, err := OpenPUKResponse("4711", other, r); !errors.Is(err, ErrNotForThisChallenge) {
			t.Errorf("%q for another challenge: %v", puk, err)
		}
		if _, err := OpenPUKResponse("4712", ch, r); !errors.Is(err, ErrNotForThisChallenge) {
			t.Errorf("%q for another card: %v", puk, err)
		}
		// One flipped bit of the masked part changes the PUK, so the check fails.
		flipped := r
		flipped[3] ^= 0x10
		if _, err := OpenPUKResponse("4711", ch, flipped); !errors.Is(err, ErrNotForThisChallenge) {
			t.Errorf("%q with a flipped bit: %v", puk, err)
		}
	}
	for _, bad := range []string{"1234567", "123456789", "1234567!", "", "12345 78"} {
		if _, err := PUKResponse("4711", ch, bad); !errors.Is(err, ErrPUKNotReleasable) {
			t.Errorf("PUKResponse(%q): %v", bad, err)
		}
	}
}

// FuzzOpenPUKResponse: any response either is refused or opens to a
// releasable PUK that gives the same response back.
func FuzzOpenPUKResponse(f *testing.F) {
	f.Add("12345678", []byte{0x20, 1, 2, 3, 4, 5, 6, 7, 8}, []byte{0x12, 0xbe, 0xca, 0x3e, 0x7c, 0x2e, 0xf4, 0x5d, 0x41})
	f.Fuzz(func(t *testing.T, serial string, chb, rb []byte) {
		var ch, r Payload
		copy(ch[:], chb)
		copy(r[:], rb)
		r[0] &= 0x3F
		puk, err := OpenPUKResponse(serial, ch, r)
		if err != nil {
			return
		}
		again, err := PUKResponse(serial, ch, puk)
		if err != nil || again != r {
			t.Fatalf("opened %q from %x, which gives %x, %v", puk, r, again, err)
		}
	})
}
