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

// generate is GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2, 3.3.2),
// which needs the management key: P1 00, P2 the slot, data AC { 80
// algorithm } with Yubico's optional AA (PIN policy) and AB (touch policy).
// The new key replaces any in the slot; the answer is its public key in a
// 7F49 template: 81 modulus and 82 exponent, or 86 the uncompressed point.
func (c *Card) generate(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 || !isKeySlot(cmd.P2) {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	inner, err := apdu.Unwrap(cmd.Data, pivspec.TagKeyControl)
	if err != nil {
		return status(apdu.SWIncorrectData)
	}
	tlvs, err := apdu.ParseTLVs(inner)
	if err != nil {
		return status(apdu.SWIncorrectData)
	}
	var alg Algorithm
	var pin PINPolicy
	var touch TouchPolicy
	seen := map[uint32]bool{}
	for _, t := range tlvs {
		if seen[t.Tag] || len(t.Value) != 1 {
			return status(apdu.SWIncorrectData)
		}
		seen[t.Tag] = true
		switch t.Tag {
		case pivspec.TagAlgorithm:
			alg = Algorithm(t.Value[0])
		case pivspec.TagPINPolicy:
			pin = PINPolicy(t.Value[0])
		case pivspec.TagTouchPolicy:
			touch = TouchPolicy(t.Value[0])
		default:
			return status(apdu.SWIncorrectData)
		}
	}
	if !supportedKeyPair(alg) || pin > pivspec.PINPolicyAlways || touch > pivspec.TouchPolicyCached {
		return status(apdu.SWIncorrectData)
	}
	var key Key
	if g := c.guard(); g != nil {
		var ok bool
		if pin, ok = guardedPolicy(cmd.P2, pin); !ok {
			return status(apdu.SWIncorrectData)
		}
		key, err = g.GenerateForPIN(c.st.Guard.Data, alg)
	} else {
		key, err = c.cfg.keys.Generate(alg)
	}
	if err != nil {
		return c.keyFailure(err)
	}
	tmpl, err := publicKeyTemplate(key.Public())
	if err != nil {
		return c.keyFailure(err)
	}
	if sw := c.storeKey(cmd.P2, key, pin, touch, pivspec.OriginGenerated); sw != apdu.SWOK {
		return status(sw)
	}
	return success(tmpl)
}

// storeKey puts key in slot ref with its policies resolved, saves the
// state and destroys the key it replaced.
func (c *Card) storeKey(ref byte, key Key, pin PINPolicy, touch TouchPolicy, origin Origin) apdu.SW {
	blob, err := key.Blob()
	if err != nil {
		c.cfg.log.Error("emu: key blob", "err", err)
		return apdu.SWNoPreciseDiagnosis
	}
	pin, touch = resolvePolicies(ref, pin, touch)
	old, replaced := c.st.Keys[ref]
	c.st.Keys[ref] = SlotKey{Algorithm: key.Algorithm(), PINPolicy: pin, TouchPolicy: touch, Origin: origin, Blob: blob}
	if !c.commit() {
		return apdu.SWMemoryFailure
	}
	c.keys[ref] = key
	if replaced {
		c.destroy([]SlotKey{old})
	}
	return apdu.SWOK
}

// publicKeyTemplate encodes a public key as the 7F49 data object.
func publicKeyTemplate(pub crypto.PublicKey) ([]byte, error) {
	inner, err := publicKeyObjects(pub)
	if err != nil {
		return nil, err
	}
	return apdu.AppendTLV(nil, pivspec.TagPublicKey, inner), nil
}

// publicKeyObjects encodes the contents of 7F49 (SP 800-73-4 Part 2,
// 3.3.2 table 12): 81 modulus and 82 public exponent for RSA, 86 the
// uncompressed point (SEC 1, 2.3.3) for ECC. GET METADATA carries the
// same objects under its tag 04.
func publicKeyObjects(pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return apdu.AppendTLVs(nil,
			apdu.TLV{Tag: pivspec.TagRSAModulus, Value: p.N.Bytes()},
			apdu.TLV{Tag: pivspec.TagRSAExponent, Value: big.NewInt(int64(p.E)).Bytes()},
		), nil
	case *ecdsa.PublicKey:
		point, err := p.Bytes()
		if err != nil {
			return nil, err
		}
		return apdu.AppendTLV(nil, pivspec.TagECPoint, point), nil
	}
	return nil, fmt.Errorf("emu: cannot encode a %T public key", pub)
}
