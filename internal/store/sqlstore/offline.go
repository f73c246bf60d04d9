package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const offlineUnblockCols = `id, card_id, scheme, counter, nonce, channel, actor_id, answers_checked, created_at`

var (
	qCreateOfflineUnblock = prepared(`INSERT INTO offline_unblocks (card_id, scheme, counter, nonce, channel, actor_id, answers_checked, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qOfflineUnblocksOf = prepared(`SELECT ` + offlineUnblockCols + ` FROM offline_unblocks WHERE card_id = ? ORDER BY created_at, id`)
)

func (t offlineUnblocksTx) CreateOfflineUnblock(u *lanyard.OfflineUnblock) error {
	u.CreatedAt = normTime(u.CreatedAt)
	err := t.row(qCreateOfflineUnblock, u.CardID, u.Scheme, u.Counter, u.Nonce, u.Channel, u.ActorID, u.AnswersChecked, micros(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		return t.writeErr(err, "this challenge was answered already; read a new challenge from the card", "the card or the user does not exist")
	}
	return nil
}

func (t offlineUnblocksTx) OfflineUnblocksOf(cardID int64) ([]*lanyard.OfflineUnblock, error) {
	rows, err := t.rows(qOfflineUnblocksOf, cardID)
	return collect(t.txn, rows, err, scanOfflineUnblock)
}

func scanOfflineUnblock(r scanner) (*lanyard.OfflineUnblock, error) {
	var u lanyard.OfflineUnblock
	var created int64
	if err := r.Scan(&u.ID, &u.CardID, &u.Scheme, &u.Counter, &u.Nonce, &u.Channel, &u.ActorID, &u.AnswersChecked, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = fromMicros(created)
	return &u, nil
}
