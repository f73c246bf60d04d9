package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qOfflineArmOf  = prepared(`SELECT card_id, counter, nonce, key_version, state, updated_at FROM offline_arms WHERE card_id = ?`)
	qPutOfflineArm = prepared(`INSERT INTO offline_arms (card_id, counter, nonce, key_version, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (card_id) DO UPDATE SET counter = excluded.counter, nonce = excluded.nonce, key_version = excluded.key_version,
		state = excluded.state, updated_at = excluded.updated_at`)
)

func (t offlineUnblocksTx) OfflineArmOf(cardID int64) (*lanyard.OfflineArm, error) {
	var a lanyard.OfflineArm
	var state string
	var updated int64
	err := t.row(qOfflineArmOf, cardID).Scan(&a.CardID, &a.Counter, &a.Nonce, &a.KeyVersion, &state, &updated)
	if err != nil {
		return nil, t.readErr(err, notFound("card %d has no offline unblock code armed", cardID))
	}
	a.State, a.UpdatedAt = lanyard.OfflineArmState(state), fromMicros(updated)
	return &a, nil
}

func (t offlineUnblocksTx) PutOfflineArm(a *lanyard.OfflineArm) error {
	a.UpdatedAt = normTime(a.UpdatedAt)
	_, err := t.exec(qPutOfflineArm, a.CardID, a.Counter, a.Nonce, a.KeyVersion, string(a.State), micros(a.UpdatedAt))
	if err != nil {
		return t.writeErr(err, "the card's offline unblock code changed meanwhile", "the card does not exist")
	}
	return nil
}
