package lanyard

import "time"

// WorkstationStatus is where a workstation stands: paired agents are
// active; a pairing waits as pending until a person confirms its code;
// revoked workstations are refused for good.
type WorkstationStatus string

const (
	WorkstationPending WorkstationStatus = "pending"
	WorkstationActive  WorkstationStatus = "active"
	WorkstationRevoked WorkstationStatus = "revoked"
)

// Valid reports whether s is a known status.
func (s WorkstationStatus) Valid() bool {
	return s == WorkstationPending || s == WorkstationActive || s == WorkstationRevoked
}

// Workstation is a registered agent (docs/architecture.md, "The agent
// protocol"): a machine whose agent holds a key and a client certificate
// of the built-in CA, with which it authenticates its one connection to
// the server.
type Workstation struct {
	ID      int64             `json:"id"`
	Name    string            `json:"name"`     // the host name the agent reported
	OwnerID int64             `json:"owner_id"` // the user it belongs to; 0 = none
	Status  WorkstationStatus `json:"status"`
	// PublicKey is the agent key's DER SubjectPublicKeyInfo, from its
	// pairing request: the client certificate is issued for it once a
	// person confirms the code.
	PublicKey []byte `json:"-"`
	// KeySHA256 is the hex SHA-256 of PublicKey.
	KeySHA256 string `json:"key_sha256"`
	// CertSerial is the hex serial of its client certificate (lower case,
	// no leading zeros, like Certificate.Serial); empty until paired.
	CertSerial string `json:"cert_serial,omitempty"`
	// PairingCode is the hex SHA-256 of the pairing code while the
	// pairing waits; cleared once paired. The code itself is never stored.
	PairingCode string `json:"-"`
	// PairingExpiresAt ends the pending pairing's code; a renewed request
	// moves it.
	PairingExpiresAt time.Time `json:"pairing_expires_at,omitzero"`
	TPM              bool      `json:"tpm"`
	// Role tells the AirCard service, which pairs and connects like an
	// agent, from workstations. It is set at pairing and never changes.
	Role         WorkstationRole `json:"role"`
	AgentVersion string          `json:"agent_version"`
	CreatedAt    time.Time       `json:"created_at"`
	PairedAt     time.Time       `json:"paired_at,omitzero"`
	LastSeenAt   time.Time       `json:"last_seen_at,omitzero"`
}

// WorkstationFilter narrows ListWorkstations. Zero values match everything.
type WorkstationFilter struct {
	OwnerID int64
	Status  WorkstationStatus
	Limit   int
	Offset  int
}

// WorkstationRole is what a paired agent is.
type WorkstationRole string

const (
	RoleWorkstation    WorkstationRole = "workstation"
	RoleAirCardService WorkstationRole = "aircard_service" // hosts AirCards (issue 7)
)

// PairingRequest is an agent's request to pair, as the workstations
// capability checks and records it: the agent listener decodes it from
// the agent protocol's message, so the capability never reads wire
// types.
type PairingRequest struct {
	// CSR is a PKCS #10 request (DER) for the agent's ECDSA P-256 key:
	// the key the workstation's client certificate will certify.
	CSR          []byte
	Hostname     string // what the agent says the machine is called
	AgentVersion string
	TPM          bool // the agent found a usable TPM
	// Role is what the agent says it is; empty means a workstation. Any
	// other value than the known roles is refused.
	Role WorkstationRole
}

// PairingState is where an agent's pairing stands when it polls: the
// workstation's status, except that a pending pairing whose code lapsed
// is expired, which tells the agent to ask again with a new request.
type PairingState string

const (
	PairingPending PairingState = "pending"
	PairingActive  PairingState = "active"
	PairingExpired PairingState = "expired"
	PairingRevoked PairingState = "revoked"
)

// PairingOutcome answers an agent's pairing poll. Once active it carries
// what the agent needs to connect: its client certificate and the chain
// above it (issuing CA first, root last), DER.
type PairingOutcome struct {
	State       PairingState
	Certificate []byte
	Chain       [][]byte
}
