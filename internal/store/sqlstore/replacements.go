package sqlstore

import (
	"database/sql"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const replacementCols = `id, old_card_id, new_card_id, kind, state, reason, owner_id, old_state, actor_id, created_at, updated_at`

var (
	qCreateReplacement = prepared(`INSERT INTO card_replacements (old_card_id, new_card_id, kind, state, reason, owner_id, old_state, actor_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateReplacement  = prepared(`UPDATE card_replacements SET kind = ?, state = ?, updated_at = ? WHERE id = ?`)
	qReplacementsOf     = prepared(`SELECT ` + replacementCols + ` FROM card_replacements WHERE old_card_id = ? OR new_card_id = ? ORDER BY created_at DESC, id DESC`)
	qOpenReplacementNew = prepared(`SELECT ` + replacementCols + ` FROM card_replacements WHERE new_card_id = ? AND state <> 'ended'`)
)

const replacementTaken = "the card is already in a replacement under way (a card is replaced, and replaces another, once at a time)"

func checkReplacement(r *lanyard.CardReplacement) error {
	if !r.Kind.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "replacement kind %q is not valid", r.Kind)
	}
	if !r.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "replacement state %q is not valid", r.State)
	}
	if r.OldCardID == r.NewCardID {
		return lanyard.Errorf(lanyard.EInvalid, "a card cannot replace itself")
	}
	return nil
}

func (t cardReplacementsTx) CreateCardReplacement(r *lanyard.CardReplacement) error {
	if err := checkReplacement(r); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = normTime(r.CreatedAt), normTime(r.UpdatedAt)
	err := t.row(qCreateReplacement, r.OldCardID, r.NewCardID, string(r.Kind), string(r.State), string(r.Reason), ref(r.OwnerID), string(r.OldState), r.ActorID,
		micros(r.CreatedAt), micros(r.UpdatedAt)).Scan(&r.ID)
	if err != nil {
		return t.writeErr(err, replacementTaken, "a card or the user of the replacement does not exist")
	}
	return nil
}

func (t cardReplacementsTx) UpdateCardReplacement(r *lanyard.CardReplacement) error {
	if err := checkReplacement(r); err != nil {
		return err
	}
	r.UpdatedAt = normTime(r.UpdatedAt)
	res, err := t.exec(qUpdateReplacement, string(r.Kind), string(r.State), micros(r.UpdatedAt), r.ID)
	return t.one(res, err, notFound("card replacement %d not found", r.ID), replacementTaken, "")
}

func (t cardReplacementsTx) CardReplacementsOf(cardID int64) ([]*lanyard.CardReplacement, error) {
	rows, err := t.rows(qReplacementsOf, cardID, cardID)
	return collect(t.txn, rows, err, scanReplacement)
}

func (t cardReplacementsTx) OpenReplacementByNew(cardID int64) (*lanyard.CardReplacement, error) {
	r, err := scanReplacement(t.row(qOpenReplacementNew, cardID))
	if err != nil {
		return nil, t.readErr(err, notFound("card %d replaces no card", cardID))
	}
	return r, nil
}

func scanReplacement(s scanner) (*lanyard.CardReplacement, error) {
	var r lanyard.CardReplacement
	var kind, state, reason, oldState string
	var owner sql.NullInt64
	var created, updated int64
	if err := s.Scan(&r.ID, &r.OldCardID, &r.NewCardID, &kind, &state, &reason, &owner, &oldState, &r.ActorID, &created, &updated); err != nil {
		return nil, err
	}
	r.Kind, r.State, r.Reason = lanyard.ReplacementKind(kind), lanyard.ReplacementState(state), lanyard.CardRevocationReason(reason)
	r.OwnerID, r.OldState = refOut(owner), lanyard.CardState(oldState)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &r, nil
}
