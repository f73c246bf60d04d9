package pivspec_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

func TestAlgorithmNames(t *testing.T) {
	tests := []struct {
		alg             pivspec.Algorithm
		name            string
		rsa, ec, keyLen int
		asymmetric      bool
	}{
		{pivspec.Alg3DES, "3DES", 0, 0, 24, false},
		{pivspec.AlgAES128, "AES-128", 0, 0, 16, false},
		{pivspec.AlgAES192, "AES-192", 0, 0, 24, false},
		{pivspec.AlgAES256, "AES-256", 0, 0, 32, false},
		{pivspec.AlgRSA1024, "RSA 1024", 1024, 0, 0, true},
		{pivspec.AlgRSA2048, "RSA 2048", 2048, 0, 0, true},
		{pivspec.AlgRSA3072, "RSA 3072", 3072, 0, 0, true},
		{pivspec.AlgRSA4096, "RSA 4096", 4096, 0, 0, true},
		{pivspec.AlgECCP256, "ECC P-256", 0, 32, 0, true},
		{pivspec.AlgECCP384, "ECC P-384", 0, 48, 0, true},
		{pivspec.AlgEd25519, "Ed25519", 0, 0, 0, true},
		{pivspec.AlgX25519, "X25519", 0, 0, 0, true},
		{pivspec.AlgPIN, "PIN", 0, 0, 0, false},
		{0x42, "algorithm 42", 0, 0, 0, false},
	}
	for _, tt := range tests {
		a := tt.alg
		if a.String() != tt.name || a.RSABits() != tt.rsa || a.ECBytes() != tt.ec || a.ManagementKeyLen() != tt.keyLen ||
			a.IsRSA() != (tt.rsa != 0) || a.IsEC() != (tt.ec != 0) || (a.Curve() != nil) != (tt.ec != 0) || a.IsAsymmetric() != tt.asymmetric {
			t.Errorf("%02X: %q rsa %d ec %d curve %v key %d asymmetric %v; want %+v",
				byte(a), a, a.RSABits(), a.ECBytes(), a.Curve(), a.ManagementKeyLen(), a.IsAsymmetric(), tt)
		}
	}
}

