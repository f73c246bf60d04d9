package personalize

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestKeyAlg checks that every key algorithm Lanyard issues to names the
// PIV algorithm of the same keys, and that others are refused.
func TestKeyAlg(t *testing.T) {
	for _, k := range lanyard.AllKeyAlgorithms {
		alg, err := KeyAlg(k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		switch {
		case k.IsRSA():
			if !alg.IsRSA() || lanyard.KeyAlgorithmOf(modulusOf(alg.RSABits())) != k {
				t.Errorf("%s maps to %s", k, alg)
			}
		default:
			key, err := ecdsa.GenerateKey(alg.Curve(), rand.Reader)
			if err != nil || lanyard.KeyAlgorithmOf(&key.PublicKey) != k {
				t.Errorf("%s maps to %s (%v)", k, alg, err)
			}
		}
	}
	if _, err := KeyAlg("ed25519"); !errors.Is(err, piv.ErrUnsupported) {
		t.Errorf("KeyAlg(ed25519) = %v, want ErrUnsupported", err)
	}
}

// TestAdminAlg checks that every management key kind names a PIV
// management key algorithm of the kind's key length.
func TestAdminAlg(t *testing.T) {
	kinds := map[lanyard.AdminKeyKind]pivspec.Algorithm{
		lanyard.AdminKey3DES:   pivspec.Alg3DES,
		lanyard.AdminKeyAES128: pivspec.AlgAES128,
		lanyard.AdminKeyAES192: pivspec.AlgAES192,
		lanyard.AdminKeyAES256: pivspec.AlgAES256,
	}
	for kind, want := range kinds {
		alg, err := AdminAlg(kind)
		if err != nil || alg != want || alg.ManagementKeyLen() != kind.KeyLen() {
			t.Errorf("AdminAlg(%s) = %s, %v; want %s of %d bytes", kind, alg, err, want, kind.KeyLen())
		}
	}
	if _, err := AdminAlg("rc4"); !errors.Is(err, piv.ErrUnsupported) {
		t.Errorf("AdminAlg(rc4) = %v, want ErrUnsupported", err)
	}
}

// modulusOf returns an RSA public key whose modulus has bits bits; only
// its size matters here.
func modulusOf(bits int) *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
}
