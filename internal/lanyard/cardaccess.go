package lanyard

import "context"

// CardAccess reaches cards at workstations: the live inventory that
// workstation agents report, and exclusive APDU sessions relayed through
// them (internal/agenthub implements it over the agent protocol). Card
// drivers run on the server; the agent only relays (docs/architecture.md).
type CardAccess interface {
	// Workstations returns the state of the connected workstations of
	// ownerID, or with ownerID 0 of every connected workstation and
	// AirCard service. A server keeps thousands connected (AirCards):
	// a user's page asks for their own only.
	Workstations(ownerID int64) []WorkstationState
	// AirCardServices returns the connected AirCard services (there may
	// be several, each hosting its own AirCards) with, of their readers
	// (one per AirCard, thousands), only those holding the AirCards with
	// these serials; ReaderCount tells how many each hosts.
	AirCardServices(serials []string) []WorkstationState
	// WorkstationState returns the state of one workstation, if it is
	// connected: a card operation needs only its own (Workstations costs
	// a copy of every connected workstation).
	WorkstationState(id int64) (WorkstationState, bool)
	// Open starts an exclusive session with the card in reader at the
	// workstation; no other application can use the card until Close.
	Open(ctx context.Context, workstationID int64, reader string) (CardSession, error)
	// CreateVirtual has the workstation's agent create a virtual card of
	// kind (TPM virtual smart card, platform credential) and attach it to
	// a reader; it returns that reader once the card shows in it.
	// When the card was made but could not be reached, the error comes
	// with its serial (for DestroyVirtual).
	CreateVirtual(ctx context.Context, workstationID int64, kind CardKind) (Reader, error)
	// DestroyVirtual has the agent that made a virtual card (CreateVirtual)
	// remove it: its reader goes and its state is deleted. The service
	// asks only for a card it could not register.
	DestroyVirtual(ctx context.Context, workstationID int64, serial string) error
	// AirCardsChanged tells the agents of the workstations that their
	// lists of AirCards changed (AirCardsFor): they connect new ones and
	// disconnect the others.
	AirCardsChanged(workstationIDs ...int64)
	// SoftwareKey has the workstation's agent make a key pair of alg for
	// a software store; the private key stays in the agent's memory under
	// the returned handle until SoftwareStore writes it (or it expires).
	SoftwareKey(ctx context.Context, workstationID int64, alg KeyAlgorithm) (SoftwareKey, error)
	// SoftwareStore has the agent write the key of a handle with its
	// certificate chain as PKCS#12 into the machine's or a user's store.
	SoftwareStore(ctx context.Context, workstationID int64, req SoftwareStoreRequest) (SoftwareStored, error)
}

// CardSession is an exclusive APDU session with one card. It is an
// apdu.Transport.
type CardSession interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
	Close() error
}

// WorkstationState is a workstation's live state, as its agent reports it
// to the server it is connected to. The JSON names are the agent hub's.
type WorkstationState struct {
	ID      int64    `json:"workstation_id"`
	Name    string   `json:"name"`
	OwnerID int64    `json:"owner_id"`
	Online  bool     `json:"online"`
	Readers []Reader `json:"readers"`
	// TPM is the agent's requirements check of the workstation's TPM
	// (nil: not reported yet).
	TPM *TPMState `json:"tpm,omitempty"`
	// VirtualSlots is how many more virtual cards the agent can attach.
	VirtualSlots int `json:"virtual_slots"`
	// Role tells an AirCard service from a workstation.
	Role WorkstationRole `json:"role"`
	// SoftwareStores are the software store scopes the agent can write
	// (ScopeMachine, ScopeUser); none from agents without the feature.
	SoftwareStores []string `json:"soft_stores,omitempty"`
	// ReaderCount is how many readers the agent reports, also when
	// Readers holds only some (an AirCard service: how many AirCards it
	// hosts).
	ReaderCount int `json:"reader_count"`
	// Replica is the ID of the cluster replica that holds the agent's
	// connection when it is not this one; empty: here. Card sessions
	// (Open) are made only there (ElsewhereError).
	Replica string `json:"replica,omitempty"`
}

// Reader is a card reader on a workstation and the card in it.
type Reader struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	ATR     []byte `json:"atr,omitempty"`
	// Serial is the card's serial (vendor serial in decimal, else the
	// CHUID GUID in hex); empty while unknown.
	Serial string `json:"serial,omitempty"`
	// PIN is the card's PIN status as the agent last read it; nil when
	// unknown.
	PIN *PINState `json:"pin,omitempty"`
}

// TPMState is whether a workstation has a usable TPM 2.0 and, if not, why;
// Manufacturer and Kind (device, swtpm, simulator) describe the one found.
type TPMState struct {
	Usable       bool   `json:"usable"`
	Reason       string `json:"reason,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Kind         string `json:"kind,omitempty"`
}

// SoftwareKey is a key pair an agent made for a software store: its
// public key (SubjectPublicKeyInfo, DER) and the handle of its private key.
type SoftwareKey struct {
	Handle    string
	PublicKey []byte
}

// Software store scopes.
const (
	ScopeMachine = "machine"
	ScopeUser    = "user"
)

// SoftwareStoreRequest asks an agent to write a software store: the key
// of Handle with Chain (DER, the key's certificate first) protected by
// Password, into the store of Scope (ScopeMachine, or ScopeUser of the
// local account of Account, a Lanyard login), in file Name (without
// extension). The password is never kept.
type SoftwareStoreRequest struct {
	Handle   string
	Chain    [][]byte
	Password string
	Scope    string
	Account  string
	Name     string
}

// SoftwareStored is where an agent wrote a software store, and whether
// it also went into the user's NSS database (NSSNote: why not).
type SoftwareStored struct {
	Path    string `json:"path"`
	NSS     bool   `json:"nss"`
	NSSNote string `json:"nss_note,omitempty"`
}

// CardArrival is a card that arrived in a reader of a connected
// workstation (or an AirCard service): the moment the server can finish
// what an earlier issue left undone. The agent hub reports arrivals; the
// card workflows handle them.
type CardArrival struct {
	WorkstationID int64
	Reader        Reader
	// PINOnly: the card was in the reader already; only its PIN status
	// (Reader.PIN) changed, so nothing but that is to be handled.
	PINOnly bool
}
