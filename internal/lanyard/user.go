package lanyard

import "time"

// User is a person known to Lanyard: an employee who owns cards, or a staff
// member with extra roles. Groups drive policy assignment.
type User struct {
	ID           int64    `json:"id"`
	Login        string   `json:"login"`
	DisplayName  string   `json:"display_name"`
	Email        string   `json:"email,omitempty"`
	UPN          string   `json:"upn,omitempty"` // user principal name for smart card logon SANs
	ManagerEmail string   `json:"manager_email,omitempty"`
	Groups       []string `json:"groups"`
	Roles        Roles    `json:"roles"`
	Disabled     bool     `json:"disabled"`
	PasswordHash string   `json:"-"` // PHC-formatted argon2id hash; empty = no password login
	// Source says where the account comes from and who may change its
	// directory-owned fields (login, names, e-mail, UPN, manager, groups,
	// disabled): SourceLocal accounts are edited in Lanyard; the others
	// only by their source, through a sync or a push.
	Source UserSource `json:"source,omitempty"`
	// SourceID is the directory source (lanyard.DirectorySource) of an
	// SourceLDAP account; 0 otherwise.
	SourceID int64 `json:"source_id,omitempty"`
	// ExternalID is the account's immutable identifier at its source:
	// objectGUID on Active Directory, entryUUID on OpenLDAP and 389 DS,
	// the SCIM resource's id. A rename at the source keeps it, so the
	// account is matched by it, never by login (no silent merge).
	ExternalID string `json:"external_id,omitempty"`
	// DN is the directory entry's distinguished name, normalized as
	// internal/directory.NormalizeDN writes it (RFC 4514); policies linked
	// to a container match on it.
	DN string `json:"dn,omitempty"`
	// DisabledBy says who disabled the account while Disabled:
	// DisabledBySource (its directory or SCIM client: only the source
	// enables it again) or DisabledByAdmin (staff in Lanyard, allowed on
	// an account a source keeps so that a compromised or orphaned account
	// can be stopped at once: a sync or push that says "enabled" leaves
	// it disabled, and only staff enable it again). Empty for enabled
	// accounts and for local ones.
	DisabledBy string    `json:"disabled_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// UserSource is where an account is kept.
type UserSource string

// The sources of accounts.
const (
	SourceLocal UserSource = ""     // created in Lanyard (console, CLI, API)
	SourceLDAP  UserSource = "ldap" // synced from an LDAP or Active Directory source
	SourceSCIM  UserSource = "scim" // pushed by a SCIM 2.0 client (RFC 7644)
	SourceOIDC  UserSource = "oidc" // created just in time at a single sign-on
)

// Who disabled an account a source keeps (User.DisabledBy).
const (
	DisabledBySource = "source"
	DisabledByAdmin  = "admin"
)

// Valid reports whether s is a known source.
func (s UserSource) Valid() bool {
	switch s {
	case SourceLocal, SourceLDAP, SourceSCIM, SourceOIDC:
		return true
	}
	return false
}

// External reports whether the account's directory-owned fields belong
// to its source rather than to Lanyard's own editors.
func (u *User) External() bool { return u.Source == SourceLDAP || u.Source == SourceSCIM }

// UserFilter narrows ListUsers. Zero values match everything.
type UserFilter struct {
	Query  string // substring of login, display name or e-mail
	Group  string
	Role   Role
	Limit  int
	Offset int
}

// APIToken is a bearer credential for the API and CLI. Only the SHA-256 of
// the secret is stored; Prefix (the first characters of the secret) lets
// people recognise a token in listings without revealing it.
type APIToken struct {
	ID         int64     `json:"id"`
	UserID     int64     `json:"user_id"`
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"`
	Hash       []byte    `json:"-"`
	Roles      Roles     `json:"roles"` // scope: effective roles are these ∩ the owner's roles
	ExpiresAt  time.Time `json:"expires_at"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	Revoked    bool      `json:"revoked"`
}

// Session is a browser login. The cookie holds a random secret; only its
// SHA-256 is stored. CSRFToken is sent back by the page on unsafe requests.
type Session struct {
	Hash      []byte
	UserID    int64
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
	// SecondFactorAt is when the login's second factor (a code from the
	// authenticator app) was verified; zero for a password-only login,
	// which a staff account's session may not be.
	SecondFactorAt time.Time
}

// LoginChallenge is a login between its two factors: the password was
// right and the authenticator app's code (or its enrollment) is due. The
// browser holds a random secret in a cookie of its own; only its SHA-256
// is stored. It grants nothing but the second step, and only until
// ExpiresAt.
//
// Mode and Enrollment bind it to the second factor it was made for: Mode
// is the step due ("code" or "enroll"), Enrollment identifies the
// authenticator app enrollment it accepts (the SHA-256 of its sealed
// secret), so that a challenge cannot be used with an app set up after it.
type LoginChallenge struct {
	Hash       []byte
	UserID     int64
	Mode       string
	Enrollment []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// ValidLogin reports whether s is a login Lanyard accepts: 1 to 128
// ASCII letters, digits and - _ . @. One rule for every way an account
// arrives (created here, synced from a directory, pushed by SCIM, made at
// a single sign-on), so that no source brings a login the others refuse.
func ValidLogin(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@') {
			return false
		}
	}
	return true
}
