package piv

import (
	"crypto/elliptic"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Algorithm is a cryptographic mechanism identifier (SP 800-78-4 table
// 6-2, with YubiKey's additions): the P1 of GENERAL AUTHENTICATE and the
// algorithm of GENERATE ASYMMETRIC KEY PAIR, IMPORT KEY and GET METADATA.
type Algorithm byte

// Algorithm identifiers.
const (
	Alg3DES    Algorithm = 0x03 // 3-key Triple DES, ECB
	AlgAES128  Algorithm = 0x08
	AlgAES192  Algorithm = 0x0A
	AlgAES256  Algorithm = 0x0C
	AlgRSA1024 Algorithm = 0x06
	AlgRSA2048 Algorithm = 0x07
	AlgRSA3072 Algorithm = 0x05 // SP 800-78-5; YubiKey 5.7
	AlgRSA4096 Algorithm = 0x16 // YubiKey 5.7
	AlgECCP256 Algorithm = 0x11
	AlgECCP384 Algorithm = 0x14
	AlgEd25519 Algorithm = 0xE0 // YubiKey 5.7
	AlgX25519  Algorithm = 0xE1 // YubiKey 5.7
	AlgPIN     Algorithm = 0xFF // GET METADATA of the PIN and PUK
)

// String returns a name such as "ECC P-256" or "AES-128", or the value in
// hex.
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
	case AlgRSA1024:
		return "RSA 1024"
	case AlgRSA2048:
		return "RSA 2048"
	case AlgRSA3072:
		return "RSA 3072"
	case AlgRSA4096:
		return "RSA 4096"
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
	return fmt.Sprintf("algorithm %02X", byte(a))
}

// KeyAlgorithm returns the asymmetric key algorithm a names, or "" if
// Lanyard does not issue to it.
func (a Algorithm) KeyAlgorithm() lanyard.KeyAlgorithm {
	switch a {
	case AlgRSA2048:
		return lanyard.RSA2048
	case AlgRSA3072:
		return lanyard.RSA3072
	case AlgRSA4096:
		return lanyard.RSA4096
	case AlgECCP256:
		return lanyard.ECP256
	case AlgECCP384:
		return lanyard.ECP384
	}
	return ""
}

// AdminKeyKind returns the management key algorithm a names, or "".
func (a Algorithm) AdminKeyKind() lanyard.AdminKeyKind {
	switch a {
	case Alg3DES:
		return lanyard.AdminKey3DES
	case AlgAES128:
		return lanyard.AdminKeyAES128
	case AlgAES192:
		return lanyard.AdminKeyAES192
	case AlgAES256:
		return lanyard.AdminKeyAES256
	}
	return ""
}

// keyAlgorithm maps a Lanyard key algorithm to its identifier.
func keyAlgorithm(k lanyard.KeyAlgorithm) (Algorithm, error) {
	switch k {
	case lanyard.RSA2048:
		return AlgRSA2048, nil
	case lanyard.RSA3072:
		return AlgRSA3072, nil
	case lanyard.RSA4096:
		return AlgRSA4096, nil
	case lanyard.ECP256:
		return AlgECCP256, nil
	case lanyard.ECP384:
		return AlgECCP384, nil
	}
	return 0, fmt.Errorf("%w: key algorithm %q", ErrUnsupported, k)
}

// adminAlgorithm maps a management key kind to its identifier.
func adminAlgorithm(k lanyard.AdminKeyKind) (Algorithm, error) {
	switch k {
	case lanyard.AdminKey3DES:
		return Alg3DES, nil
	case lanyard.AdminKeyAES128:
		return AlgAES128, nil
	case lanyard.AdminKeyAES192:
		return AlgAES192, nil
	case lanyard.AdminKeyAES256:
		return AlgAES256, nil
	}
	return 0, fmt.Errorf("%w: management key kind %q", ErrUnsupported, k)
}

// rsaBits is the modulus size of an RSA algorithm, 0 for others.
func (a Algorithm) rsaBits() int {
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

// curve is the elliptic curve of an ECC algorithm, nil for others.
func (a Algorithm) curve() elliptic.Curve {
	switch a {
	case AlgECCP256:
		return elliptic.P256()
	case AlgECCP384:
		return elliptic.P384()
	}
	return nil
}
