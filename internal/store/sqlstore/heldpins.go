package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const heldPINCols = `operation_id, purpose, card_id, owner_id, sealed, recipients, mailed_to, created_at, expires_at`

var (
	qCreateHeldPIN = prepared(`INSERT INTO held_pins (` + heldPINCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qHeldPIN       = prepared(`SELECT ` + heldPINCols + ` FROM held_pins WHERE operation_id = ? AND purpose = ?`)
	qHeldPINsOf    = prepared(`SELECT ` + heldPINCols + ` FROM held_pins WHERE owner_id = ? AND purpose = ? ORDER BY created_at, operation_id`)
	// Only a copy that still holds its PIN is marked: of two requests,
	// the second finds mailed_to set and touches no row.
	qMarkHeldPINMailed = prepared(`UPDATE held_pins SET sealed = ?, mailed_to = ?
		WHERE operation_id = ? AND purpose = 'mail' AND mailed_to = ''`)
	qDeleteHeldPIN      = prepared(`DELETE FROM held_pins WHERE operation_id = ? AND purpose = ?`)
	qDeleteCardHeldPINs = prepared(`DELETE FROM held_pins WHERE card_id = ?`)
	// held_pins_expires makes this one range delete, however many rows
	// the table holds.
	qDeleteExpiredHeldPINs = prepared(`DELETE FROM held_pins WHERE expires_at <= ? RETURNING operation_id`)
)

const heldPINMissing = "held PIN refers to an operation, card or user that does not exist"

func (t heldPINsTx) CreateHeldPIN(h *lanyard.HeldPIN) error {
	h.CreatedAt, h.ExpiresAt = normTime(h.CreatedAt), normTime(h.ExpiresAt)
	h.Sealed = bytesOut(h.Sealed)
	if h.Recipients == nil {
		h.Recipients = []lanyard.HeldPINRecipient{}
	}
	rcpt, err := jsonList(h.Recipients)
	if err != nil {
		return t.fail(err)
	}
	_, err = t.exec(qCreateHeldPIN, h.OperationID, string(h.Purpose), h.CardID, h.OwnerID, blob(h.Sealed), rcpt, h.MailedTo,
		micros(h.CreatedAt), micros(h.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "the operation already holds a PIN for "+string(h.Purpose), heldPINMissing)
	}
	return nil
}

func (t heldPINsTx) HeldPIN(operationID int64, purpose lanyard.HeldPINPurpose) (*lanyard.HeldPIN, error) {
	h, err := scanHeldPIN(t.row(qHeldPIN, operationID, string(purpose)))
	if err != nil {
		return nil, t.readErr(err, notFound("operation %d holds no PIN for %s", operationID, purpose))
	}
	return h, nil
}

func (t heldPINsTx) HeldPINsOf(ownerID int64, purpose lanyard.HeldPINPurpose) ([]*lanyard.HeldPIN, error) {
	rows, err := t.rows(qHeldPINsOf, ownerID, string(purpose))
	return collect(t.txn, rows, err, scanHeldPIN)
}

func (t heldPINsTx) MarkHeldPINMailed(operationID int64, mailedTo string) error {
	n, err := t.affected(t.exec(qMarkHeldPINMailed, []byte{}, mailedTo, operationID))
	if err != nil || n == 1 {
		return err
	}
	if _, err := t.HeldPIN(operationID, lanyard.HeldPINMail); err != nil {
		return err
	}
	return lanyard.Errorf(lanyard.EConflict, "the PIN of operation %d was already mailed", operationID)
}

func (t heldPINsTx) DeleteHeldPIN(operationID int64, purpose lanyard.HeldPINPurpose) error {
	res, err := t.exec(qDeleteHeldPIN, operationID, string(purpose))
	return t.one(res, err, notFound("operation %d holds no PIN for %s", operationID, purpose), "", "")
}

func (t heldPINsTx) DeleteCardHeldPINs(cardID int64) (int, error) {
	return t.affected(t.exec(qDeleteCardHeldPINs, cardID))
}

func (t heldPINsTx) DeleteExpiredHeldPINs(now time.Time) ([]int64, error) {
	rows, err := t.rows(qDeleteExpiredHeldPINs, micros(normTime(now)))
	list, err := collect(t.txn, rows, err, func(s scanner) (*int64, error) {
		var id int64
		return &id, s.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(list))
	for i, id := range list {
		out[i] = *id
	}
	return out, nil
}

func scanHeldPIN(s scanner) (*lanyard.HeldPIN, error) {
	var h lanyard.HeldPIN
	var purpose, rcpt string
	var created, expires int64
	if err := s.Scan(&h.OperationID, &purpose, &h.CardID, &h.OwnerID, &h.Sealed, &rcpt, &h.MailedTo, &created, &expires); err != nil {
		return nil, err
	}
	var err error
	if h.Recipients, err = listOut[[]lanyard.HeldPINRecipient](rcpt, "held_pins.recipients"); err != nil {
		return nil, err
	}
	h.Purpose, h.Sealed = lanyard.HeldPINPurpose(purpose), bytesOut(h.Sealed)
	h.CreatedAt, h.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &h, nil
}
