package personalize

// The derivation of the per-card management key (see the package
// documentation): HKDF-SHA256 (RFC 5869) with the master secret as input
// keying material and an info string that binds the result to its
// purpose, the master secret's version, the key algorithm and the card
// identifier.

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MinMasterLen is the shortest master secret accepted (256 bits).
const MinMasterLen = 32

// label separates these keys from anything else ever derived from the
// same secret.
const label = "lanyard card admin key v1"

// Derive returns the management key of kind for the card identified by
// cardID (Identity.KeyIdent; LegacyCardID for cards taken over before
// issue 13) under master secret version.
func Derive(master []byte, version int, kind lanyard.AdminKeyKind, cardID []byte) ([]byte, error) {
	n := kind.KeyLen()
	switch {
	case n == 0:
		return nil, fmt.Errorf("personalize: unknown key kind %q", kind)
	case len(master) < MinMasterLen:
		return nil, fmt.Errorf("personalize: master secret must be at least %d bytes", MinMasterLen)
	case version < 1:
		return nil, fmt.Errorf("personalize: master secret version must be positive")
	case len(cardID) == 0 || len(cardID) > 64:
		return nil, fmt.Errorf("personalize: card identifier must be 1-64 bytes")
	}
	for attempt := uint32(0); attempt < 16; attempt++ {
		key, err := hkdf.Key(sha256.New, master, nil, info(version, kind, cardID, attempt), n)
		if err != nil {
			return nil, err
		}
		if kind != lanyard.AdminKey3DES {
			return key, nil
		}
		setOddParity(key)
		// Triple DES with two equal subkeys degenerates to single DES
		// (SP 800-67 3.3.1 requires three distinct keys for keying option 1).
		if !bytes.Equal(key[0:8], key[8:16]) && !bytes.Equal(key[8:16], key[16:24]) && !bytes.Equal(key[0:8], key[16:24]) {
			return key, nil
		}
	}
	return nil, fmt.Errorf("personalize: no usable Triple DES key after 16 attempts")
}

// info encodes the derivation context unambiguously (fixed-width fields
// before the variable-length identifier).
func info(version int, kind lanyard.AdminKeyKind, cardID []byte, attempt uint32) string {
	var b bytes.Buffer
	b.WriteString(label)
	b.WriteByte(0)
	b.WriteString(string(kind))
	b.WriteByte(0)
	binary.Write(&b, binary.BigEndian, uint32(version))
	binary.Write(&b, binary.BigEndian, attempt)
	b.Write(cardID)
	return b.String()
}

// setOddParity sets each byte's low bit so that the byte has odd parity,
// as DES keys are defined (FIPS 46-3); cards that check parity then accept
// the key.
func setOddParity(key []byte) {
	for i, b := range key {
		b &^= 1
		ones := 0
		for v := b; v != 0; v >>= 1 {
			ones += int(v & 1)
		}
		if ones%2 == 0 {
			b |= 1
		}
		key[i] = b
	}
}
