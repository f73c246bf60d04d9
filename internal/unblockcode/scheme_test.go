package unblockcode

import (
	"bytes"
	"testing"
)

func TestChallengeFieldsRoundTrip(t *testing.T) {
	for _, f := range []ChallengeFields{
		{},
		{Scheme: SchemePIVPUK, CardTag: 0xFFFF, Counter: 0xFFFF, Nonce: NonceMax},
		{Scheme: SchemeLanyardMAC, CardTag: CardTag("12345678"), Counter: 7, Nonce: 0x123456789},
		{Scheme: SchemeLanyardTPM, CardTag: 0x8001, Counter: 0x8000, Nonce: 1},
	} {
		p, err := f.Pack()
		if err != nil || !p.Valid() {
			t.Fatalf("Pack(%+v) = %x, %v", f, p, err)
		}
		if got := UnpackChallenge(p); got != f {
			t.Errorf("UnpackChallenge(Pack(%+v)) = %+v", f, got)
		}
		if got, err := Decode(Challenge, Encode(Challenge, p)); err != nil || UnpackChallenge(got) != f {
			t.Errorf("through a code: %+v, %v", UnpackChallenge(got), err)
		}
	}
	if _, err := (ChallengeFields{Nonce: NonceMax + 1}).Pack(); err == nil {
		t.Error("a 37-bit nonce packed")
	}
	if _, err := (ChallengeFields{Scheme: 4}).Pack(); err == nil {
		t.Error("scheme 4 packed")
	}
}

// The response binds the key, the serial and every bit of the challenge.
func TestResponseMACBinds(t *testing.T) {
	key, err := MACKey(bytes.Repeat([]byte{1}, 24), "12345678")
	if err != nil || len(key) != 32 {
		t.Fatalf("MACKey: %x, %v", key, err)
	}
	other, _ := MACKey(bytes.Repeat([]byte{2}, 24), "12345678")
	otherSerial, _ := MACKey(bytes.Repeat([]byte{1}, 24), "12345679")
	if bytes.Equal(key, other) || bytes.Equal(key, otherSerial) {
		t.Fatal("the MAC key does not depend on the management key and the serial")
	}
	ch, _ := ChallengeFields{Scheme: SchemeLanyardMAC, CardTag: CardTag("12345678"), Counter: 3, Nonce: 99}.Pack()
	r := ResponseMAC(key, "12345678", ch)
	if !r.Valid() {
		t.Fatalf("response wider than 70 bits: %x", r)
	}
	if ResponseMAC(key, "12345678", ch) != r {
		t.Fatal("the response is not deterministic")
	}
	for _, alt := range []Payload{ResponseMAC(other, "12345678", ch), ResponseMAC(key, "12345679", ch)} {
		if alt == r {
			t.Error("the response does not depend on the key or the serial")
		}
	}
	for bit := range PayloadBits {
		flipped := ch
		flipped[len(flipped)-1-bit/8] ^= 1 << (bit % 8)
		if ResponseMAC(key, "12345678", flipped) == r {
			t.Fatalf("flipping challenge bit %d keeps the response", bit)
		}
	}
}

// The TPM key depends on every input.
func TestTPMKeyBinds(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	k, err := TPMKey(master, 1, 42, "12345678")
	if err != nil || len(k) != 32 {
		t.Fatalf("TPMKey: %x, %v", k, err)
	}
	for name, alt := range map[string]func() ([]byte, error){
		"master":  func() ([]byte, error) { return TPMKey(bytes.Repeat([]byte{8}, 32), 1, 42, "12345678") },
		"version": func() ([]byte, error) { return TPMKey(master, 2, 42, "12345678") },
		"card":    func() ([]byte, error) { return TPMKey(master, 1, 43, "12345678") },
		"serial":  func() ([]byte, error) { return TPMKey(master, 1, 42, "12345679") },
	} {
		if other, err := alt(); err != nil || bytes.Equal(other, k) {
			t.Errorf("another %s gives the same key (%v)", name, err)
		}
	}
	if mac, _ := MACKey(master, "12345678"); bytes.Equal(mac, k) {
		t.Error("the TPM key equals the MAC key")
	}
}
