package emu

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
)

// errRSAInput means the block is not a valid input for the raw RSA
// operation: wrong length or not smaller than the modulus.
var errRSAInput = errors.New("emu: RSA input must have the modulus's length and be smaller than it")

// rawRSA computes block^d mod n, the raw RSA private-key operation that a
// PIV card performs for GENERAL AUTHENTICATE (SP 800-73-4 Part 2, appendix
// A.4: the client pads).
//
// crypto/rsa offers no raw operation, so this uses math/big, which is not
// constant-time. The input is blinded with a fresh random r (m = (c·r^e)^d ·
// r⁻¹), as crypto/rsa did before its constant-time rewrite, so the timing of
// the exponentiation is independent of the input; the CRT result is checked
// against the public key so that a fault cannot leak a prime factor.
func rawRSA(priv *rsa.PrivateKey, block []byte) ([]byte, error) {
	k := priv.Size()
	if len(block) != k {
		return nil, errRSAInput
	}
	n := priv.N
	c := new(big.Int).SetBytes(block)
	if c.Cmp(n) >= 0 {
		return nil, errRSAInput
	}
	e := big.NewInt(int64(priv.E))

	var r, rInv *big.Int
	for {
		var err error
		r, err = rand.Int(rand.Reader, n)
		if err != nil {
			return nil, err
		}
		if r.Sign() == 0 {
			continue
		}
		if rInv = new(big.Int).ModInverse(r, n); rInv != nil {
			break
		}
	}
	blinded := new(big.Int).Exp(r, e, n)
	blinded.Mul(blinded, c).Mod(blinded, n)

	m := decryptCRT(priv, blinded)
	m.Mul(m, rInv).Mod(m, n)

	if check := new(big.Int).Exp(m, e, n); check.Cmp(c) != 0 {
		return nil, errors.New("emu: RSA private-key operation failed its check")
	}
	return m.FillBytes(make([]byte, k)), nil
}

// decryptCRT computes c^d mod n with the Chinese remainder theorem when the
// key has two primes and its precomputed values, and directly otherwise.
func decryptCRT(priv *rsa.PrivateKey, c *big.Int) *big.Int {
	pc := priv.Precomputed
	if len(priv.Primes) != 2 || pc.Dp == nil || pc.Dq == nil || pc.Qinv == nil {
		return new(big.Int).Exp(c, priv.D, priv.N)
	}
	p, q := priv.Primes[0], priv.Primes[1]
	m1 := new(big.Int).Exp(c, pc.Dp, p)
	m2 := new(big.Int).Exp(c, pc.Dq, q)
	// h = qInv·(m1 − m2) mod p; m = m2 + h·q
	h := m1.Sub(m1, m2)
	h.Mul(h, pc.Qinv).Mod(h, p)
	h.Mul(h, q)
	return h.Add(h, m2)
}
