package unblockcode

import (
	"crypto/hkdf"
	"crypto/sha256"
	"strconv"
)

// TPMKey derives the key of a SchemeLanyardTPM card's armed codes:
// HKDF-SHA256 (RFC 5869) of the card admin key master secret (version
// version), bound to the scheme, the version, the card's record and its
// serial. The card never holds it: the server arms the code
// ResponseMAC(key, serial, challenge) in the card's TPM (with the card's
// PUK) and derives it again to answer the challenge, so the code is
// stored nowhere on the server, and a TPM card on a shared or factory
// management key (a platform credential) still gets a code of its own.
func TPMKey(master []byte, version int, cardID int64, serial string) ([]byte, error) {
	info := "lanyard offline unblock tpm v1\x00" + strconv.Itoa(version) + "\x00" + strconv.FormatInt(cardID, 10) + "\x00" + serial
	return hkdf.Key(sha256.New, master, nil, info, 32)
}
