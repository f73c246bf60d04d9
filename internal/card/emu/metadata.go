package emu

import (
	"crypto/subtle"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
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
		isDefault := k.Algorithm == pivspec.Alg3DES && subtle.ConstantTimeCompare(k.Key, pivspec.DefaultManagementKey()) == 1
		return success(apdu.AppendTLVs(nil,
			apdu.TLV{Tag: pivspec.MetaAlgorithm, Value: []byte{byte(k.Algorithm)}},
			apdu.TLV{Tag: pivspec.MetaPolicy, Value: []byte{0x00, byte(touchOrNever(k.Touch))}},
			apdu.TLV{Tag: pivspec.MetaDefault, Value: []byte{boolByte(isDefault)}},
		))
	case ref == RefPIN || ref == RefPUK:
		ctr := c.counterFor(ref)
		return success(apdu.AppendTLVs(nil,
			apdu.TLV{Tag: pivspec.MetaAlgorithm, Value: []byte{0xFF}},
			apdu.TLV{Tag: pivspec.MetaDefault, Value: []byte{boolByte(c.referenceIsDefault(ref))}},
			apdu.TLV{Tag: pivspec.MetaRetries, Value: []byte{byte(ctr.reset), byte(*ctr.left)}},
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
			apdu.TLV{Tag: pivspec.MetaAlgorithm, Value: []byte{byte(sk.Algorithm)}},
			apdu.TLV{Tag: pivspec.MetaPolicy, Value: []byte{byte(sk.PINPolicy), byte(sk.TouchPolicy)}},
			apdu.TLV{Tag: pivspec.MetaOrigin, Value: []byte{byte(sk.Origin)}},
			apdu.TLV{Tag: pivspec.MetaPublicKey, Value: pub},
		))
	}
	return status(apdu.SWIncorrectP1P2)
}

func touchOrNever(t TouchPolicy) TouchPolicy {
	if t == pivspec.TouchPolicyDefault {
		return pivspec.TouchPolicyNever
	}
	return t
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
