package lanyard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"io"
	"slices"
)

// KeyAlgorithm names a key type and size as cards and templates use them.
type KeyAlgorithm string

const (
	RSA2048 KeyAlgorithm = "rsa2048"
	RSA3072 KeyAlgorithm = "rsa3072"
	RSA4096 KeyAlgorithm = "rsa4096"
	ECP256  KeyAlgorithm = "ecp256"
	ECP384  KeyAlgorithm = "ecp384"
)

// AllKeyAlgorithms lists every supported algorithm.
var AllKeyAlgorithms = []KeyAlgorithm{RSA2048, RSA3072, RSA4096, ECP256, ECP384}

// Valid reports whether a is a known algorithm.
func (a KeyAlgorithm) Valid() bool { return slices.Contains(AllKeyAlgorithms, a) }

// IsRSA reports whether a is an RSA algorithm.
func (a KeyAlgorithm) IsRSA() bool { return a == RSA2048 || a == RSA3072 || a == RSA4096 }

// KeyAlgorithmOf classifies a public key, or returns "" for keys Lanyard
// does not issue to (Ed25519, odd RSA sizes, other curves).
func KeyAlgorithmOf(pub any) KeyAlgorithm {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return ""
		}
		switch k.N.BitLen() {
		case 2048:
			return RSA2048
		case 3072:
			return RSA3072
		case 4096:
			return RSA4096
		}
	case *ecdsa.PublicKey:
		if k == nil {
			return ""
		}
		switch k.Curve {
		case elliptic.P256():
			return ECP256
		case elliptic.P384():
			return ECP384
		}
	}
	return ""
}

// GenerateKey makes a key pair of algorithm a in software, for the keys
// the server itself generates: CA keys and archived encryption keys.
// crypto/rsa and crypto/ecdsa draw from crypto/rand whatever rand is.
func GenerateKey(a KeyAlgorithm, rand io.Reader) (crypto.Signer, error) {
	switch a {
	case ECP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand)
	case ECP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand)
	case RSA2048:
		return rsa.GenerateKey(rand, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand, 3072)
	case RSA4096:
		return rsa.GenerateKey(rand, 4096)
	}
	return nil, Errorf(EInvalid, "unknown key algorithm %q", a)
}
