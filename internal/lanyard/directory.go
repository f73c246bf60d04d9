package lanyard

import "time"

// DirectorySource is one LDAP or Active Directory connection whose users
// Lanyard syncs (docs/directory.md, "Directory sources and sync"). Its
// users are SourceLDAP accounts with SourceID set to its ID.
type DirectorySource struct {
	ID   int64
	Name string
	// Kind picks the attribute presets: "ad" (Active Directory) or
	// "openldap" (OpenLDAP, 389 DS).
	Kind     string
	URL      string // ldap:// (with StartTLS) or ldaps://
	StartTLS bool
	// CAPEM is the PEM bundle the directory's TLS certificate is checked
	// against (empty: the system roots).
	CAPEM  string
	BindDN string
	// SealedBindPassword is the bind password sealed under the master key
	// (internal/seal); it is never returned by the API nor logged.
	SealedBindPassword []byte
	BaseDN             string
	UserFilter         string // RFC 4515 filter; empty: the preset's
	GroupFilter        string // RFC 4515 filter; empty: the preset's
	PageSize           int    // RFC 2696 page size; 0: the reader's default
	// Mapping is the attribute mapping as JSON (the reader's Mapping);
	// empty: the Kind's preset.
	Mapping string
	// SyncInterval is how often lanyard serve syncs the source (0: the
	// server's --directory-sync-interval).
	SyncInterval time.Duration
	// LeaverAction is what happens to a leaver's cards when their policy
	// does not say (WorkflowSettings.LeaverAction): "" or LeaverDisable,
	// or LeaverRevoke.
	LeaverAction LeaverAction
	Enabled      bool
	// SyncState is the reader's opaque incremental state after the last
	// completed sync (JSON; empty: the next sync is a full one).
	SyncState string
	// LastReport is the last completed sync's report (JSON), LastSyncAt
	// when it completed.
	LastReport string
	LastSyncAt time.Time
	// LastError says why the last sync that failed did, and when; a
	// completed sync clears it.
	LastError   string
	LastErrorAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LeaverAction is what happens to the cards of a user who left: disabled
// or removed in their directory (docs/directory.md, "Leavers").
type LeaverAction string

const (
	// LeaverDisable disables the cards (their certificates whose template
	// says so go on hold, RFC 5280 certificateHold): the default, since a
	// leaver who comes back, or was disabled by mistake, gets them back
	// by an operator's Enable.
	LeaverDisable LeaverAction = "disable"
	// LeaverRevoke revokes the cards for good with the card revocation
	// reason withdrawn, whose certificates are revoked with
	// affiliationChanged (RFC 5280 5.3.1; CardRevocationReason.CertReason):
	// RFC 5280 has no "withdrawn" reason, and affiliationChanged is the
	// one for a subject who left the organization, not a compromised key.
	LeaverRevoke LeaverAction = "revoke"
)

// ParseLeaverAction accepts "" (the default, disable), disable or revoke.
func ParseLeaverAction(s string) (LeaverAction, error) {
	switch LeaverAction(s) {
	case "":
		return "", nil
	case LeaverDisable, LeaverRevoke:
		return LeaverAction(s), nil
	}
	return "", Errorf(EInvalid, "leaver action %q: use disable or revoke", s)
}

// Or is a, or def when a is unset.
func (a LeaverAction) Or(def LeaverAction) LeaverAction {
	if a == "" {
		return def
	}
	return a
}

// DirectorySourceStore holds the directory sources.
type DirectorySourceStore interface {
	// CreateDirectorySource sets s.ID; EConflict when the name is taken.
	CreateDirectorySource(s *DirectorySource) error
	// UpdateDirectorySource writes s's settings (not its sync state nor
	// its last report); ENotFound, EConflict on a name clash.
	UpdateDirectorySource(s *DirectorySource) error
	// SetDirectorySync records a completed sync: the reader's state, the
	// report and when, and clears the last error; ENotFound when the
	// source is gone.
	SetDirectorySync(id int64, state, report string, at time.Time) error
	// SetDirectorySyncError records why a sync failed, and when;
	// ENotFound when the source is gone.
	SetDirectorySyncError(id int64, msg string, at time.Time) error
	DirectorySourceByID(id int64) (*DirectorySource, error)
	DirectorySourceByName(name string) (*DirectorySource, error)
	ListDirectorySources() ([]*DirectorySource, error)
	// DeleteDirectorySource removes the source; its users stay, as
	// SourceLDAP accounts whose SourceID is the deleted source's id
	// negated: no source, not even a new one given the same id, ever
	// matches them (ENotFound when there is no such source).
	DeleteDirectorySource(id int64) error
	// DirectoryUsers returns the external IDs and user IDs of source
	// id's accounts (a full sync's deletions are those it did not see).
	DirectoryUsers(id int64) (map[string]int64, error)
}
