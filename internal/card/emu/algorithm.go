package emu

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Algorithm is a cryptographic algorithm identifier as PIV uses it in P1 of
// GENERAL AUTHENTICATE, in GENERATE ASYMMETRIC KEY PAIR and in the
// application property template; see pivspec for the values.
type Algorithm = pivspec.Algorithm

// asymmetric lists the key-pair algorithms the card supports, in the order
// the application property template announces them. YubiKey's Ed25519 and
// X25519 are not among them.
var asymmetric = []Algorithm{pivspec.AlgRSA1024, pivspec.AlgRSA2048, pivspec.AlgRSA3072, pivspec.AlgRSA4096, pivspec.AlgECCP256, pivspec.AlgECCP384}

// symmetric lists the management key algorithms.
var symmetric = []Algorithm{pivspec.Alg3DES, pivspec.AlgAES128, pivspec.AlgAES192, pivspec.AlgAES256}

// supportedKeyPair reports whether a is a key-pair algorithm the card
// supports.
func supportedKeyPair(a Algorithm) bool { return slices.Contains(asymmetric, a) }