func TestAlgorithmOf(t *testing.T) {
	ec := func(c elliptic.Curve) crypto.PublicKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return &k.PublicKey
	}
	// Only the modulus size matters, so the moduli need not be real.
	modulus := func(bits int) crypto.PublicKey {
		return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want pivspec.Algorithm
		ok   bool
	}{
		{"P-256", ec(elliptic.P256()), pivspec.AlgECCP256, true},
		{"P-384", ec(elliptic.P384()), pivspec.AlgECCP384, true},
		{"P-224", ec(elliptic.P224()), 0, false},
		{"RSA 1024", modulus(1024), pivspec.AlgRSA1024, true},
		{"RSA 2048", modulus(2048), pivspec.AlgRSA2048, true},
		{"RSA 3072", modulus(3072), pivspec.AlgRSA3072, true},
		{"RSA 4096", modulus(4096), pivspec.AlgRSA4096, true},
		{"RSA 2047", modulus(2047), 0, false},
		{"RSA without modulus", &rsa.PublicKey{}, 0, false},
		{"nil RSA", (*rsa.PublicKey)(nil), 0, false},
		{"nil ECDSA", (*ecdsa.PublicKey)(nil), 0, false},
		{"Ed25519", edPub, 0, false},
		{"nil", nil, 0, false},
	}
	for _, tt := range tests {
		if got, ok := pivspec.AlgorithmOf(tt.pub); got != tt.want || ok != tt.ok {
			t.Errorf("%s: AlgorithmOf = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSlots(t *testing.T) {
	tests := []struct {
		slot   pivspec.Slot
		object uint32
		name   string
	}{
		{pivspec.SlotAuthentication, 0x5FC105, "9A (PIV Authentication)"},
		{pivspec.SlotSignature, 0x5FC10A, "9C (Digital Signature)"},
		{pivspec.SlotKeyManagement, 0x5FC10B, "9D (Key Management)"},
		{pivspec.SlotCardAuthentication, 0x5FC101, "9E (Card Authentication)"},
		{pivspec.SlotAttestation, 0x5FFF01, "F9 (Attestation)"},
		{pivspec.SlotRetiredFirst, 0x5FC10D, "82 (Retired Key Management 1)"},
		{pivspec.SlotRetiredLast, 0x5FC120, "95 (Retired Key Management 20)"},
		{0x9B, 0, "9B (not a PIV key slot)"},
		{0x96, 0, "96 (not a PIV key slot)"},
	}
	for _, tt := range tests {
		if tt.slot.Object() != tt.object || tt.slot.String() != tt.name || tt.slot.Valid() != (tt.object != 0) {
			t.Errorf("%02X: object %X, %q, valid %v; want %X, %q", byte(tt.slot), tt.slot.Object(), tt.slot, tt.slot.Valid(), tt.object, tt.name)
		}
	}
	for n, want := range map[int]pivspec.Slot{1: 0x82, 20: 0x95} {
		if s, ok := pivspec.RetiredSlot(n); !ok || s != want || !s.Retired() {
			t.Errorf("RetiredSlot(%d) = %v, %v; want %v", n, s, ok, want)
		}
	}
	for _, n := range []int{0, 21} {
		if s, ok := pivspec.RetiredSlot(n); ok {
			t.Errorf("RetiredSlot(%d) = %v", n, s)
		}
	}
	slots := pivspec.CertificateSlots()
	if len(slots) != 24 || slots[0] != pivspec.SlotAuthentication || slots[4] != pivspec.SlotRetiredFirst || slices.Contains(slots, pivspec.SlotAttestation) {
		t.Errorf("CertificateSlots = %v", slots)
	}
	refs := map[pivspec.KeyRef]string{
		pivspec.KeyPIN:                     "PIN",
		pivspec.KeyPUK:                     "PUK",
		pivspec.KeyAdmin:                   "management key",
		pivspec.SlotSignature.Ref():        "key 9C (Digital Signature)",
		pivspec.KeyRef(pivspec.AlgECCP256): "key reference 11",
	}
	for r, want := range refs {
		if r.String() != want {
			t.Errorf("KeyRef %02X = %q, want %q", byte(r), r, want)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	if got := pivspec.AID(); !bytes.Equal(got, []byte{0xA0, 0, 0, 3, 8, 0, 0, 0x10, 0, 1, 0}) ||
		!bytes.Equal(pivspec.RID(), got[:5]) || !bytes.Equal(pivspec.PIX(), got[5:]) {
		t.Errorf("AID % X, RID % X, PIX % X", got, pivspec.RID(), pivspec.PIX())
	}
	// The functions return copies: changing one changes nothing else.
	pivspec.AID()[0], pivspec.DefaultManagementKey()[0] = 0, 0
	if pivspec.AID()[0] != 0xA0 || !bytes.Equal(pivspec.DefaultManagementKey(), bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3)) {
		t.Error("a shared slice was changed")
	}
}

func TestATRWithIssuerData(t *testing.T) {
	for _, data := range []string{"Lanyard", "LanyardTPM", "LanyardPC", "L", "LanyardAirCrd"} {
		a := pivspec.ATRWithIssuerData(data)
		if err := vpcd.CheckATR(a); err != nil {
			t.Errorf("%q: ATR % X: %v", data, a, err)
		}
		if !bytes.Contains(a, []byte(data)) {
			t.Errorf("%q: ATR % X lacks the issuer data", data, a)
		}
	}
	// The emulator's ATR, as cards in the field have answered since the
	// first release.
	if got, want := pivspec.ATRWithIssuerData("Lanyard"), []byte{0x3B, 0x89, 0x80, 0x01, 0x80, 0x57, 'L', 'a', 'n', 'y', 'a', 'r', 'd', 0x92}; !bytes.Equal(got, want) {
		t.Errorf("ATR % X", got)
	}
	for _, data := range []string{"", "LanyardAirCard"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ATRWithIssuerData(%q) did not panic", data)
				}
			}()
			pivspec.ATRWithIssuerData(data)
		}()
	}
}
