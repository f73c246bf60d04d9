package agentproto

// PUK escrow (docs/lifecycle.md, "Offline unblock"): after an offline
// unblock of a standard PIV card, the workstation tool changes the card's
// released PUK to a fresh one sealed to the server's escrow public key
// (internal/pukescrow) and leaves it in the agent's state directory; the
// agent, presenting its client certificate, fetches the key and uploads
// what the tool left before each connection.
//
//	GET  /agent/v1/puk-escrow   → 200 PUKEscrowKey
//	POST /agent/v1/puk-escrow   PUKEscrow → 204
const PathPUKEscrow = "/agent/v1/puk-escrow"

// PUKEscrowKey is the server's escrow public key (X25519, RFC 9180
// serialization).
type PUKEscrowKey struct {
	PublicKey []byte `json:"public_key"`
}

// PUKEscrow is one roll-forward: the card, the challenge whose response
// released its old PUK, the new PUK sealed to the escrow key, and whether
// the card took it ("done") or the answer was lost ("unknown").
type PUKEscrow struct {
	Serial    string `json:"serial"`
	Challenge string `json:"challenge"`
	Sealed    []byte `json:"sealed"`
	Changed   string `json:"changed"`
}
