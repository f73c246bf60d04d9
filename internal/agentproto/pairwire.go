package agentproto

import (
	"encoding/binary"
	"time"
)

// The pairing endpoints of the agent listener (no client certificate):
//
//	POST /agent/v1/pair        PairRequest → 201 PairResponse
//	GET  /agent/v1/pair/{id}   headers ProofHeader, ProofTimeHeader → PairStatus
//
// and the connection:
//
//	GET /agent/v1/connect      client certificate, Upgrade: UpgradeToken → 101
const (
	PathPair        = "/agent/v1/pair"
	PathConnect     = "/agent/v1/connect"
	UpgradeToken    = "lanyard-agent/1"
	ProofHeader     = "Lanyard-Pairing-Proof"
	ProofTimeHeader = "Lanyard-Pairing-Time"
	// ProofWindow is how far the proof's time may be from the server's.
	ProofWindow = 5 * time.Minute
	// PollWait is how long the server holds a GET of the pairing status
	// open waiting for the confirmation.
	PollWait = 25 * time.Second
)

// PairRequest starts a pairing: a PKCS #10 request (DER) for the agent's
// ECDSA P-256 key, and what the agent says about its machine.
type PairRequest struct {
	CSR          []byte `json:"csr"`
	Hostname     string `json:"hostname"`
	AgentVersion string `json:"agent_version"`
	TPM          bool   `json:"tpm"`
	// Role is "aircard_service" for an AirCard service; empty for a
	// workstation.
	Role string `json:"role,omitempty"`
}

// PathAirCardJoin is where a paired workstation joins an AirCard with a
// connection code (client certificate required):
//
//	POST /agent/v1/aircard/join   AirCardJoin → 200 AirCardJoined
const PathAirCardJoin = "/agent/v1/aircard/join"

// AirCardJoin carries the connection code an operator gave the user.
type AirCardJoin struct {
	Code string `json:"code"`
}

// AirCardJoined names the AirCard the workstation may now use.
type AirCardJoined struct {
	Serial string `json:"serial"`
	Name   string `json:"name,omitempty"`
}

// PairResponse names the pending workstation. The code is not in it: the
// agent computes its own, and a code the server sent would prove nothing.
type PairResponse struct {
	ID        int64     `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Pairing states in PairStatus.
const (
	PairPending = "pending"
	PairActive  = "active"
	PairExpired = "expired" // start again with a new POST
	PairRevoked = "revoked"
)

// PairStatus is the answer to the poll: once active, the client
// certificate and the chain above it (issuing CA first, root last), DER.
type PairStatus struct {
	Status      string   `json:"status"`
	Certificate []byte   `json:"certificate,omitempty"`
	Chain       [][]byte `json:"chain,omitempty"`
}

// ProofMessage is what the agent signs (ECDSA with SHA-256, ASN.1) to
// fetch its pairing's outcome: a context string, the workstation ID and
// the Unix time, so that a proof cannot be used for another workstation
// or much later. Only the holder of the key in the CSR learns whether
// the code was confirmed; the certificate itself is public anyway.
func ProofMessage(workstationID, unixTime int64) []byte {
	b := []byte("lanyard-pair-poll-v1")
	b = binary.BigEndian.AppendUint64(b, uint64(workstationID))
	return binary.BigEndian.AppendUint64(b, uint64(unixTime))
}
