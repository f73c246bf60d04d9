package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qSecretAnswers      = prepared(`SELECT question, answer_hash FROM secret_answers WHERE user_id = ? ORDER BY position`)
	qDeleteSecrets      = prepared(`DELETE FROM secret_answers WHERE user_id = ?`)
	qInsertSecretAnswer = prepared(`INSERT INTO secret_answers (user_id, position, question, answer_hash) VALUES (?, ?, ?, ?)`)
)

// SecretAnswers returns userID's secret questions and answer hashes in
// the order they were set; none is an empty list.
func (t secretsTx) SecretAnswers(userID int64) ([]lanyard.SecretAnswer, error) {
	rows, err := t.rows(qSecretAnswers, userID)
	list, err := collect(t.txn, rows, err, func(s scanner) (*lanyard.SecretAnswer, error) {
		var a lanyard.SecretAnswer
		return &a, s.Scan(&a.Question, &a.AnswerHash)
	})
	if err != nil {
		return nil, err
	}
	out := make([]lanyard.SecretAnswer, len(list))
	for i, a := range list {
		out[i] = *a
	}
	return out, nil
}

// SetSecretAnswers replaces userID's secret questions.
func (t secretsTx) SetSecretAnswers(userID int64, answers []lanyard.SecretAnswer) error {
	if _, err := t.exec(qDeleteSecrets, userID); err != nil {
		return t.writeErr(err, "", "")
	}
	for i, a := range answers {
		if _, err := t.exec(qInsertSecretAnswer, userID, i, a.Question, a.AnswerHash); err != nil {
			return t.writeErr(err, "secret question set twice", "user does not exist")
		}
	}
	return nil
}
