package emu

import (
	"crypto/subtle"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// Tags of the GET METADATA response (Yubico extension, firmware 5.3 on).
const (
	metaAlgorithm = 0x01 // algorithm; FF for the PIN and the PUK
	metaPolicy    = 0x02 // PIN policy, touch policy
	metaOrigin    = 0x03 // generated or imported
	metaPublicKey = 0x04 // the objects of a 7F49 template
	metaDefault   = 0x05 // 01: the factory value is still set
	metaRetries   = 0x06 // retry count, tries left
)

// getMetadata is GET METADATA (F7): P1 00, P2 a key reference.
//
//   - 9B: algorithm, policy (00, touch), default value;
//   - 80 and 81: algorithm FF, default value, retries;
//   - a key slot, attestation F9 included: algorithm, policy, origin,
//     public key; 6A88 when the slot is empty.
//
// piv-go reads the management key's algorithm from it, the first object.
func (c *Card) getMetadata(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		return status(apdu.SWWrongLength)
	}
	switch ref := cmd.P2; {
	case ref == SlotManagement:
		k := c.st.ManagementKey
		isDefault := k.Algorithm == Alg3DES && subtle.ConstantTimeCompare(k.Key, DefaultManagementKey) == 1
		return success(apdu.AppendTLVs(nil,
			apdu.TLV{Tag: metaAlgorithm, Value: []byte{byte(k.Algorithm)}},
			apdu.TLV{Tag: metaPolicy, Value: []byte{0x00, byte(touchOrNever(k.Touch))}},
			apdu.TLV{Tag: metaDefault, Value: []byte{boolByte(isDefault)}},
		))
	case ref == RefPIN || ref == RefPUK:
		ctr := c.counterFor(ref)
		return success(apdu.AppendTLVs(nil,
			apdu.TLV{Tag: metaAlgorithm, Value: []byte{0xFF}},
			apdu.TLV{Tag: metaDefault, Value: []byte{boolByte(c.referenceIsDefault(ref))}},
			apdu.TLV{Tag: metaRetries, Value: []byte{byte(ctr.reset), byte(*ctr.left)}},
		))
	case isKeySlot(ref) || ref == SlotAttestation:
		sk, ok := c.st.Keys[ref]
		if !ok {
			return status(apdu.SWReferenceNotFound)
		}
		key, err := c.key(ref)
		if err != nil {
			return c.keyFailure(err)
		}
		pub, err := publicKeyObjects(key.Public())
		if err != nil {
			return c.keyFailure(err)
		}
		return success(apdu.AppendTLVs(nil,
			apdu.TLV{Tag: metaAlgorithm, Value: []byte{byte(sk.Algorithm)}},
			apdu.TLV{Tag: metaPolicy, Value: []byte{byte(sk.PINPolicy), byte(sk.TouchPolicy)}},
			apdu.TLV{Tag: metaOrigin, Value: []byte{byte(sk.Origin)}},
			apdu.TLV{Tag: metaPublicKey, Value: pub},
		))
	}
	return status(apdu.SWIncorrectP1P2)
}

func touchOrNever(t TouchPolicy) TouchPolicy {
	if t == TouchPolicyDefault {
		return TouchPolicyNever
	}
	return t
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
