package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The directory sources (lanyard.DirectorySourceStore; migration 0033).

const dirSourceCols = `id, name, kind, url, start_tls, ca_pem, bind_dn, bind_password, base_dn, user_filter, group_filter, page_size,
	mapping, sync_interval, leaver_action, enabled, sync_state, last_report, last_sync_at, last_error, last_error_at, created_at, updated_at`

var (
	qCreateDirSource = prepared(`INSERT INTO directory_sources (name, kind, url, start_tls, ca_pem, bind_dn, bind_password, base_dn,
		user_filter, group_filter, page_size, mapping, sync_interval, leaver_action, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateDirSource = prepared(`UPDATE directory_sources SET name = ?, kind = ?, url = ?, start_tls = ?, ca_pem = ?, bind_dn = ?,
		bind_password = ?, base_dn = ?, user_filter = ?, group_filter = ?, page_size = ?, mapping = ?, sync_interval = ?,
		leaver_action = ?, enabled = ?, updated_at = ? WHERE id = ?`)
	qSetDirSync      = prepared(`UPDATE directory_sources SET sync_state = ?, last_report = ?, last_sync_at = ?, last_error = '', last_error_at = 0 WHERE id = ?`)
	qSetDirSyncError = prepared(`UPDATE directory_sources SET last_error = ?, last_error_at = ? WHERE id = ?`)
	qDirSourceByID   = prepared(`SELECT ` + dirSourceCols + ` FROM directory_sources WHERE id = ?`)
	qDirSourceByName = prepared(`SELECT ` + dirSourceCols + ` FROM directory_sources WHERE name = ?`)
	qDirSources      = prepared(`SELECT ` + dirSourceCols + ` FROM directory_sources ORDER BY name`)
	qDeleteDirSource = prepared(`DELETE FROM directory_sources WHERE id = ?`)
	// A deleted source's users keep its id negated: no source has a
	// negative id, so none ever matches them, whatever ids the engine
	// hands out; and each deleted source's users stay apart (the unique
	// index on source, source_id and external_id).
	qDetachDirUsers = prepared(`UPDATE users SET source_id = -source_id WHERE source = 'ldap' AND source_id = ?`)
	qDirectoryUsers = prepared(`SELECT external_id, id FROM users WHERE source = 'ldap' AND source_id = ? AND external_id <> ''`)
)

// directorySourcesTx is the directory sources' part of a transaction.
type directorySourcesTx struct{ *txn }

func (t directorySourcesTx) CreateDirectorySource(s *lanyard.DirectorySource) error {
	s.CreatedAt, s.UpdatedAt = normTime(s.CreatedAt), normTime(s.UpdatedAt)
	err := t.row(qCreateDirSource, s.Name, s.Kind, s.URL, s.StartTLS, s.CAPEM, s.BindDN, bytesOrEmpty(s.SealedBindPassword), s.BaseDN,
		s.UserFilter, s.GroupFilter, s.PageSize, s.Mapping, int64(s.SyncInterval), string(s.LeaverAction), s.Enabled,
		micros(s.CreatedAt), micros(s.UpdatedAt)).Scan(&s.ID)
	if err != nil {
		return t.writeErr(err, "directory source "+quote(s.Name)+" already exists", "")
	}
	return nil
}

func (t directorySourcesTx) UpdateDirectorySource(s *lanyard.DirectorySource) error {
	s.UpdatedAt = normTime(s.UpdatedAt)
	res, err := t.exec(qUpdateDirSource, s.Name, s.Kind, s.URL, s.StartTLS, s.CAPEM, s.BindDN, bytesOrEmpty(s.SealedBindPassword), s.BaseDN,
		s.UserFilter, s.GroupFilter, s.PageSize, s.Mapping, int64(s.SyncInterval), string(s.LeaverAction), s.Enabled,
		micros(s.UpdatedAt), s.ID)
	return t.one(res, err, notFound("directory source %d not found", s.ID), "directory source "+quote(s.Name)+" already exists", "")
}

func (t directorySourcesTx) SetDirectorySync(id int64, state, report string, at time.Time) error {
	res, err := t.exec(qSetDirSync, state, report, micros(normTime(at)), id)
	return t.one(res, err, notFound("directory source %d not found", id), "", "")
}

func (t directorySourcesTx) SetDirectorySyncError(id int64, msg string, at time.Time) error {
	res, err := t.exec(qSetDirSyncError, msg, micros(normTime(at)), id)
	return t.one(res, err, notFound("directory source %d not found", id), "", "")
}

func (t directorySourcesTx) DirectorySourceByID(id int64) (*lanyard.DirectorySource, error) {
	s, err := scanDirSource(t.row(qDirSourceByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("directory source %d not found", id))
	}
	return s, nil
}

func (t directorySourcesTx) DirectorySourceByName(name string) (*lanyard.DirectorySource, error) {
	s, err := scanDirSource(t.row(qDirSourceByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("directory source %q not found", name))
	}
	return s, nil
}

func (t directorySourcesTx) ListDirectorySources() ([]*lanyard.DirectorySource, error) {
	rows, err := t.rows(qDirSources)
	return collect(t.txn, rows, err, scanDirSource)
}

func (t directorySourcesTx) DeleteDirectorySource(id int64) error {
	res, err := t.exec(qDeleteDirSource, id)
	if err := t.one(res, err, notFound("directory source %d not found", id), "", ""); err != nil {
		return err
	}
	if _, err := t.exec(qDetachDirUsers, id); err != nil {
		return t.writeErr(err, "", "")
	}
	return nil
}

func (t directorySourcesTx) DirectoryUsers(id int64) (map[string]int64, error) {
	rows, err := t.rows(qDirectoryUsers, id)
	if err != nil {
		return nil, t.readErr(err, nil)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var ext string
		var uid int64
		if err := rows.Scan(&ext, &uid); err != nil {
			return nil, t.readErr(err, nil)
		}
		out[ext] = uid
	}
	if err := rows.Err(); err != nil {
		return nil, t.readErr(err, nil)
	}
	return out, nil
}

// bytesOrEmpty keeps NOT NULL blob columns from receiving NULL.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func scanDirSource(r scanner) (*lanyard.DirectorySource, error) {
	var s lanyard.DirectorySource
	var interval, lastSync, lastErrAt, created, updated int64
	var leaver string
	if err := r.Scan(&s.ID, &s.Name, &s.Kind, &s.URL, &s.StartTLS, &s.CAPEM, &s.BindDN, &s.SealedBindPassword, &s.BaseDN, &s.UserFilter,
		&s.GroupFilter, &s.PageSize, &s.Mapping, &interval, &leaver, &s.Enabled, &s.SyncState, &s.LastReport, &lastSync,
		&s.LastError, &lastErrAt, &created, &updated); err != nil {
		return nil, err
	}
	s.SyncInterval, s.LeaverAction = time.Duration(interval), lanyard.LeaverAction(leaver)
	s.LastSyncAt, s.LastErrorAt, s.CreatedAt, s.UpdatedAt = fromMicros(lastSync), fromMicros(lastErrAt), fromMicros(created), fromMicros(updated)
	return &s, nil
}
