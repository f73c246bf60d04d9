package sqlstore

import (
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// scimTx is the SCIM provisioning part of a transaction (migration 0034).
type scimTx struct{ *txn }

const scimTokenCols = `id, name, prefix, hash, created_by, created_at, last_used_at, revoked`
const scimGroupCols = `id, resource_id, client, display_name, external_id, created_at, updated_at`

// scimUserCols are userCols read from users u joined to scim_users s.
var scimUserCols = "u." + strings.ReplaceAll(userCols, ", ", ", u.") + ", s.client, s.external_id, s.attributes"

var (
	qInsertSCIMToken = prepared(`INSERT INTO scim_tokens (name, prefix, hash, created_by, created_at, last_used_at, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qSCIMTokenByHash = prepared(`SELECT ` + scimTokenCols + ` FROM scim_tokens WHERE hash = ?`)
	qSCIMTokenByID   = prepared(`SELECT ` + scimTokenCols + ` FROM scim_tokens WHERE id = ?`)
	qListSCIMTokens  = prepared(`SELECT ` + scimTokenCols + ` FROM scim_tokens ORDER BY id`)
	qRevokeSCIMToken = prepared(`UPDATE scim_tokens SET revoked = ? WHERE id = ?`)
	qTouchSCIMToken  = prepared(`UPDATE scim_tokens SET last_used_at = ? WHERE id = ?`)

	qPutSCIMUser = prepared(`INSERT INTO scim_users (user_id, client, external_id, attributes, deleted) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET client = excluded.client, external_id = excluded.external_id, attributes = excluded.attributes, deleted = excluded.deleted`)
	qSCIMUser      = prepared(`SELECT user_id, client, external_id, attributes, deleted FROM scim_users WHERE user_id = ?`)
	qListSCIMUsers = prepared(`SELECT ` + scimUserCols + ` FROM users u JOIN scim_users s ON s.user_id = u.id
		WHERE u.source = ? AND s.client = ? AND s.deleted = ? ORDER BY u.id LIMIT ? OFFSET ?`)
	qCountSCIMUsers   = prepared(`SELECT count(*) FROM users u JOIN scim_users s ON s.user_id = u.id WHERE u.source = ? AND s.client = ? AND s.deleted = ?`)
	qUsersByLoginFold = prepared(`SELECT ` + userCols + ` FROM users WHERE lower(login) = lower(?) ORDER BY id`)
	qSCIMUsersByExtl  = prepared(`SELECT user_id FROM scim_users WHERE client = ? AND external_id = ? AND external_id <> '' AND deleted = ? ORDER BY user_id`)

	qInsertSCIMGroup = prepared(`INSERT INTO scim_groups (resource_id, client, display_name, external_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateSCIMGroup     = prepared(`UPDATE scim_groups SET display_name = ?, external_id = ?, updated_at = ? WHERE id = ?`)
	qDeleteSCIMGroup     = prepared(`DELETE FROM scim_groups WHERE id = ?`)
	qDeleteSCIMGroupMems = prepared(`DELETE FROM scim_group_members WHERE group_id = ?`)
	qSCIMGroupByRID      = prepared(`SELECT ` + scimGroupCols + ` FROM scim_groups WHERE resource_id = ?`)
	qSCIMGroupByName     = prepared(`SELECT ` + scimGroupCols + ` FROM scim_groups WHERE lower(display_name) = lower(?)`)
	qListSCIMGroups      = prepared(`SELECT ` + scimGroupCols + ` FROM scim_groups WHERE client = ? ORDER BY id`)
	qAddSCIMMember       = prepared(`INSERT INTO scim_group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`)
	qRemoveSCIMMember    = prepared(`DELETE FROM scim_group_members WHERE group_id = ? AND user_id = ?`)
	qSCIMGroupMembers    = prepared(`SELECT u.` + strings.ReplaceAll(userCols, ", ", ", u.") + ` FROM users u JOIN scim_group_members m ON m.user_id = u.id
		WHERE m.group_id = ? ORDER BY u.id`)
	qSCIMGroupsOfUser = prepared(`SELECT g.id, g.resource_id, g.client, g.display_name, g.external_id, g.created_at, g.updated_at
		FROM scim_groups g JOIN scim_group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.id`)
)

func (t scimTx) CreateSCIMToken(k *lanyard.SCIMToken) error {
	k.Hash, k.Client = bytesOut(k.Hash), lanyard.SCIMClient(k.Name)
	k.CreatedAt, k.LastUsedAt = normTime(k.CreatedAt), normTime(k.LastUsedAt)
	err := t.row(qInsertSCIMToken, k.Name, k.Prefix, blob(k.Hash), k.CreatedBy, micros(k.CreatedAt), micros(k.LastUsedAt), k.Revoked).Scan(&k.ID)
	if err != nil {
		return t.writeErr(err, "a SCIM token named "+quote(k.Name)+" exists", "")
	}
	return nil
}

func scanSCIMToken(r scanner) (*lanyard.SCIMToken, error) {
	var k lanyard.SCIMToken
	var created, used int64
	if err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedBy, &created, &used, &k.Revoked); err != nil {
		return nil, err
	}
	k.Hash, k.Client = bytesOut(k.Hash), lanyard.SCIMClient(k.Name)
	k.CreatedAt, k.LastUsedAt = fromMicros(created), fromMicros(used)
	return &k, nil
}

func (t scimTx) SCIMTokenByHash(hash []byte) (*lanyard.SCIMToken, error) {
	k, err := scanSCIMToken(t.row(qSCIMTokenByHash, blob(hash)))
	if err != nil {
		return nil, t.readErr(err, notFound("SCIM token not found"))
	}
	return k, nil
}

func (t scimTx) SCIMTokenByID(id int64) (*lanyard.SCIMToken, error) {
	k, err := scanSCIMToken(t.row(qSCIMTokenByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("SCIM token %d not found", id))
	}
	return k, nil
}

func (t scimTx) ListSCIMTokens() ([]*lanyard.SCIMToken, error) {
	rows, err := t.rows(qListSCIMTokens)
	return collect(t.txn, rows, err, scanSCIMToken)
}

func (t scimTx) RevokeSCIMToken(id int64) error {
	res, err := t.exec(qRevokeSCIMToken, true, id)
	return t.one(res, err, notFound("SCIM token %d not found", id), "", "")
}

func (t scimTx) TouchSCIMToken(id int64, at time.Time) error {
	res, err := t.exec(qTouchSCIMToken, micros(normTime(at)), id)
	return t.one(res, err, notFound("SCIM token %d not found", id), "", "")
}

func (t scimTx) PutSCIMUser(u *lanyard.SCIMUser) error {
	if len(u.Attributes) == 0 {
		u.Attributes = []byte("{}")
	}
	_, err := t.exec(qPutSCIMUser, u.UserID, u.Client, u.ExternalID, string(u.Attributes), u.Deleted)
	if err != nil {
		return t.writeErr(err, "", "SCIM attributes of a user that does not exist")
	}
	return nil
}

func scanSCIMUser(r scanner) (*lanyard.SCIMUser, error) {
	var s lanyard.SCIMUser
	var attrs string
	if err := r.Scan(&s.UserID, &s.Client, &s.ExternalID, &attrs, &s.Deleted); err != nil {
		return nil, err
	}
	s.Attributes = []byte(attrs)
	return &s, nil
}

func (t scimTx) SCIMUser(userID int64) (*lanyard.SCIMUser, error) {
	s, err := scanSCIMUser(t.row(qSCIMUser, userID))
	if err != nil {
		return nil, t.readErr(err, notFound("no SCIM attributes for user %d", userID))
	}
	return s, nil
}

func (t scimTx) ListSCIMUsers(client string, offset, limit int) ([]*lanyard.User, []*lanyard.SCIMUser, error) {
	if limit <= 0 {
		limit = 1 << 62 // no limit, in a form both engines take
	}
	rows, err := t.rows(qListSCIMUsers, string(lanyard.SourceSCIM), client, false, limit, max(offset, 0))
	if err != nil {
		return nil, nil, t.readErr(err, nil)
	}
	defer rows.Close()
	users, attrs := []*lanyard.User{}, []*lanyard.SCIMUser{}
	for rows.Next() {
		var u lanyard.User
		var s lanyard.SCIMUser
		var groups, roles, a string
		var created, updated int64
		if err := rows.Scan(&u.ID, &u.Login, &u.DisplayName, &u.Email, &u.UPN, &u.ManagerEmail, &groups, &roles,
			&u.Disabled, &u.PasswordHash, &created, &updated, &u.Source, &u.SourceID, &u.ExternalID, &u.DN, &u.DisabledBy, &s.Client, &s.ExternalID, &a); err != nil {
			return nil, nil, t.readErr(err, nil)
		}
		if u.Groups, err = listOut[[]string](groups, "users.user_groups"); err != nil {
			return nil, nil, t.fail(err)
		}
		if u.Roles, err = listOut[lanyard.Roles](roles, "users.roles"); err != nil {
			return nil, nil, t.fail(err)
		}
		u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
		s.UserID, s.Attributes = u.ID, []byte(a)
		users, attrs = append(users, &u), append(attrs, &s)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, t.readErr(err, nil)
	}
	return users, attrs, nil
}

func (t scimTx) CountSCIMUsers(client string) (int, error) {
	var n int
	if err := t.row(qCountSCIMUsers, string(lanyard.SourceSCIM), client, false).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func scanID(r scanner) (*int64, error) {
	var id int64
	err := r.Scan(&id)
	return &id, err
}

func ids(list []*int64, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(list))
	for i, p := range list {
		out[i] = *p
	}
	return out, nil
}

func (t scimTx) SCIMUserIDsByExternalID(client, externalID string) ([]int64, error) {
	rows, err := t.rows(qSCIMUsersByExtl, client, externalID, false)
	return ids(collect(t.txn, rows, err, scanID))
}

func (t scimTx) CreateSCIMGroup(g *lanyard.SCIMGroup) error {
	g.CreatedAt, g.UpdatedAt = normTime(g.CreatedAt), normTime(g.UpdatedAt)
	err := t.row(qInsertSCIMGroup, g.ResourceID, g.Client, g.DisplayName, g.ExternalID, micros(g.CreatedAt), micros(g.UpdatedAt)).Scan(&g.ID)
	if err != nil {
		return t.writeErr(err, "a group named "+quote(g.DisplayName)+" exists", "")
	}
	return nil
}

func (t scimTx) UpdateSCIMGroup(g *lanyard.SCIMGroup) error {
	g.UpdatedAt = normTime(g.UpdatedAt)
	res, err := t.exec(qUpdateSCIMGroup, g.DisplayName, g.ExternalID, micros(g.UpdatedAt), g.ID)
	return t.one(res, err, notFound("group %d not found", g.ID), "a group named "+quote(g.DisplayName)+" exists", "")
}

func (t scimTx) DeleteSCIMGroup(id int64) error {
	if _, err := t.exec(qDeleteSCIMGroupMems, id); err != nil {
		return t.writeErr(err, "", "")
	}
	res, err := t.exec(qDeleteSCIMGroup, id)
	return t.one(res, err, notFound("group %d not found", id), "", "")
}

func scanSCIMGroup(r scanner) (*lanyard.SCIMGroup, error) {
	var g lanyard.SCIMGroup
	var created, updated int64
	if err := r.Scan(&g.ID, &g.ResourceID, &g.Client, &g.DisplayName, &g.ExternalID, &created, &updated); err != nil {
		return nil, err
	}
	g.CreatedAt, g.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &g, nil
}

func (t scimTx) SCIMGroupByResourceID(rid string) (*lanyard.SCIMGroup, error) {
	g, err := scanSCIMGroup(t.row(qSCIMGroupByRID, rid))
	if err != nil {
		return nil, t.readErr(err, notFound("group %s not found", rid))
	}
	return g, nil
}

func (t scimTx) SCIMGroupByName(name string) (*lanyard.SCIMGroup, error) {
	g, err := scanSCIMGroup(t.row(qSCIMGroupByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("group %s not found", quote(name)))
	}
	return g, nil
}

func (t scimTx) ListSCIMGroups(client string) ([]*lanyard.SCIMGroup, error) {
	rows, err := t.rows(qListSCIMGroups, client)
	return collect(t.txn, rows, err, scanSCIMGroup)
}

func (t scimTx) AddSCIMGroupMember(groupID, userID int64) error {
	_, err := t.exec(qAddSCIMMember, groupID, userID)
	if err != nil {
		return t.writeErr(err, "", "the group or the user does not exist")
	}
	return nil
}

func (t scimTx) RemoveSCIMGroupMember(groupID, userID int64) error {
	_, err := t.exec(qRemoveSCIMMember, groupID, userID)
	if err != nil {
		return t.writeErr(err, "", "")
	}
	return nil
}

func (t scimTx) SCIMGroupMembers(groupID int64) ([]*lanyard.User, error) {
	rows, err := t.rows(qSCIMGroupMembers, groupID)
	return collect(t.txn, rows, err, scanUser)
}

func (t scimTx) SCIMGroupsOfUser(userID int64) ([]*lanyard.SCIMGroup, error) {
	rows, err := t.rows(qSCIMGroupsOfUser, userID)
	return collect(t.txn, rows, err, scanSCIMGroup)
}

func (t scimTx) UsersByLoginFold(login string) ([]*lanyard.User, error) {
	rows, err := t.rows(qUsersByLoginFold, login)
	us, err := collect(t.txn, rows, err, scanUser)
	if err != nil {
		return nil, err
	}
	// lower() folds beyond ASCII on PostgreSQL; the rule is ASCII.
	out := us[:0]
	for _, u := range us {
		if asciiFold(u.Login, login) {
			out = append(out, u)
		}
	}
	return out, nil
}

// asciiFold reports whether a and b are equal ignoring ASCII case.
func asciiFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
