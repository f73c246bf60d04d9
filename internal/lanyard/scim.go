package lanyard

import (
	"strings"
	"time"
)

// SCIMToken is a bearer credential of a SCIM 2.0 client (RFC 7644
// section 2): Entra ID, Okta or another directory pushing users and
// groups to /scim/v2/. It belongs to no user and opens nothing but the
// SCIM endpoint; API tokens do not open that endpoint. Only the SHA-256
// of the secret is stored.
type SCIMToken struct {
	ID   int64  `json:"id"`
	Name string `json:"name"` // unique; the audit events' actor
	// Client is SCIMClient(Name), the client whose users and groups the
	// token manages (not stored: derived from the name).
	Client     string    `json:"client"`
	Prefix     string    `json:"prefix"`
	Hash       []byte    `json:"-"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	Revoked    bool      `json:"revoked"`
}

// SCIMUser is what Lanyard keeps of a SCIM-pushed account beyond the
// User: the client's own externalId and the SCIM attributes the User
// has no field for (the name's parts, every e-mail, the manager's id),
// as the client sent them, so that a GET returns what was written.
type SCIMUser struct {
	UserID int64
	// Client is the SCIM client that pushed the account (SCIMClient of
	// its token's name); no other client sees or changes it.
	Client     string
	ExternalID string // the client's externalId (not User.ExternalID, which is Lanyard's SCIM id)
	Attributes []byte // JSON object
	// Deleted says the client deleted the resource: the account stays,
	// disabled, and the endpoint no longer shows it (RFC 7644 section
	// 3.6).
	Deleted bool
}

// SCIMGroup is a group a SCIM client pushed. Its members' User.Groups
// hold its DisplayName, which is how policies link to it.
type SCIMGroup struct {
	ID          int64
	ResourceID  string // the SCIM id Lanyard assigned
	Client      string // the SCIM client that pushed it, as SCIMUser.Client
	DisplayName string // unique ignoring case
	ExternalID  string // the client's externalId
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SCIMStore holds SCIM tokens, the SCIM side of pushed accounts and
// SCIM groups with their members.
type SCIMStore interface {
	CreateSCIMToken(t *SCIMToken) error // sets t.ID; EConflict on a taken name
	SCIMTokenByHash(hash []byte) (*SCIMToken, error)
	SCIMTokenByID(id int64) (*SCIMToken, error)
	ListSCIMTokens() ([]*SCIMToken, error)
	RevokeSCIMToken(id int64) error
	TouchSCIMToken(id int64, at time.Time) error

	// PutSCIMUser writes the SCIM attributes of an account (insert or
	// replace).
	PutSCIMUser(u *SCIMUser) error
	SCIMUser(userID int64) (*SCIMUser, error)
	// UsersByLoginFold lists the accounts (any source) whose login is
	// login ignoring ASCII case, by id: SCIM's userName is
	// case-insensitive (RFC 7643 section 4.1.1), Lanyard's logins are
	// exact.
	UsersByLoginFold(login string) ([]*User, error)
	// ListSCIMUsers returns client's SCIM accounts that are not deleted,
	// with their attributes, in id order, from offset, at most limit (0:
	// all).
	ListSCIMUsers(client string, offset, limit int) ([]*User, []*SCIMUser, error)
	CountSCIMUsers(client string) (int, error)
	// SCIMUserIDsByExternalID lists client's accounts not deleted whose
	// client externalId is externalID.
	SCIMUserIDsByExternalID(client, externalID string) ([]int64, error)

	CreateSCIMGroup(g *SCIMGroup) error // sets g.ID; EConflict on a taken name or id
	UpdateSCIMGroup(g *SCIMGroup) error // name, externalId, updated
	DeleteSCIMGroup(id int64) error     // with its memberships
	SCIMGroupByResourceID(rid string) (*SCIMGroup, error)
	// SCIMGroupByName finds a group by display name ignoring case.
	SCIMGroupByName(name string) (*SCIMGroup, error)
	ListSCIMGroups(client string) ([]*SCIMGroup, error) // client's, by id
	AddSCIMGroupMember(groupID, userID int64) error     // no error when already a member
	RemoveSCIMGroupMember(groupID, userID int64) error
	SCIMGroupMembers(groupID int64) ([]*User, error) // by id
	SCIMGroupsOfUser(userID int64) ([]*SCIMGroup, error)
}

// SCIMClient is the SCIM client a token named name belongs to: the name
// up to the first '/'. Tokens "entra" and "entra/2027" are one client,
// so a replacement token manages what its predecessor pushed.
func SCIMClient(tokenName string) string {
	c, _, _ := strings.Cut(tokenName, "/")
	return c
}
