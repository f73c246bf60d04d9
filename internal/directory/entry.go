package directory

// Entry is one user as the directory describes it.
type Entry struct {
	// DN is the entry's distinguished name as the directory wrote it.
	DN string
	// ExternalID is the entry's stable identifier, unchanged when the
	// entry is renamed or moved: AD objectGUID as a canonical UUID string
	// (MS-DTYP 2.3.4.3; see ParseObjectGUID), OpenLDAP entryUUID (RFC 4530).
	ExternalID string
	// Login is the sign-in name (AD sAMAccountName, OpenLDAP uid).
	Login string
	// UPN is the user principal name (AD userPrincipalName); empty when
	// the directory has none or when two entries share it (see Problems).
	UPN         string
	DisplayName string
	Email       string
	// ManagerEmail is the mail of the entry the manager attribute names;
	// empty when there is none or it has no mail.
	ManagerEmail string
	// Groups holds the normalized DNs (NormalizeDN) of every group the
	// user is a member of, directly or through nested groups, sorted.
	Groups []string
	// Disabled: AD userAccountControl ACCOUNTDISABLE (0x2, MS-ADTS
	// 2.2.16); OpenLDAP/389 DS nsAccountLock=true or pwdAccountLockedTime
	// present (draft-behera-ldap-password-policy 5.3.3).
	Disabled bool
}

// Problem is something wrong with one entry that the reader did not
// silently repair: a duplicate UPN or login, an unreadable attribute, a
// manager that cannot be found.
type Problem struct {
	DN         string
	ExternalID string
	Message    string
}

// Snapshot is the result of a Full read.
type Snapshot struct {
	// Entries holds every user matching Config.UserFilter under
	// Config.BaseDN, sorted by ExternalID. Entries with a Problem are
	// still listed (a leaver must not appear because of a data error).
	Entries  []Entry
	Problems []Problem
	// State is handed to the next Incremental.
	State State
}

// Delta is the result of an Incremental read.
type Delta struct {
	// Changed holds new and changed users, and users whose transitive
	// groups or manager's mail changed, each as a whole Entry.
	Changed []Entry
	// Removed holds the ExternalIDs of users deleted from the directory
	// or gone out of scope (moved out of the base DN, no longer matching
	// the user filter). It may name IDs the caller never saw (a tombstone
	// of an object outside the filter); ignore those.
	Removed  []string
	Problems []Problem
}
