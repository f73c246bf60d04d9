package sqlstore

import (
	"slices"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const (
	mailListCols = `id, kind, recipients, subject, size, state, attempts, next_attempt_at, last_error, created_at, updated_at, sent_at`
	mailCols     = mailListCols + `, content`
)

var (
	qInsertMail = prepared(`INSERT INTO mail_outbox (kind, recipients, subject, content, size, state, attempts, next_attempt_at, last_error,
		created_at, updated_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateMail = prepared(`UPDATE mail_outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?, sent_at = ? WHERE id = ?`)
	qClearMail  = prepared(`UPDATE mail_outbox SET content = ? WHERE id = ?`)
	// The claim's fence: only the claim that holds the message renews it.
	qRenewMailClaim = prepared(`UPDATE mail_outbox SET next_attempt_at = ? WHERE id = ? AND claim = ? AND state = 'sending'`)
	qMailByID       = prepared(`SELECT ` + mailCols + ` FROM mail_outbox WHERE id = ?`)
)

func normMail(m *lanyard.MailMessage) {
	m.To = nonNil(m.To)
	m.Content = bytesOut(m.Content)
	m.NextAttemptAt, m.CreatedAt = normTime(m.NextAttemptAt), normTime(m.CreatedAt)
	m.UpdatedAt, m.SentAt = normTime(m.UpdatedAt), normTime(m.SentAt)
}

func (t mailTx) CreateMail(m *lanyard.MailMessage) error {
	if !m.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "unknown mail state %q", m.State)
	}
	normMail(m)
	to, err := jsonList(m.To)
	if err != nil {
		return err
	}
	err = t.row(qInsertMail, m.Kind, to, m.Subject, blob(m.Content), m.Size, string(m.State), m.Attempts, micros(m.NextAttemptAt), m.LastError,
		micros(m.CreatedAt), micros(m.UpdatedAt), micros(m.SentAt)).Scan(&m.ID)
	if err != nil {
		return t.writeErr(err, "mail message already exists", "")
	}
	return nil
}

func (t mailTx) UpdateMail(m *lanyard.MailMessage) error {
	if !m.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "unknown mail state %q", m.State)
	}
	normMail(m)
	res, err := t.exec(qUpdateMail, string(m.State), m.Attempts, micros(m.NextAttemptAt), m.LastError, micros(m.UpdatedAt), micros(m.SentAt), m.ID)
	return t.one(res, err, notFound("mail message %d not found", m.ID), "", "")
}

func (t mailTx) ClearMailContent(id int64) error {
	res, err := t.exec(qClearMail, blob(nil), id)
	return t.one(res, err, notFound("mail message %d not found", id), "", "")
}

func (t mailTx) MailByID(id int64) (*lanyard.MailMessage, error) {
	m, err := scanMail(t.row(qMailByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("mail message %d not found", id))
	}
	return m, nil
}

// ListMail returns the messages matching f without their content, newest
// first.
func (t mailTx) ListMail(f lanyard.MailFilter) ([]*lanyard.MailMessage, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + mailListCols + ` FROM mail_outbox WHERE 1 = 1`)
	if f.State != "" {
		q.WriteString(` AND state = ?`)
		args = append(args, string(f.State))
	}
	q.WriteString(` ORDER BY id DESC`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanMailHead)
}

// ClaimMail takes due messages in one statement: the sub-select picks
// them (skipping rows another transaction has locked, on engines that
// lock rows) and the UPDATE marks them sending under a lease, so no two
// claimers get the same message. SQLite's single writer serializes
// claims anyway.
func (t mailTx) ClaimMail(claim string, now, leaseUntil time.Time, limit int) ([]*lanyard.MailMessage, error) {
	if limit <= 0 {
		return []*lanyard.MailMessage{}, nil
	}
	if claim == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a mail claim needs a token")
	}
	q := `UPDATE mail_outbox SET state = 'sending', claim = ?, attempts = attempts + 1, next_attempt_at = ?, updated_at = ?
		WHERE id IN (SELECT id FROM mail_outbox WHERE state IN ('queued', 'sending') AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT ? ` + t.d.SkipLocked + `)
		RETURNING ` + mailCols
	n := micros(normTime(now))
	rows, err := t.query(q, claim, micros(normTime(leaseUntil)), n, n, int64(limit))
	if err != nil {
		return nil, t.writeErr(err, "", "")
	}
	out, err := collect(t.txn, rows, nil, scanMail)
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order; hand them out oldest first.
	slices.SortFunc(out, func(a, b *lanyard.MailMessage) int { return int(a.ID - b.ID) })
	return out, nil
}

func (t mailTx) RenewMailClaim(id int64, claim string, leaseUntil time.Time) error {
	res, err := t.exec(qRenewMailClaim, micros(normTime(leaseUntil)), id, claim)
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "mail message %d is no longer held by this claim", id), "", "")
}

func scanMailHead(s scanner) (*lanyard.MailMessage, error) {
	return scanMailCols(s, false)
}

func scanMail(s scanner) (*lanyard.MailMessage, error) {
	return scanMailCols(s, true)
}

func scanMailCols(s scanner, content bool) (*lanyard.MailMessage, error) {
	var m lanyard.MailMessage
	var to, state string
	var next, created, updated, sent int64
	dest := []any{&m.ID, &m.Kind, &to, &m.Subject, &m.Size, &state, &m.Attempts, &next, &m.LastError, &created, &updated, &sent}
	if content {
		dest = append(dest, &m.Content)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if m.To, err = listOut[[]string](to, "mail_outbox.recipients"); err != nil {
		return nil, err
	}
	m.Content = bytesOut(m.Content)
	m.State = lanyard.MailState(state)
	m.NextAttemptAt, m.CreatedAt, m.UpdatedAt, m.SentAt = fromMicros(next), fromMicros(created), fromMicros(updated), fromMicros(sent)
	return &m, nil
}
