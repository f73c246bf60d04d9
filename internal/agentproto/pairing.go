package agentproto

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// pairingContext separates the pairing code's hash from every other use
// of SHA-256 over the same bytes.
const pairingContext = "lanyard-pair-v1"

// PairingCode is the short authentication string of a pairing: the first
// 50 bits of SHA-256("lanyard-pair-v1" ‖ agent SPKI DER ‖ root CA DER), as
// 10 base32 characters (RFC 4648) shown XXXXX-XXXXX.
//
// The agent computes it from its own key and the root CA the server
// presented; the server from the key in the agent's CSR and its own root.
// A person confirming that both show the same code confirms both: a
// man in the middle who substitutes the agent's key (to get the
// certificate) or the root (to be trusted later) changes the hash, and
// would have to find a second key or root with the same 50 bits within the
// 15 minutes a code lives, about 2^49 key generations. Both inputs are DER
// SEQUENCEs that carry their own length, so the concatenation splits only
// one way.
func PairingCode(agentSPKI, rootDER []byte) string {
	h := sha256.New()
	h.Write([]byte(pairingContext))
	h.Write(agentSPKI)
	h.Write(rootDER)
	sum := h.Sum(nil)
	// 50 bits: the first 7 bytes give 56; the first 10 base32 digits of
	// them are exactly the first 50 bits.
	s := base32.StdEncoding.EncodeToString(sum[:7])[:10]
	return s[:5] + "-" + s[5:]
}

// NormalizePairingCode turns what a person typed into the canonical
// XXXXX-XXXXX form: case, spaces and dashes do not matter. ok is false
// when the rest is not 10 base32 characters.
func NormalizePairingCode(s string) (code string, ok bool) {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "", "\t", "").Replace(s))
	if len(s) != 10 {
		return "", false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	return s[:5] + "-" + s[5:], true
}

// HashPairingCode is what the server stores of a code: hex SHA-256 of its
// canonical form.
func HashPairingCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
