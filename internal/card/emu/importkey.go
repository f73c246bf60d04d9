package emu

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// importKey is IMPORT KEY (FE), which needs the management key: P1 the
// algorithm, P2 the slot (the attestation slot F9 included, to replace the
// card's attestation key), data the private key as simple TLVs:
//
//	RSA: 01 p, 02 q, 03 d mod (p−1), 04 d mod (q−1), 05 q⁻¹ mod p
//	ECC: 06 the private scalar
//
// followed by the optional AA (PIN policy) and AB (touch policy). The
// public exponent is 65537, as on YubiKeys. A key that does not add up is
// 6A80. On a card with a PINGuard (a TPM virtual card) a slot key is
// imported through the guard's PINImporter, bound to the PIN as a
// generated key is; a guard without one refuses (6A81).
func (c *Card) importKey(cmd apdu.Command) apdu.Response {
	alg := Algorithm(cmd.P1)
	if !supportedKeyPair(alg) || (!isKeySlot(cmd.P2) && cmd.P2 != SlotAttestation) {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	tlvs, err := apdu.ParseTLVs(cmd.Data)
	if err != nil {
		return status(apdu.SWIncorrectData)
	}
	parts := map[uint32][]byte{}
	var pin PINPolicy
	var touch TouchPolicy
	for _, t := range tlvs {
		if _, dup := parts[t.Tag]; dup {
			return status(apdu.SWIncorrectData)
		}
		parts[t.Tag] = t.Value
		switch t.Tag {
		case pivspec.TagPINPolicy, pivspec.TagTouchPolicy:
			if len(t.Value) != 1 {
				return status(apdu.SWIncorrectData)
			}
			if t.Tag == pivspec.TagPINPolicy {
				pin = PINPolicy(t.Value[0])
			} else {
				touch = TouchPolicy(t.Value[0])
			}
		case 0x01, 0x02, 0x03, 0x04, 0x05:
			if !alg.IsRSA() {
				return status(apdu.SWIncorrectData)
			}
		case 0x06:
			if !alg.IsEC() {
				return status(apdu.SWIncorrectData)
			}
		default:
			return status(apdu.SWIncorrectData)
		}
	}
	if pin > pivspec.PINPolicyAlways || touch > pivspec.TouchPolicyCached {
		return status(apdu.SWIncorrectData)
	}
	var priv crypto.Signer
	if alg.IsRSA() {
		if k := rsaFromCRT(alg, parts); k != nil {
			priv = k
		}
	} else if k := ecFromScalar(alg, parts[0x06]); k != nil {
		priv = k
	}
	if priv == nil {
		return status(apdu.SWIncorrectData)
	}
	var key Key
	if g := c.guard(); g != nil && cmd.P2 != SlotAttestation {
		// On a card whose PIN a guard holds, a slot key must need the
		// PIN like a generated one (guardedPolicy); a guard that cannot
		// import so refuses the key (6A81).
		imp, ok := g.(PINImporter)
		if !ok {
			return c.keyFailure(fmt.Errorf("emu: the PIN guard cannot import keys: %w", ErrNotSupported))
		}
		if pin, ok = guardedPolicy(cmd.P2, pin); !ok {
			return status(apdu.SWIncorrectData)
		}
		key, err = imp.ImportForPIN(c.st.Guard.Data, alg, priv)
	} else {
		key, err = c.cfg.keys.Import(alg, priv)
	}
	if err != nil {
		return c.keyFailure(err)
	}
	if sw := c.storeKey(cmd.P2, key, pin, touch, pivspec.OriginImported); sw != apdu.SWOK {
		return status(sw)
	}
	return success(nil)
}

// rsaFromCRT rebuilds an RSA key from its primes with e = 65537 and checks
// it against the CRT values the client sent; nil if anything is wrong.
func rsaFromCRT(alg Algorithm, parts map[uint32][]byte) *rsa.PrivateKey {
	half := alg.RSABits() / 16
	var v [5]*big.Int
	for i := range v {
		b, ok := parts[uint32(i+1)]
		if !ok || len(b) == 0 || len(b) > half {
			return nil
		}
		v[i] = new(big.Int).SetBytes(b)
	}
	p, q := v[0], v[1]
	one := big.NewInt(1)
	if p.Cmp(one) <= 0 || q.Cmp(one) <= 0 || p.Cmp(q) == 0 {
		return nil
	}
	n := new(big.Int).Mul(p, q)
	if n.BitLen() != alg.RSABits() {
		return nil
	}
	const e = 65537
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	d := new(big.Int).ModInverse(big.NewInt(e), phi)
	if d == nil {
		return nil
	}
	priv := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: n, E: e},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	if priv.Validate() != nil {
		return nil
	}
	priv.Precompute()
	pc := priv.Precomputed
	if pc.Dp == nil || pc.Dp.Cmp(v[2]) != 0 || pc.Dq.Cmp(v[3]) != 0 || pc.Qinv.Cmp(v[4]) != 0 {
		return nil
	}
	return priv
}

// ecFromScalar builds an EC key from its private scalar, left-padded to
// the field size; nil if it is not in [1, n−1].
func ecFromScalar(alg Algorithm, d []byte) *ecdsa.PrivateKey {
	size := alg.ECBytes()
	if len(d) == 0 || len(d) > size {
		return nil
	}
	padded := make([]byte, size)
	copy(padded[size-len(d):], d)
	priv, err := ecdsa.ParseRawPrivateKey(alg.Curve(), padded)
	if err != nil {
		return nil
	}
	return priv
}
