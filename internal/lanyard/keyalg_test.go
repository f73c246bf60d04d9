package lanyard_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// rsaPub returns an RSA public key whose modulus has exactly bits bits.
// Generating real 4096-bit keys would slow the tests for nothing:
// KeyAlgorithmOf looks only at the modulus size.
func rsaPub(tb testing.TB, bits int) *rsa.PublicKey {
	tb.Helper()
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	if n.BitLen() != bits {
		tb.Fatalf("modulus has %d bits, want %d", n.BitLen(), bits)
	}
	return &rsa.PublicKey{N: n, E: 65537}
}

func mustECDSA(tb testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// viaPKIX sends pub through DER, as keys from CSRs and cards arrive.
func viaPKIX(tb testing.TB, pub any) any {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestKeyAlgorithmOf(t *testing.T) {
	p224 := mustECDSA(t, elliptic.P224())
	p256 := mustECDSA(t, elliptic.P256())
	p384 := mustECDSA(t, elliptic.P384())
	p521 := mustECDSA(t, elliptic.P521())
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	realRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  any
		want lanyard.KeyAlgorithm
	}{
		{"RSA 2048 (generated)", &realRSA.PublicKey, lanyard.RSA2048},
		{"RSA 2048", rsaPub(t, 2048), lanyard.RSA2048},
		{"RSA 3072", rsaPub(t, 3072), lanyard.RSA3072},
		{"RSA 4096", rsaPub(t, 4096), lanyard.RSA4096},
		{"RSA 2048 via DER", viaPKIX(t, &realRSA.PublicKey), lanyard.RSA2048},
		{"RSA 4096 via DER", viaPKIX(t, rsaPub(t, 4096)), lanyard.RSA4096},
		{"P-256", &p256.PublicKey, lanyard.ECP256},
		{"P-384", &p384.PublicKey, lanyard.ECP384},
		{"P-256 via DER", viaPKIX(t, &p256.PublicKey), lanyard.ECP256},
		{"P-384 via DER", viaPKIX(t, &p384.PublicKey), lanyard.ECP384},

		{"RSA 1024", rsaPub(t, 1024), ""},
		{"RSA 2047", rsaPub(t, 2047), ""},
		{"RSA 2049", rsaPub(t, 2049), ""},
		{"RSA 8192", rsaPub(t, 8192), ""},
		{"P-224", &p224.PublicKey, ""},
		{"P-521", &p521.PublicKey, ""},
		{"P-521 via DER", viaPKIX(t, &p521.PublicKey), ""},
		{"Ed25519", edPub, ""},
		{"Ed25519 via DER", viaPKIX(t, edPub), ""},
		{"X25519", x25519.PublicKey(), ""},
		{"RSA public key by value", *rsaPub(t, 2048), ""},
		{"ECDSA public key by value", p256.PublicKey, ""},
		{"RSA private key", realRSA, ""},
		{"ECDSA private key", p256, ""},
		{"nil", nil, ""},
		{"string", "rsa2048", ""},
	}
	for _, tt := range tests {
		if got := lanyard.KeyAlgorithmOf(tt.pub); got != tt.want {
			t.Errorf("%s: KeyAlgorithmOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestKeyAlgorithmValidIsRSA(t *testing.T) {
	tests := []struct {
		a            lanyard.KeyAlgorithm
		valid, isRSA bool
	}{
		{lanyard.RSA2048, true, true},
		{lanyard.RSA3072, true, true},
		{lanyard.RSA4096, true, true},
		{lanyard.ECP256, true, false},
		{lanyard.ECP384, true, false},
		{"", false, false},
		{"rsa1024", false, false},
		{"ecp521", false, false},
		{"ed25519", false, false},
		{"RSA2048", false, false},
	}
	for _, tt := range tests {
		if got := tt.a.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v, want %v", tt.a, got, tt.valid)
		}
		if got := tt.a.IsRSA(); got != tt.isRSA {
			t.Errorf("%q.IsRSA() = %v, want %v", tt.a, got, tt.isRSA)
		}
	}
	if len(lanyard.AllKeyAlgorithms) != 5 {
		t.Errorf("AllKeyAlgorithms = %q, want the 5 supported algorithms", lanyard.AllKeyAlgorithms)
	}
}
