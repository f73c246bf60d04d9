package pivspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// Algorithm is a cryptographic mechanism identifier (SP 800-78-4 table
// 6-2, with YubiKey's additions): the P1 of GENERAL AUTHENTICATE, the
// algorithm (80) of GENERATE ASYMMETRIC KEY PAIR, the P1 of IMPORT KEY,
// tag 01 of GET METADATA and the entries of the application property
// template (SP 800-73-4 Part 2 3.1.1).
type Algorithm byte

// Algorithm identifiers.
const (
	Alg3DES    Algorithm = 0x03 // management key: 3-key Triple DES (TDEA), ECB
	AlgAES128  Algorithm = 0x08 // management key
	AlgAES192  Algorithm = 0x0A // management key
	AlgAES256  Algorithm = 0x0C // management key
	AlgRSA1024 Algorithm = 0x06
	AlgRSA2048 Algorithm = 0x07
	AlgRSA3072 Algorithm = 0x05 // SP 800-78-5; YubiKey 5.7
	AlgRSA4096 Algorithm = 0x16 // YubiKey 5.7
	AlgECCP256 Algorithm = 0x11
	AlgECCP384 Algorithm = 0x14
	AlgEd25519 Algorithm = 0xE0 // YubiKey 5.7
	AlgX25519  Algorithm = 0xE1 // YubiKey 5.7
	AlgPIN     Algorithm = 0xFF // YubiKey: GET METADATA of the PIN and PUK
)

// String returns a name such as "ECC P-256" or "AES-128", or the value in
// hex ("algorithm 42").
func (a Algorithm) String() string {
	switch a {
	case Alg3DES:
		return "3DES"
	case AlgAES128:
		return "AES-128"
	case AlgAES192:
		return "AES-192"
	case AlgAES256:
		return "AES-256"
	case AlgECCP256:
		return "ECC P-256"
	case AlgECCP384:
		return "ECC P-384"
	case AlgEd25519:
		return "Ed25519"
	case AlgX25519:
		return "X25519"
	case AlgPIN:
		return "PIN"
	}
	if n := a.RSABits(); n != 0 {
		return fmt.Sprintf("RSA %d", n)
	}
	return fmt.Sprintf("algorithm %02X", byte(a))
}

// IsRSA reports whether a is an RSA key-pair algorithm.
func (a Algorithm) IsRSA() bool { return a.RSABits() != 0 }

// IsEC reports whether a is an ECC key-pair algorithm on a NIST curve
// (ECDSA and ECDH, SP 800-78-4 3.1): P-256 or P-384. YubiKey's Ed25519
// and X25519 are not: they use other curves and other operations.
func (a Algorithm) IsEC() bool { return a == AlgECCP256 || a == AlgECCP384 }

// IsAsymmetric reports whether a is a key-pair algorithm: RSA, ECC,
// Ed25519 or X25519.
func (a Algorithm) IsAsymmetric() bool {
	return a.IsRSA() || a.IsEC() || a == AlgEd25519 || a == AlgX25519
}

// RSABits returns the modulus size of an RSA algorithm, 0 for others.
func (a Algorithm) RSABits() int {
	switch a {
	case AlgRSA1024:
		return 1024
	case AlgRSA2048:
		return 2048
	case AlgRSA3072:
		return 3072
	case AlgRSA4096:
		return 4096
	}
	return 0
}

// ECBytes returns the size of a field element of an ECC algorithm (32 for
// P-256, 48 for P-384), 0 for others.
func (a Algorithm) ECBytes() int {
	switch a {
	case AlgECCP256:
		return 32
	case AlgECCP384:
		return 48
	}
	return 0
}

// Curve returns the elliptic curve of an ECC algorithm, nil for others.
func (a Algorithm) Curve() elliptic.Curve {
	switch a {
	case AlgECCP256:
		return elliptic.P256()
	case AlgECCP384:
		return elliptic.P384()
	}
	return nil
}

// ManagementKeyLen returns the key length in bytes of a management key
// algorithm (SP 800-78-4 table 5-1: 24 for 3-key TDEA and AES-192, 16
// for AES-128, 32 for AES-256), 0 if a is not one.
func (a Algorithm) ManagementKeyLen() int {
	switch a {
	case Alg3DES, AlgAES192:
		return 24
	case AlgAES128:
		return 16
	case AlgAES256:
		return 32
	}
	return 0
}

// AlgorithmOf returns the RSA or ECC algorithm of a public key, and false
// for keys no PIV algorithm names (other sizes and curves, nil keys).
func AlgorithmOf(pub crypto.PublicKey) (Algorithm, bool) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return 0, false
		}
		switch k.N.BitLen() {
		case 1024:
			return AlgRSA1024, true
		case 2048:
			return AlgRSA2048, true
		case 3072:
			return AlgRSA3072, true
		case 4096:
			return AlgRSA4096, true
		}
	case *ecdsa.PublicKey:
		if k == nil {
			return 0, false
		}
		switch k.Curve {
		case elliptic.P256():
			return AlgECCP256, true
		case elliptic.P384():
			return AlgECCP384, true
		}
	}
	return 0, false
}
