package lanyard

import "time"

// ArchivedKeyState is where an archived key stands (docs/lifecycle.md,
// "Key archival").
type ArchivedKeyState string

const (
	// ArchivedKeyPending: the key pair was generated on the server and
	// archived, and no certificate for it is recorded yet (the issue that
	// asked for it has not reached the CA, or waits).
	ArchivedKeyPending ArchivedKeyState = "pending"
	// ArchivedKeyActive: the key's certificate is issued
	// (CertificateSerial); the key is recoverable.
	ArchivedKeyActive ArchivedKeyState = "active"
	// ArchivedKeyDiscarded: the issue that asked for the key ended before
	// a certificate was signed; the key was never used and its sealed
	// copy is erased.
	ArchivedKeyDiscarded ArchivedKeyState = "discarded"
)

// Valid reports whether s is a known state.
func (s ArchivedKeyState) Valid() bool {
	return s == ArchivedKeyPending || s == ArchivedKeyActive || s == ArchivedKeyDiscarded
}

// ArchivedKey is a private key generated on the server for a template
// with KeyArchival and kept sealed under a version of the key-recovery
// (KRA) key. An owner has several per template over time: the newest
// active one is the key of the current certificate, earlier ones go to
// the retired key slots (82-95) on recovery, newest first.
type ArchivedKey struct {
	ID      int64 `json:"id"`
	OwnerID int64 `json:"owner_id"`
	// CardID is the card the key was generated for.
	CardID int64 `json:"card_id"`
	// Template is the name of the template at archival (a template
	// deleted or renamed later does not lose its archived keys).
	Template  string       `json:"template"`
	Algorithm KeyAlgorithm `json:"key_algorithm"`
	// PublicKey is the key's SubjectPublicKeyInfo (DER), to match the
	// certificate and the card without opening the sealed key.
	PublicKey []byte `json:"public_key"`
	// CertificateSerial is the serial (hex) of the key's certificate;
	// empty while pending.
	CertificateSerial string `json:"certificate_serial,omitempty"`
	// KRAVersion is the version of the KRA key SealedKey is sealed
	// under.
	KRAVersion int              `json:"kra_version"`
	SealedKey  []byte           `json:"-"`
	State      ArchivedKeyState `json:"state"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

// KRAKey is one version of the key-recovery key: the key that seals
// archived private keys (internal/service/archive), itself sealed under
// the master key. Versions are never changed or deleted; the highest is
// current.
type KRAKey struct {
	Version   int       `json:"version"`
	SealedKey []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// ArchivedKeyStore holds the KRA key versions and the archived private
// keys sealed under them.
type ArchivedKeyStore interface {
	// CreateKRAKey records version k.Version; EConflict when that version
	// exists (two racing rotations: one of them fails, neither key is
	// overwritten).
	CreateKRAKey(k *KRAKey) error
	// KRAKey is one version; ENotFound when none.
	KRAKey(version int) (*KRAKey, error)
	// CurrentKRAKey is the highest version; ENotFound when there is none
	// yet.
	CurrentKRAKey() (*KRAKey, error)
	// CountArchivedKeysUnder counts the archived keys sealed under KRA
	// key version (every state but discarded).
	CountArchivedKeysUnder(version int) (int, error)
	// CreateArchivedKey records k (sets k.ID).
	CreateArchivedKey(k *ArchivedKey) error
	// UpdateArchivedKey writes k's certificate serial, KRA version,
	// sealed key, state and updated time.
	UpdateArchivedKey(k *ArchivedKey) error
	// ArchivedKeyByID is one archived key; ENotFound when none.
	ArchivedKeyByID(id int64) (*ArchivedKey, error)
	// ArchivedKeysOf lists owner's archived keys of template (every
	// template when ""), every state, newest first (created time, then
	// ID): the order in which recovery fills the current slot and then
	// the retired key slots.
	ArchivedKeysOf(ownerID int64, template string) ([]*ArchivedKey, error)
}
