package emu

import "fmt"

// Algorithm is a cryptographic algorithm identifier as PIV uses it in P1 of
// GENERAL AUTHENTICATE, in GENERATE ASYMMETRIC KEY PAIR and in the
// application property template (SP 800-78-4 table 6-2, SP 800-73-4 Part 1
// 5.3). AlgRSA3072 and AlgRSA4096 are Yubico's identifiers.
type Algorithm byte

// The algorithms the card supports.
const (
	Alg3DES    Algorithm = 0x03 // management key: 3-key Triple-DES (TDEA)
	AlgRSA3072 Algorithm = 0x05 // Yubico
	AlgRSA1024 Algorithm = 0x06
	AlgRSA2048 Algorithm = 0x07
	AlgAES128  Algorithm = 0x08 // management key
	AlgAES192  Algorithm = 0x0A // management key
	AlgAES256  Algorithm = 0x0C // management key
	AlgECCP256 Algorithm = 0x11
	AlgECCP384 Algorithm = 0x14
	AlgRSA4096 Algorithm = 0x16 // Yubico
)

// asymmetric lists the key-pair algorithms, in the order the application
// property template announces them.
var asymmetric = []Algorithm{AlgRSA1024, AlgRSA2048, AlgRSA3072, AlgRSA4096, AlgECCP256, AlgECCP384}

// symmetric lists the management key algorithms.
var symmetric = []Algorithm{Alg3DES, AlgAES128, AlgAES192, AlgAES256}

// IsRSA reports whether a is an RSA key-pair algorithm.
func (a Algorithm) IsRSA() bool { return a.RSABits() != 0 }

// IsEC reports whether a is an elliptic-curve key-pair algorithm.
func (a Algorithm) IsEC() bool { return a == AlgECCP256 || a == AlgECCP384 }

// IsAsymmetric reports whether a is a key-pair algorithm the card supports.
func (a Algorithm) IsAsymmetric() bool { return a.IsRSA() || a.IsEC() }

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

// ECBytes returns the size of a field element of an EC algorithm (32 for
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

// managementKeyLen returns the key length of a management key algorithm
// and whether a is one.
func (a Algorithm) managementKeyLen() (int, bool) {
	switch a {
	case Alg3DES, AlgAES192:
		return 24, true
	case AlgAES128:
		return 16, true
	case AlgAES256:
		return 32, true
	}
	return 0, false
}

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
	}
	if n := a.RSABits(); n != 0 {
		return fmt.Sprintf("RSA %d", n)
	}
	return fmt.Sprintf("algorithm %02X", byte(a))
}
