package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const operationCols = `id, kind, card_id, user_id, actor_id, state, step, data, error, created_at, updated_at`

var (
	qInsertOperation = prepared(`INSERT INTO operations (kind, card_id, user_id, actor_id, state, step, data, error, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateOperation = prepared(`UPDATE operations SET state = ?, step = ?, data = ?, error = ?, updated_at = ? WHERE id = ? AND updated_at = ?`)
	qOperationByID   = prepared(`SELECT ` + operationCols + ` FROM operations WHERE id = ?`)
)

const operationMissing = "operation refers to a card or user that does not exist"

func normOperation(o *lanyard.Operation) {
	o.Data = bytesOut(o.Data)
	o.CreatedAt, o.UpdatedAt = normTime(o.CreatedAt), normTime(o.UpdatedAt)
}

func (t operationsTx) CreateOperation(o *lanyard.Operation) error {
	normOperation(o)
	err := t.row(qInsertOperation, string(o.Kind), o.CardID, o.UserID, ref(o.ActorID), string(o.State), o.Step, blob(o.Data), o.Error,
		micros(o.CreatedAt), micros(o.UpdatedAt)).Scan(&o.ID)
	if err != nil {
		return t.writeErr(err, "operation already exists", operationMissing)
	}
	return nil
}

func (t operationsTx) UpdateOperation(o *lanyard.Operation, prev time.Time) error {
	normOperation(o)
	res, err := t.exec(qUpdateOperation, string(o.State), o.Step, blob(o.Data), o.Error, micros(o.UpdatedAt), o.ID, micros(normTime(prev)))
	err = t.one(res, err, notFound("operation %d not found", o.ID), "", operationMissing)
	if !lanyard.IsCode(err, lanyard.ENotFound) {
		return err
	}
	if _, gerr := t.OperationByID(o.ID); gerr != nil {
		return gerr
	}
	return lanyard.Errorf(lanyard.EConflict, "operation %d changed meanwhile (another run of it, or a recovery); reload and try again", o.ID)
}

func (t operationsTx) OperationByID(id int64) (*lanyard.Operation, error) {
	o, err := scanOperation(t.row(qOperationByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("operation %d not found", id))
	}
	return o, nil
}

// ListOperations returns the operations matching f, newest first.
func (t operationsTx) ListOperations(f lanyard.OperationFilter) ([]*lanyard.Operation, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + operationCols + ` FROM operations WHERE 1 = 1`)
	if f.CardID != 0 {
		q.WriteString(` AND card_id = ?`)
		args = append(args, f.CardID)
	}
	if f.UserID != 0 {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.UserID)
	}
	if f.Kind != "" {
		q.WriteString(` AND kind = ?`)
		args = append(args, string(f.Kind))
	}
	if f.State != "" {
		q.WriteString(` AND state = ?`)
		args = append(args, string(f.State))
	}
	if f.Unfinished {
		q.WriteString(` AND state IN (?, ?, ?)`)
		args = append(args, string(lanyard.OpRunning), string(lanyard.OpInterrupted), string(lanyard.OpPending))
	}
	q.WriteString(` ORDER BY id DESC`)
	args = appendPage(&q, args, f.Limit, 0)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanOperation)
}

func scanOperation(s scanner) (*lanyard.Operation, error) {
	var o lanyard.Operation
	var actor sql.NullInt64
	var kind, state string
	var data []byte
	var created, updated int64
	if err := s.Scan(&o.ID, &kind, &o.CardID, &o.UserID, &actor, &state, &o.Step, &data, &o.Error, &created, &updated); err != nil {
		return nil, err
	}
	o.Kind, o.State, o.ActorID = lanyard.OperationKind(kind), lanyard.OperationState(state), refOut(actor)
	if len(data) > 0 {
		o.Data = json.RawMessage(data)
	}
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &o, nil
}
