package sqlstore

import (
	"database/sql"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qAddAirCardComputer    = prepared(`INSERT INTO aircard_computers (card_id, workstation_id, added_by, added_at) VALUES (?, ?, ?, ?)`)
	qRemoveAirCardComputer = prepared(`DELETE FROM aircard_computers WHERE card_id = ? AND workstation_id = ?`)
	qAirCardComputers      = prepared(`SELECT card_id, workstation_id, added_by, added_at FROM aircard_computers WHERE card_id = ? ORDER BY added_at, workstation_id`)
	qAirCardsAllowedOn     = prepared(`SELECT card_id FROM aircard_computers WHERE workstation_id = ? ORDER BY card_id`)
	qCreateAirCardCode     = prepared(`INSERT INTO aircard_codes (card_id, code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id`)
	qAirCardCodeByHash     = prepared(`SELECT id, card_id, code_hash, created_by, created_at, expires_at, used_at, used_by FROM aircard_codes WHERE code_hash = ?`)
	qUseAirCardCode        = prepared(`UPDATE aircard_codes SET used_at = ?, used_by = ? WHERE id = ? AND used_at = 0`)
)

const airCardMissing = "the card or the workstation does not exist"

func (t airCardsTx) AddAirCardComputer(c *lanyard.AirCardComputer) error {
	c.AddedAt = normTime(c.AddedAt)
	if _, err := t.exec(qAddAirCardComputer, c.CardID, c.WorkstationID, c.AddedBy, micros(c.AddedAt)); err != nil {
		return t.writeErr(err, "the computer is already allowed to use this AirCard", airCardMissing)
	}
	return nil
}

func (t airCardsTx) RemoveAirCardComputer(cardID, workstationID int64) error {
	res, err := t.exec(qRemoveAirCardComputer, cardID, workstationID)
	return t.one(res, err, notFound("workstation %d is not allowed to use card %d", workstationID, cardID), "", "")
}

func (t airCardsTx) AirCardComputers(cardID int64) ([]*lanyard.AirCardComputer, error) {
	rows, err := t.rows(qAirCardComputers, cardID)
	return collect(t.txn, rows, err, func(s scanner) (*lanyard.AirCardComputer, error) {
		var c lanyard.AirCardComputer
		var at int64
		if err := s.Scan(&c.CardID, &c.WorkstationID, &c.AddedBy, &at); err != nil {
			return nil, err
		}
		c.AddedAt = fromMicros(at)
		return &c, nil
	})
}

func (t airCardsTx) AirCardsAllowedOn(workstationID int64) ([]int64, error) {
	rows, err := t.rows(qAirCardsAllowedOn, workstationID)
	ids, err := collect(t.txn, rows, err, func(s scanner) (*int64, error) {
		var id int64
		return &id, s.Scan(&id)
	})
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		out = append(out, *id)
	}
	return out, err
}

func (t airCardsTx) CreateAirCardCode(c *lanyard.AirCardCode) error {
	c.CreatedAt, c.ExpiresAt = normTime(c.CreatedAt), normTime(c.ExpiresAt)
	if err := t.row(qCreateAirCardCode, c.CardID, c.CodeHash, c.CreatedBy, micros(c.CreatedAt), micros(c.ExpiresAt)).Scan(&c.ID); err != nil {
		return t.writeErr(err, "this connection code exists already", airCardMissing)
	}
	return nil
}

func (t airCardsTx) AirCardCodeByHash(hash string) (*lanyard.AirCardCode, error) {
	var c lanyard.AirCardCode
	var created, expires, used int64
	var by sql.NullInt64
	err := t.row(qAirCardCodeByHash, hash).Scan(&c.ID, &c.CardID, &c.CodeHash, &c.CreatedBy, &created, &expires, &used, &by)
	if err != nil {
		return nil, t.readErr(err, notFound("no such connection code"))
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt, c.UsedBy = fromMicros(created), fromMicros(expires), fromMicros(used), refOut(by)
	return &c, nil
}

func (t airCardsTx) UseAirCardCode(id, workstationID int64, at time.Time) error {
	res, err := t.exec(qUseAirCardCode, micros(normTime(at)), workstationID, id)
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "the connection code was used already"), "", "")
}
