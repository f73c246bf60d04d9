package emu

import (
	"crypto/rsa"
	"errors"
	"math/big"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// template is a parsed dynamic authentication template. present records
// which tags occurred, since an empty value (a request) differs from an
// absent one.
type template struct {
	present                                map[uint32]bool
	witness, challenge, response, exponent []byte
}

func (t template) has(tag uint32) bool { return t.present[tag] }

// parseTemplate decodes the data of GENERAL AUTHENTICATE: exactly one 7C
// holding each of 80, 81, 82 and 85 at most once and nothing else.
func parseTemplate(data []byte) (template, bool) {
	inner, err := apdu.Unwrap(data, pivspec.TagDynamicAuth)
	if err != nil {
		return template{}, false
	}
	tlvs, err := apdu.ParseTLVs(inner)
	if err != nil {
		return template{}, false
	}
	t := template{present: map[uint32]bool{}}
	for _, x := range tlvs {
		if t.present[x.Tag] {
			return template{}, false
		}
		t.present[x.Tag] = true
		switch x.Tag {
		case pivspec.TagWitness:
			t.witness = x.Value
		case pivspec.TagChallenge:
			t.challenge = x.Value
		case pivspec.TagResponse:
			t.response = x.Value
		case pivspec.TagExponent:
			t.exponent = x.Value
		default:
			return template{}, false
		}
	}
	return t, true
}

// dynamicAuth wraps response objects in a 7C template.
func dynamicAuth(tlvs ...apdu.TLV) []byte {
	return apdu.AppendTLV(nil, pivspec.TagDynamicAuth, apdu.AppendTLVs(nil, tlvs...))
}

// generalAuthenticate is GENERAL AUTHENTICATE (SP 800-73-4 Part 2,
// 3.2.4): P1 the algorithm, P2 the key reference, data a dynamic
// authentication template. 9B authenticates the management key; the
// asymmetric slots compute with their private key.
func (c *Card) generalAuthenticate(cmd apdu.Command) apdu.Response {
	t, ok := parseTemplate(cmd.Data)
	if !ok {
		c.sess.pending = nil
		return status(apdu.SWIncorrectData)
	}
	if cmd.P2 == SlotManagement {
		return c.authenticateManagement(cmd, t)
	}
	c.sess.pending = nil
	if !isKeySlot(cmd.P2) {
		return status(apdu.SWReferenceNotFound)
	}
	return c.privateKeyOperation(cmd, t)
}

// privateKeyOperation answers 7C { 82 00, 81 input } (a signature, or an
// RSA decryption) and 7C { 82 00, 85 point } (ECDH) with 7C { 82 result }
// (SP 800-73-4 Part 2, appendix A.3 to A.5). The slot's PIN policy decides
// whether the PIN must have been verified (6982 otherwise); a PIN-always
// key uses up the verification.
func (c *Card) privateKeyOperation(cmd apdu.Command, t template) apdu.Response {
	sk, ok := c.st.Keys[cmd.P2]
	if !ok {
		return status(apdu.SWReferenceNotFound)
	}
	if cmd.P1 != byte(sk.Algorithm) {
		return status(apdu.SWIncorrectP1P2)
	}
	if !t.has(pivspec.TagResponse) || len(t.response) != 0 || t.has(pivspec.TagWitness) || t.has(pivspec.TagChallenge) == t.has(pivspec.TagExponent) {
		return status(apdu.SWIncorrectData)
	}
	switch sk.PINPolicy {
	case pivspec.PINPolicyAlways:
		if !c.sess.pinFresh {
			return status(apdu.SWSecurityStatusNotSatisfied)
		}
	case pivspec.PINPolicyOnce:
		if !c.sess.pinVerified {
			return status(apdu.SWSecurityStatusNotSatisfied)
		}
	}
	key, err := c.key(cmd.P2)
	if err != nil {
		c.cfg.log.Error("emu: key store", "err", err)
		return status(apdu.SWNoPreciseDiagnosis)
	}

	var out []byte
	switch {
	case t.has(pivspec.TagExponent) && sk.Algorithm.IsEC():
		peer, err := ecdhCurveOf(sk.Algorithm).NewPublicKey(t.exponent)
		if err != nil {
			return status(apdu.SWIncorrectData)
		}
		out, err = key.ECDH(peer)
		if err != nil {
			return c.keyFailure(err)
		}
	case t.has(pivspec.TagChallenge) && sk.Algorithm.IsEC():
		if len(t.challenge) == 0 || len(t.challenge) > sk.Algorithm.ECBytes() {
			return status(apdu.SWIncorrectData)
		}
		out, err = key.SignECDSA(t.challenge)
		if err != nil {
			return c.keyFailure(err)
		}
	case t.has(pivspec.TagChallenge) && sk.Algorithm.IsRSA():
		if !rsaInputOK(key, t.challenge) {
			return status(apdu.SWIncorrectData)
		}
		if pk, ok := key.(PINKey); ok && c.st.Guard != nil {
			out, err = pk.RSAPrivateWithPIN(c.st.Guard.Data, c.sess.pin, t.challenge)
		} else {
			out, err = key.RSAPrivate(t.challenge)
		}
		if err != nil {
			return c.keyFailure(err)
		}
	default:
		return status(apdu.SWIncorrectData)
	}
	c.sess.pinFresh = false
	return success(dynamicAuth(apdu.TLV{Tag: pivspec.TagResponse, Value: out}))
}

// keyFailure logs a key store failure and answers its status word: 6A81
// for what the key store does not support (an algorithm, IMPORT KEY), 6982
// when a PIN guard refused the session's PIN (the security status is
// cleared), 6983 when the guard is locked out (a TPM's dictionary-attack
// lockout), 6F00 otherwise.
func (c *Card) keyFailure(err error) apdu.Response {
	switch {
	case errors.Is(err, ErrNotSupported):
		c.cfg.log.Warn("emu: the key store refused", "err", err)
		return status(apdu.SWFunctionNotSupported)
	case errors.Is(err, ErrWrongReference):
		c.cfg.log.Error("emu: the PIN guard refused the verified PIN for a key", "err", err)
		c.forgetPIN()
		return status(apdu.SWSecurityStatusNotSatisfied)
	case errors.Is(err, ErrLockedOut):
		c.cfg.log.Error("emu: the PIN guard refuses the key for now (TPM dictionary-attack lockout)", "err", err)
		return status(apdu.SWAuthBlocked)
	}
	c.cfg.log.Error("emu: private key operation failed", "err", err)
	return status(apdu.SWNoPreciseDiagnosis)
}

// rsaInputOK reports whether in is an input for the raw RSA operation of
// key: as long as the modulus and smaller than it.
func rsaInputOK(key Key, in []byte) bool {
	pub, ok := key.Public().(*rsa.PublicKey)
	return ok && len(in) == pub.Size() && new(big.Int).SetBytes(in).Cmp(pub.N) < 0
}
