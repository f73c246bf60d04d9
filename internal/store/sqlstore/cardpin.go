package sqlstore

import (
	"database/sql"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const cardPINCols = `card_id, pin_tries_left, pin_tries_total, puk_tries_left, pin_blocked, reported_at, workstation_id`

var (
	qCardPINStatus    = prepared(`SELECT ` + cardPINCols + ` FROM card_pin_status WHERE card_id = ?`)
	qPutCardPINStatus = prepared(`INSERT INTO card_pin_status (` + cardPINCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (card_id) DO UPDATE SET pin_tries_left = excluded.pin_tries_left, pin_tries_total = excluded.pin_tries_total,
		puk_tries_left = excluded.puk_tries_left, pin_blocked = excluded.pin_blocked, reported_at = excluded.reported_at,
		workstation_id = excluded.workstation_id`)
)

func (t cardPINTx) CardPINStatus(cardID int64) (*lanyard.CardPINStatus, error) {
	var st lanyard.CardPINStatus
	var reported int64
	var ws sql.NullInt64
	err := t.row(qCardPINStatus, cardID).Scan(&st.CardID, &st.TriesLeft, &st.TriesTotal, &st.PUKTriesLeft, &st.Blocked, &reported, &ws)
	if err != nil {
		return nil, t.readErr(err, notFound("no PIN status of card %d is known", cardID))
	}
	st.ReportedAt, st.WorkstationID = fromMicros(reported), refOut(ws)
	return &st, nil
}

func (t cardPINTx) PutCardPINStatus(st *lanyard.CardPINStatus) error {
	p := st.PINState
	if p.TriesLeft < -1 || p.TriesLeft > 255 || p.TriesTotal < 0 || p.TriesTotal > 255 || p.PUKTriesLeft < -1 || p.PUKTriesLeft > 255 {
		return lanyard.Errorf(lanyard.EInvalid, "PIN status %+v of card %d is out of range", p, st.CardID)
	}
	st.ReportedAt = normTime(st.ReportedAt)
	_, err := t.exec(qPutCardPINStatus, st.CardID, p.TriesLeft, p.TriesTotal, p.PUKTriesLeft, st.Blocked, micros(st.ReportedAt), ref(st.WorkstationID))
	if err != nil {
		return t.writeErr(err, "", "the card or the workstation does not exist")
	}
	return nil
}
