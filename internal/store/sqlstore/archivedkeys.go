package sqlstore

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const archivedKeyCols = `id, owner_id, card_id, template, key_algorithm, public_key, certificate_serial, kra_version, sealed_key, state, created_at, updated_at`

var (
	qCreateArchivedKey = prepared(`INSERT INTO archived_keys (owner_id, card_id, template, key_algorithm, public_key, certificate_serial, kra_version, sealed_key, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateArchivedKey = prepared(`UPDATE archived_keys SET certificate_serial = ?, kra_version = ?, sealed_key = ?, state = ?, updated_at = ? WHERE id = ?`)
	qArchivedKeyByID   = prepared(`SELECT ` + archivedKeyCols + ` FROM archived_keys WHERE id = ?`)
	qCreateKRAKey      = prepared(`INSERT INTO kra_keys (version, sealed_key, created_at) VALUES (?, ?, ?)`)
	qKRAKey            = prepared(`SELECT version, sealed_key, created_at FROM kra_keys WHERE version = ?`)
	qCurrentKRAKey     = prepared(`SELECT version, sealed_key, created_at FROM kra_keys ORDER BY version DESC LIMIT 1`)
	qCountUnderKRA     = prepared(`SELECT count(*) FROM archived_keys WHERE kra_version = ? AND state <> 'discarded'`)
	qArchivedKeysOf    = prepared(`SELECT ` + archivedKeyCols + ` FROM archived_keys WHERE owner_id = ? AND template = ? ORDER BY created_at DESC, id DESC`)
	qArchivedKeysOfAll = prepared(`SELECT ` + archivedKeyCols + ` FROM archived_keys WHERE owner_id = ? ORDER BY created_at DESC, id DESC`)
)

// archivedKeysTx is the archived keys' part of a transaction.
type archivedKeysTx struct{ *txn }

func (t archivedKeysTx) CreateKRAKey(k *lanyard.KRAKey) error {
	if k.Version < 1 {
		return lanyard.Errorf(lanyard.EInvalid, "KRA key version %d is not positive", k.Version)
	}
	k.CreatedAt = normTime(k.CreatedAt)
	if _, err := t.exec(qCreateKRAKey, k.Version, blob(k.SealedKey), micros(k.CreatedAt)); err != nil {
		return t.writeErr(err, fmt.Sprintf("KRA key version %d exists already (another rotation ran at the same time); try again", k.Version), "")
	}
	return nil
}

func (t archivedKeysTx) KRAKey(version int) (*lanyard.KRAKey, error) {
	k, err := scanKRAKey(t.row(qKRAKey, version))
	if err != nil {
		return nil, t.readErr(err, notFound("KRA key version %d not found", version))
	}
	return k, nil
}

func (t archivedKeysTx) CurrentKRAKey() (*lanyard.KRAKey, error) {
	k, err := scanKRAKey(t.row(qCurrentKRAKey))
	if err != nil {
		return nil, t.readErr(err, notFound("there is no KRA key yet"))
	}
	return k, nil
}

func (t archivedKeysTx) CountArchivedKeysUnder(version int) (int, error) {
	var n int
	if err := t.row(qCountUnderKRA, version).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func scanKRAKey(s scanner) (*lanyard.KRAKey, error) {
	var k lanyard.KRAKey
	var created int64
	if err := s.Scan(&k.Version, &k.SealedKey, &created); err != nil {
		return nil, err
	}
	k.SealedKey, k.CreatedAt = bytesOut(k.SealedKey), fromMicros(created)
	return &k, nil
}

func checkArchivedKey(k *lanyard.ArchivedKey) error {
	if !k.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "archived key state %q is not valid", k.State)
	}
	if k.KRAVersion < 1 {
		return lanyard.Errorf(lanyard.EInvalid, "archived key KRA version %d is not positive", k.KRAVersion)
	}
	return nil
}

func (t archivedKeysTx) CreateArchivedKey(k *lanyard.ArchivedKey) error {
	if err := checkArchivedKey(k); err != nil {
		return err
	}
	k.CreatedAt, k.UpdatedAt = normTime(k.CreatedAt), normTime(k.UpdatedAt)
	err := t.row(qCreateArchivedKey, k.OwnerID, k.CardID, k.Template, string(k.Algorithm), blob(k.PublicKey), k.CertificateSerial,
		k.KRAVersion, blob(k.SealedKey), string(k.State), micros(k.CreatedAt), micros(k.UpdatedAt)).Scan(&k.ID)
	if err != nil {
		return t.writeErr(err, "", "the owner, the card or the KRA key version of the archived key does not exist")
	}
	return nil
}

func (t archivedKeysTx) UpdateArchivedKey(k *lanyard.ArchivedKey) error {
	if err := checkArchivedKey(k); err != nil {
		return err
	}
	k.UpdatedAt = normTime(k.UpdatedAt)
	res, err := t.exec(qUpdateArchivedKey, k.CertificateSerial, k.KRAVersion, blob(k.SealedKey), string(k.State), micros(k.UpdatedAt), k.ID)
	return t.one(res, err, notFound("archived key %d not found", k.ID), "", "")
}

func (t archivedKeysTx) ArchivedKeyByID(id int64) (*lanyard.ArchivedKey, error) {
	k, err := scanArchivedKey(t.row(qArchivedKeyByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("archived key %d not found", id))
	}
	return k, nil
}

func (t archivedKeysTx) ArchivedKeysOf(ownerID int64, template string) ([]*lanyard.ArchivedKey, error) {
	if template == "" {
		rows, err := t.rows(qArchivedKeysOfAll, ownerID)
		return collect(t.txn, rows, err, scanArchivedKey)
	}
	rows, err := t.rows(qArchivedKeysOf, ownerID, template)
	return collect(t.txn, rows, err, scanArchivedKey)
}

func scanArchivedKey(s scanner) (*lanyard.ArchivedKey, error) {
	var k lanyard.ArchivedKey
	var alg, state string
	var created, updated int64
	if err := s.Scan(&k.ID, &k.OwnerID, &k.CardID, &k.Template, &alg, &k.PublicKey, &k.CertificateSerial, &k.KRAVersion, &k.SealedKey, &state, &created, &updated); err != nil {
		return nil, err
	}
	k.Algorithm, k.State = lanyard.KeyAlgorithm(alg), lanyard.ArchivedKeyState(state)
	k.PublicKey, k.SealedKey = bytesOut(k.PublicKey), bytesOut(k.SealedKey)
	k.CreatedAt, k.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &k, nil
}
