package sqlstore

import (
	"database/sql"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const cardCols = `id, serial, card_type, owner_id, name, state, card_ident, admin_key_version, atr, workstation_id,
	issued_at, created_at, updated_at, guid, sealed_puk, puk_state, revocation_reason,
	offline_scheme, puk_released_at`

var (
	qInsertCard = prepared(`INSERT INTO cards (serial, card_type, owner_id, name, state, card_ident, admin_key_version, atr,
		workstation_id, issued_at, created_at, updated_at, guid, sealed_puk, puk_state, revocation_reason, offline_scheme, puk_released_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateCard = prepared(`UPDATE cards SET owner_id = ?, name = ?, state = ?, card_ident = ?, admin_key_version = ?, atr = ?,
		workstation_id = ?, issued_at = ?, updated_at = ?, guid = ?, sealed_puk = ?, puk_state = ?, revocation_reason = ?,
		offline_scheme = ?, puk_released_at = ? WHERE id = ?`)
	qCardByIdent  = prepared(`SELECT ` + cardCols + ` FROM cards WHERE (card_ident = ? AND card_ident <> '') OR (guid = ? AND guid <> '') ORDER BY id`)
	qCardByID     = prepared(`SELECT ` + cardCols + ` FROM cards WHERE id = ?`)
	qCardBySerial = prepared(`SELECT ` + cardCols + ` FROM cards WHERE card_type = ? AND serial = ?`)
	qCountCards   = prepared(`SELECT COUNT(*) FROM cards WHERE owner_id = ? AND state <> 'revoked'`)
)

const (
	cardMissing = "card refers to a user that does not exist"
	cardTaken   = "another card is already bound to this card's identifier or CHUID GUID"
)

func normCard(c *lanyard.Card) {
	c.ATR = bytesOut(c.ATR)
	c.IssuedAt, c.CreatedAt, c.UpdatedAt = normTime(c.IssuedAt), normTime(c.CreatedAt), normTime(c.UpdatedAt)
	c.PUKReleasedAt = normTime(c.PUKReleasedAt)
}

// checkCard refuses states the store does not know.
func checkCard(c *lanyard.Card) error {
	if !c.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "card state %q is not valid", c.State)
	}
	if !c.PUKState.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "card PUK state %q is not valid", c.PUKState)
	}
	return nil
}

func (t cardsTx) CreateCard(c *lanyard.Card) error {
	if err := checkCard(c); err != nil {
		return err
	}
	normCard(c)
	err := t.row(qInsertCard, c.Serial, c.CardType, ref(c.OwnerID), c.Name, string(c.State), c.CardID, c.AdminKeyVersion,
		blob(c.ATR), ref(c.WorkstationID), micros(c.IssuedAt), micros(c.CreatedAt), micros(c.UpdatedAt), c.GUID, blob(c.SealedPUK),
		string(c.PUKState), string(c.RevocationReason), c.OfflineScheme, micros(c.PUKReleasedAt)).Scan(&c.ID)
	if err != nil {
		return t.writeErr(err, "card "+c.Serial+" of type "+c.CardType+" is already registered (or "+cardTaken+")", cardMissing)
	}
	return nil
}

func (t cardsTx) UpdateCard(c *lanyard.Card) error {
	if err := checkCard(c); err != nil {
		return err
	}
	normCard(c)
	res, err := t.exec(qUpdateCard, ref(c.OwnerID), c.Name, string(c.State), c.CardID, c.AdminKeyVersion, blob(c.ATR),
		ref(c.WorkstationID), micros(c.IssuedAt), micros(c.UpdatedAt), c.GUID, blob(c.SealedPUK), string(c.PUKState), string(c.RevocationReason),
		c.OfflineScheme, micros(c.PUKReleasedAt), c.ID)
	return t.one(res, err, notFound("card %d not found", c.ID), cardTaken, cardMissing)
}

// CardsByIdentity returns the cards bound to the management key
// identifier ident (hex) or presenting the CHUID GUID guid (hex; "" matches
// none), oldest first: at most one card may own either.
func (t cardsTx) CardsByIdentity(ident, guid string) ([]*lanyard.Card, error) {
	rows, err := t.rows(qCardByIdent, ident, guid)
	return collect(t.txn, rows, err, scanCard)
}

func (t cardsTx) CardByID(id int64) (*lanyard.Card, error) {
	c, err := scanCard(t.row(qCardByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("card %d not found", id))
	}
	return c, nil
}

func (t cardsTx) CardBySerial(cardType, serial string) (*lanyard.Card, error) {
	c, err := scanCard(t.row(qCardBySerial, cardType, serial))
	if err != nil {
		return nil, t.readErr(err, notFound("card %s of type %s is not registered", serial, cardType))
	}
	return c, nil
}

// ListCards returns the cards matching f, oldest first.
func (t cardsTx) ListCards(f lanyard.CardFilter) ([]*lanyard.Card, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + cardCols + ` FROM cards WHERE 1 = 1`)
	if f.OwnerID != 0 {
		q.WriteString(` AND owner_id = ?`)
		args = append(args, f.OwnerID)
	}
	if f.State != "" {
		q.WriteString(` AND state = ?`)
		args = append(args, string(f.State))
	}
	if f.CardType != "" {
		q.WriteString(` AND card_type = ?`)
		args = append(args, f.CardType)
	}
	if f.WorkstationID != 0 {
		q.WriteString(` AND workstation_id = ?`)
		args = append(args, f.WorkstationID)
	}
	if f.PUKState != lanyard.PUKFactory {
		q.WriteString(` AND puk_state = ?`)
		args = append(args, string(f.PUKState))
	}
	if f.PINBlocked {
		q.WriteString(` AND id IN (SELECT card_id FROM card_pin_status WHERE pin_blocked = ?)`)
		args = append(args, true)
	}
	switch f.ContentStatus {
	case "":
	case lanyard.ContentNone:
		q.WriteString(` AND (state = 'revoked' OR id NOT IN (SELECT card_id FROM card_content WHERE status <> 'none'))`)
	default:
		q.WriteString(` AND state <> 'revoked' AND id IN (SELECT card_id FROM card_content WHERE status = ?)`)
		args = append(args, string(f.ContentStatus))
	}
	if f.Query != "" {
		q.WriteString(` AND (LOWER(serial) LIKE ? ESCAPE '\' OR LOWER(name) LIKE ? ESCAPE '\')`)
		like := "%" + escapeLike(strings.ToLower(f.Query)) + "%"
		args = append(args, like, like)
	}
	q.WriteString(` ORDER BY id`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanCard)
}

// CountCards counts ownerID's cards that still count against "maximum
// cards per user": every state but revoked.
func (t cardsTx) CountCards(ownerID int64) (int, error) {
	var n int
	if err := t.row(qCountCards, ownerID).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func scanCard(s scanner) (*lanyard.Card, error) {
	var c lanyard.Card
	var owner, ws sql.NullInt64
	var state, puk, reason string
	var issued, created, updated, released int64
	if err := s.Scan(&c.ID, &c.Serial, &c.CardType, &owner, &c.Name, &state, &c.CardID, &c.AdminKeyVersion, &c.ATR, &ws,
		&issued, &created, &updated, &c.GUID, &c.SealedPUK, &puk, &reason, &c.OfflineScheme, &released); err != nil {
		return nil, err
	}
	c.OwnerID, c.WorkstationID = refOut(owner), refOut(ws)
	c.State, c.PUKState, c.RevocationReason = lanyard.CardState(state), lanyard.PUKState(puk), lanyard.CardRevocationReason(reason)
	c.ATR, c.SealedPUK = bytesOut(c.ATR), bytesOut(c.SealedPUK)
	c.IssuedAt, c.CreatedAt, c.UpdatedAt = fromMicros(issued), fromMicros(created), fromMicros(updated)
	c.PUKReleasedAt = fromMicros(released)
	return &c, nil
}
