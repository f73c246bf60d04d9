package emu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/subtle"
	"io"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// challenge is a management key authentication in progress.
type challenge struct {
	// mutual: the card sent an encrypted witness and expects it back
	// decrypted with a challenge of the client's (SP 800-73-4 Part 2,
	// appendix A.2, mutual authentication). Otherwise the card sent a
	// challenge in clear and expects it back encrypted (appendix A.1,
	// external authentication).
	mutual bool
	value  []byte
}

// managementCipher returns the block cipher of the management key.
func managementCipher(k ManagementKey) (cipher.Block, error) {
	if k.Algorithm == pivspec.Alg3DES {
		return des.NewTripleDESCipher(k.Key)
	}
	return aes.NewCipher(k.Key)
}

// authenticateManagement runs GENERAL AUTHENTICATE with the management key
// 9B (SP 800-73-4 Part 2, 3.2.4 and appendix A). The challenges are one
// block of the key's cipher: 8 bytes for 3DES, 16 for AES.
//
//	7C { 80 00 }                 → 7C { 80 E(witness) }    mutual, step 1
//	7C { 80 witness, 81 chal }   → 7C { 82 E(chal) }       mutual, step 2
//	7C { 81 00 }                 → 7C { 81 challenge }     external, step 1
//	7C { 82 E(challenge) }       → 9000                    external, step 2
//
// Step 2 must follow step 1 immediately (6985 otherwise); a wrong witness
// or response is 6982 and ends the authentication. P1 is the key's
// algorithm, 6A86 for any other; P1 00 stands for the current algorithm,
// as OpenSC sends it when it uses step 1 as GET CHALLENGE (SP 800-73-3
// practice).
func (c *Card) authenticateManagement(cmd apdu.Command, t template) apdu.Response {
	key := c.st.ManagementKey
	if cmd.P1 != byte(key.Algorithm) && cmd.P1 != 0x00 {
		return status(apdu.SWIncorrectP1P2)
	}
	block, err := managementCipher(key)
	if err != nil {
		c.cfg.log.Error("emu: management key cipher", "err", err)
		return status(apdu.SWNoPreciseDiagnosis)
	}
	n := block.BlockSize()
	pending := c.sess.pending
	c.sess.pending = nil

	switch {
	case t.has(pivspec.TagWitness) && len(t.witness) == 0 && !t.has(pivspec.TagChallenge) && !t.has(pivspec.TagResponse) && !t.has(pivspec.TagExponent):
		w, err := c.random(n)
		if err != nil {
			return status(apdu.SWNoPreciseDiagnosis)
		}
		c.sess.mgmAuthenticated = false
		c.sess.pending = &challenge{mutual: true, value: w}
		enc := make([]byte, n)
		block.Encrypt(enc, w)
		return success(dynamicAuth(apdu.TLV{Tag: pivspec.TagWitness, Value: enc}))

	case t.has(pivspec.TagWitness) && t.has(pivspec.TagChallenge) && !t.has(pivspec.TagExponent) && len(t.response) == 0:
		if len(t.witness) != n || len(t.challenge) != n {
			return status(apdu.SWIncorrectData)
		}
		if pending == nil || !pending.mutual {
			return status(apdu.SWConditionsNotSatisfied)
		}
		if subtle.ConstantTimeCompare(t.witness, pending.value) != 1 {
			return status(apdu.SWSecurityStatusNotSatisfied)
		}
		c.sess.mgmAuthenticated = true
		enc := make([]byte, n)
		block.Encrypt(enc, t.challenge)
		return success(dynamicAuth(apdu.TLV{Tag: pivspec.TagResponse, Value: enc}))

	case t.has(pivspec.TagChallenge) && len(t.challenge) == 0 && !t.has(pivspec.TagWitness) && !t.has(pivspec.TagResponse) && !t.has(pivspec.TagExponent):
		ch, err := c.random(n)
		if err != nil {
			return status(apdu.SWNoPreciseDiagnosis)
		}
		c.sess.mgmAuthenticated = false
		c.sess.pending = &challenge{value: ch}
		return success(dynamicAuth(apdu.TLV{Tag: pivspec.TagChallenge, Value: ch}))

	case t.has(pivspec.TagResponse) && len(t.response) > 0 && !t.has(pivspec.TagWitness) && !t.has(pivspec.TagChallenge) && !t.has(pivspec.TagExponent):
		if len(t.response) != n {
			return status(apdu.SWIncorrectData)
		}
		if pending == nil || pending.mutual {
			return status(apdu.SWConditionsNotSatisfied)
		}
		want := make([]byte, n)
		block.Encrypt(want, pending.value)
		if subtle.ConstantTimeCompare(t.response, want) != 1 {
			return status(apdu.SWSecurityStatusNotSatisfied)
		}
		c.sess.mgmAuthenticated = true
		return success(nil)
	}
	return status(apdu.SWIncorrectData)
}

// random returns n bytes from the card's random source.
func (c *Card) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.cfg.rand, b); err != nil {
		c.cfg.log.Error("emu: random source failed", "err", err)
		return nil, err
	}
	return b, nil
}
