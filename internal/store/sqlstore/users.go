package sqlstore

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const userCols = `id, login, display_name, email, upn, manager_email, user_groups, roles, disabled, password_hash, created_at, updated_at, source, source_id, external_id, dn, disabled_by`

var (
	qInsertUser = prepared(`INSERT INTO users (login, display_name, email, upn, manager_email, user_groups, roles, disabled, password_hash, created_at, updated_at,
		source, source_id, external_id, dn, disabled_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateUser = prepared(`UPDATE users SET login = ?, display_name = ?, email = ?, upn = ?, manager_email = ?, user_groups = ?, roles = ?,
		disabled = ?, password_hash = ?, updated_at = ?, source = ?, source_id = ?, external_id = ?, dn = ?, disabled_by = ? WHERE id = ?`)
	// The external_id <> '' term lets both engines use the partial unique
	// index users_external (migration 0032).
	qUserByExternal = prepared(`SELECT ` + userCols + ` FROM users WHERE source = ? AND source_id = ? AND external_id = ? AND external_id <> ''`)
	qUserByID       = prepared(`SELECT ` + userCols + ` FROM users WHERE id = ?`)
	qUserByLogin    = prepared(`SELECT ` + userCols + ` FROM users WHERE login = ?`)
	// The upn <> '' term lets both engines use the partial index
	// users_upn_lower (migration 0009).
	qUserByUPN  = prepared(`SELECT ` + userCols + ` FROM users WHERE lower(upn) = lower(?) AND upn <> ''`)
	qCountUsers = prepared(`SELECT count(*) FROM users`)
	// upn_history (migration 0014) keys UPNs by lower(upn), as the
	// unique index users_upn_lower compares them.
	qUPNHolder     = prepared(`SELECT h.user_id, u.login FROM upn_history h JOIN users u ON u.id = h.user_id WHERE h.upn = lower(?)`)
	qInsertUPNHeld = prepared(`INSERT INTO upn_history (upn, user_id, first_held) VALUES (lower(?), ?, ?)`)
)

// normUser makes u what a read will return (see the package doc).
func normUser(u *lanyard.User) {
	u.Groups = nonNil(u.Groups)
	u.Roles = nonNil(u.Roles)
	u.CreatedAt, u.UpdatedAt = normTime(u.CreatedAt), normTime(u.UpdatedAt)
}

func (t usersTx) CreateUser(u *lanyard.User) error {
	normUser(u)
	if err := t.upnFree(u); err != nil {
		return err
	}
	groups, err := jsonList(u.Groups)
	if err != nil {
		return err
	}
	roles, err := jsonList(u.Roles)
	if err != nil {
		return err
	}
	err = t.row(qInsertUser, u.Login, u.DisplayName, u.Email, u.UPN, u.ManagerEmail, groups, roles,
		u.Disabled, u.PasswordHash, micros(u.CreatedAt), micros(u.UpdatedAt),
		string(u.Source), u.SourceID, u.ExternalID, u.DN, u.DisabledBy).Scan(&u.ID)
	if err != nil {
		return t.writeErr(err, "user "+quote(u.Login)+" already exists", "")
	}
	return t.holdUPN(u)
}

// upnFree refuses u's UPN when another user holds it or ever held it
// (upn_history), ignoring case. It reads before the write so that the clash gets its own message (the
// error code of a unique violation does not say which index) and leaves
// the transaction usable. The unique index users_upn_lower (migration
// 0009) still refuses a clash committed by a concurrent transaction in
// between (PostgreSQL; SQLite serializes writers), with the message of a
// login clash.
func (t usersTx) upnFree(u *lanyard.User) error {
	other, err := t.UserByUPN(u.UPN)
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		// Nobody holds it now; someone may have held it before: checked
		// below too, before the write, so that a refusal leaves no row.
	case err != nil:
		return err
	case other.ID != u.ID && other.Login != u.Login: // the same login clashes on the login
		return lanyard.Errorf(lanyard.EConflict, "UPN %q is already used by another user", u.UPN)
	}
	_, err = t.upnHolder(u)
	return err
}

// upnHolder says whether u's UPN is in upn_history already (held by u),
// and refuses it when it names another user: a UPN is tied for good to
// the first user who held it, so that no one moves it between users by
// clearing it on one and setting it on another (a smart card logon
// certificate issued for the new holder would reach the old holder's
// Windows account, and the old holder's certificates the new one's).
func (t usersTx) upnHolder(u *lanyard.User) (held bool, err error) {
	if u.UPN == "" {
		return false, nil
	}
	var id int64
	var login string
	switch err := t.row(qUPNHolder, u.UPN).Scan(&id, &login); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, t.readErr(err, nil)
	case id != u.ID && login != u.Login: // the same login clashes on the login
		return false, lanyard.Errorf(lanyard.EConflict, "UPN %q belonged to another user", u.UPN)
	}
	return true, nil
}

// holdUPN records u's UPN in upn_history unless it is there already. A
// concurrent transaction that recorded it for another user in between
// makes the insert fail on the primary key (PostgreSQL; SQLite
// serializes writers).
func (t usersTx) holdUPN(u *lanyard.User) error {
	held, err := t.upnHolder(u)
	if err != nil || held || u.UPN == "" {
		return err
	}
	_, err = t.exec(qInsertUPNHeld, u.UPN, u.ID, micros(u.UpdatedAt))
	if err != nil {
		return t.writeErr(err, "UPN "+quote(u.UPN)+" belonged to another user", "")
	}
	return nil
}

func (t usersTx) UpdateUser(u *lanyard.User) error {
	normUser(u)
	if err := t.upnFree(u); err != nil {
		return err
	}
	groups, err := jsonList(u.Groups)
	if err != nil {
		return err
	}
	roles, err := jsonList(u.Roles)
	if err != nil {
		return err
	}
	staff := 0
	if u.Roles.Staff() {
		staff = 1
	}
	if _, err := t.exec(qUnbindChangedUser, u.ID, u.ID, u.Login, u.Email, u.UPN, staff); err != nil {
		return t.writeErr(err, "", "")
	}
	res, err := t.exec(qUpdateUser, u.Login, u.DisplayName, u.Email, u.UPN, u.ManagerEmail, groups, roles,
		u.Disabled, u.PasswordHash, micros(u.UpdatedAt), string(u.Source), u.SourceID, u.ExternalID, u.DN, u.DisabledBy, u.ID)
	if err := t.one(res, err, notFound("user %d not found", u.ID), "user "+quote(u.Login)+" already exists", ""); err != nil {
		return err
	}
	return t.holdUPN(u)
}

func (t usersTx) UserByID(id int64) (*lanyard.User, error) {
	u, err := scanUser(t.row(qUserByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("user %d not found", id))
	}
	return u, nil
}

// LockUser reads the user's row with the engine's row lock (PostgreSQL
// runs transactions at READ COMMITTED, where two could otherwise both
// count a user's cards before either adds one); SQLite's writer lock
// (BEGIN IMMEDIATE) already serializes writers, so there it only checks
// that the user exists.
func (t usersTx) LockUser(id int64) error {
	return t.lockRow("users", id, notFound("user %d not found", id))
}

// LockCard is LockUser for a card (two issues of one AirCard, which takes
// several sessions at once).
func (t usersTx) LockCard(id int64) error {
	return t.lockRow("cards", id, notFound("card %d not found", id))
}

// lockRow reads row id of table with the engine's row lock.
func (t *txn) lockRow(table string, id int64, missing *lanyard.Error) error {
	if t.failed != nil {
		return t.aborted()
	}
	var got int64
	err := t.tx.QueryRowContext(t.ctx, t.d.Rebind(`SELECT id FROM `+table+` WHERE id = ? `+t.d.RowLock), id).Scan(&got)
	if err != nil {
		return t.readErr(err, missing)
	}
	return nil
}

func (t usersTx) UserByLogin(login string) (*lanyard.User, error) {
	u, err := scanUser(t.row(qUserByLogin, login))
	if err != nil {
		return nil, t.readErr(err, notFound("user %q not found", login))
	}
	return u, nil
}

func (t usersTx) UserByExternalID(source lanyard.UserSource, sourceID int64, externalID string) (*lanyard.User, error) {
	missing := notFound("no %s user with external ID %q", sourceName(source), externalID)
	if externalID == "" {
		return nil, missing
	}
	u, err := scanUser(t.row(qUserByExternal, string(source), sourceID, externalID))
	if err != nil {
		return nil, t.readErr(err, missing)
	}
	return u, nil
}

func sourceName(s lanyard.UserSource) string {
	if s == lanyard.SourceLocal {
		return "local"
	}
	return string(s)
}

func (t usersTx) UserByUPN(upn string) (*lanyard.User, error) {
	missing := notFound("no user has the UPN %q", upn)
	if upn == "" {
		return nil, missing
	}
	u, err := scanUser(t.row(qUserByUPN, upn))
	if err != nil {
		return nil, t.readErr(err, missing)
	}
	return u, nil
}

// ListUsers returns the users matching f, ordered by login. Query matches a
// case-insensitive (ASCII) substring of login, display name or e-mail.
func (t usersTx) ListUsers(f lanyard.UserFilter) ([]*lanyard.User, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + userCols + ` FROM users WHERE 1 = 1`)
	if f.Query != "" {
		q.WriteString(` AND (lower(login) LIKE lower(?) ESCAPE '\' OR lower(display_name) LIKE lower(?) ESCAPE '\' OR lower(email) LIKE lower(?) ESCAPE '\')`)
		p := "%" + escapeLike(f.Query) + "%"
		args = append(args, p, p, p)
	}
	if f.Group != "" {
		q.WriteString(` AND ` + t.d.JSONArrayContains("user_groups"))
		args = append(args, f.Group)
	}
	if f.Role != "" {
		q.WriteString(` AND ` + t.d.JSONArrayContains("roles"))
		args = append(args, string(f.Role))
	}
	q.WriteString(` ORDER BY login`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanUser)
}

func (t usersTx) CountUsers() (int, error) {
	var n int
	if err := t.row(qCountUsers).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func scanUser(r scanner) (*lanyard.User, error) {
	var u lanyard.User
	var groups, roles string
	var created, updated int64
	if err := r.Scan(&u.ID, &u.Login, &u.DisplayName, &u.Email, &u.UPN, &u.ManagerEmail, &groups, &roles,
		&u.Disabled, &u.PasswordHash, &created, &updated, &u.Source, &u.SourceID, &u.ExternalID, &u.DN, &u.DisabledBy); err != nil {
		return nil, err
	}
	var err error
	if u.Groups, err = listOut[[]string](groups, "users.user_groups"); err != nil {
		return nil, err
	}
	if u.Roles, err = listOut[lanyard.Roles](roles, "users.roles"); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}
