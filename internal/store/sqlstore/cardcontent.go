package sqlstore

import (
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The Card Monitor's records and the scheduled jobs' rows
// (lanyard.CardContentStore; migration 0027).

const cardContentCols = `card_id, status, next_check_at, notified_status, notified_at, updated_at`

var (
	qDueCardContents = prepared(`SELECT card_id FROM card_content WHERE next_check_at <> 0 AND next_check_at <= ?
		ORDER BY next_check_at, card_id LIMIT ?`)
	// Both halves use an index: cards_updated, certificates_updated.
	qChangedCards = prepared(`SELECT id FROM (
		SELECT id FROM cards WHERE updated_at >= ? AND id > ?
		UNION SELECT card_id FROM certificates WHERE updated_at >= ? AND card_id IS NOT NULL AND card_id > ?) AS changed
		ORDER BY id LIMIT ?`)
	qAllCards = prepared(`SELECT id FROM cards WHERE id > ? ORDER BY id LIMIT ?`)
	// Revoked cards count as none whatever their last record says.
	qCountCardContents = prepared(`SELECT cc.status, COUNT(*) FROM card_content cc JOIN cards c ON c.id = cc.card_id
		WHERE cc.status <> 'none' AND c.state <> 'revoked' GROUP BY cc.status`)
	qCountAllCards  = prepared(`SELECT COUNT(*) FROM cards`)
	qInsertJob      = prepared(`INSERT INTO job_runs (name) VALUES (?) ON CONFLICT (name) DO NOTHING`)
	qClaimJob       = prepared(`UPDATE job_runs SET holder = ?, lease_until = ? WHERE name = ? AND (lease_until < ? OR holder = ?)`)
	qRenewJob       = prepared(`UPDATE job_runs SET lease_until = ? WHERE name = ? AND holder = ? AND lease_until <> 0`)
	qJobByName      = prepared(`SELECT name, holder, lease_until, mark, extra, run_at FROM job_runs WHERE name = ?`)
	qListJobs       = prepared(`SELECT name, holder, lease_until, mark, extra, run_at FROM job_runs ORDER BY name`)
	qFinishJob      = prepared(`UPDATE job_runs SET mark = ?, extra = ?, run_at = ?, lease_until = 0 WHERE name = ? AND holder = ?`)
	cardCertsStatus = `('` + string(lanyard.CertValid) + `', '` + string(lanyard.CertWritten) + `', '` + string(lanyard.CertExpired) + `')`
)

// inList is "(?, ?, …)" for n values.
func inList(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func idArgs(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

func (t cardContentTx) CardContents(ids []int64) (map[int64]*lanyard.CardContent, error) {
	out := map[int64]*lanyard.CardContent{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := t.query(`SELECT `+cardContentCols+` FROM card_content WHERE card_id IN `+inList(len(ids)), idArgs(ids)...)
	list, err := collect(t.txn, rows, err, func(r scanner) (*lanyard.CardContent, error) {
		var c lanyard.CardContent
		var next, notified, updated int64
		if err := r.Scan(&c.CardID, &c.Status, &next, &c.NotifiedStatus, &notified, &updated); err != nil {
			return nil, err
		}
		c.NextCheckAt, c.NotifiedAt, c.UpdatedAt = fromMicros(next), fromMicros(notified), fromMicros(updated)
		return &c, nil
	})
	for _, c := range list {
		out[c.CardID] = c
	}
	return out, err
}

// putContentsChunk is how many records one statement writes (6
// parameters each: well within both engines' limits).
const putContentsChunk = 500

// PutCardContents writes rs with multi-row upserts: a Card Monitor batch
// is a few statements, not one per card.
func (t cardContentTx) PutCardContents(rs []*lanyard.CardContent) error {
	for len(rs) > 0 {
		n := min(len(rs), putContentsChunk)
		args := make([]any, 0, 6*n)
		for _, c := range rs[:n] {
			c.NextCheckAt, c.NotifiedAt, c.UpdatedAt = normTime(c.NextCheckAt), normTime(c.NotifiedAt), normTime(c.UpdatedAt)
			args = append(args, c.CardID, string(c.Status), micros(c.NextCheckAt), string(c.NotifiedStatus), micros(c.NotifiedAt), micros(c.UpdatedAt))
		}
		q := `INSERT INTO card_content (` + cardContentCols + `) VALUES ` + valuesList(n, 6) + `
			ON CONFLICT (card_id) DO UPDATE SET status = excluded.status, next_check_at = excluded.next_check_at,
			notified_status = excluded.notified_status, notified_at = excluded.notified_at, updated_at = excluded.updated_at`
		if t.failed != nil {
			return t.aborted()
		}
		if _, err := t.tx.ExecContext(t.ctx, t.d.Rebind(q), args...); err != nil {
			return t.writeErr(err, "", "a card of these records does not exist")
		}
		rs = rs[n:]
	}
	return nil
}

// CardsByIDs returns the cards ids that exist, in ID order.
func (t cardContentTx) CardsByIDs(ids []int64) ([]*lanyard.Card, error) {
	if len(ids) == 0 {
		return []*lanyard.Card{}, nil
	}
	rows, err := t.query(`SELECT `+cardCols+` FROM cards WHERE id IN `+inList(len(ids))+` ORDER BY id`, idArgs(ids)...)
	return collect(t.txn, rows, err, scanCard)
}

// UsersByIDs returns the users ids that exist, in ID order.
func (t cardContentTx) UsersByIDs(ids []int64) ([]*lanyard.User, error) {
	if len(ids) == 0 {
		return []*lanyard.User{}, nil
	}
	rows, err := t.query(`SELECT `+userCols+` FROM users WHERE id IN `+inList(len(ids))+` ORDER BY id`, idArgs(ids)...)
	return collect(t.txn, rows, err, scanUser)
}

// scanIDs reads one ID per row.
func (t cardContentTx) scanIDs(s stmt, args ...any) ([]int64, error) {
	rows, err := t.rows(s, args...)
	list, err := collect(t.txn, rows, err, func(r scanner) (*int64, error) {
		var id int64
		return &id, r.Scan(&id)
	})
	out := make([]int64, len(list))
	for i, id := range list {
		out[i] = *id
	}
	return out, err
}

func (t cardContentTx) DueCardContents(now time.Time, limit int) ([]int64, error) {
	return t.scanIDs(qDueCardContents, micros(normTime(now)), limit)
}

func (t cardContentTx) ChangedCards(since time.Time, afterID int64, limit int) ([]int64, error) {
	if since.IsZero() {
		return t.scanIDs(qAllCards, afterID, limit)
	}
	s := micros(normTime(since))
	return t.scanIDs(qChangedCards, s, afterID, s, afterID, limit)
}

func (t cardContentTx) CardCerts(ids []int64) ([]lanyard.CardCert, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.query(`SELECT card_id, source, not_after FROM certificates WHERE status IN `+cardCertsStatus+
		` AND card_id IN `+inList(len(ids)), idArgs(ids)...)
	list, err := collect(t.txn, rows, err, func(r scanner) (*lanyard.CardCert, error) {
		var c lanyard.CardCert
		var notAfter int64
		if err := r.Scan(&c.CardID, &c.Source, &notAfter); err != nil {
			return nil, err
		}
		c.NotAfter = fromMicros(notAfter)
		return &c, nil
	})
	out := make([]lanyard.CardCert, len(list))
	for i, c := range list {
		out[i] = *c
	}
	return out, err
}

func (t cardContentTx) CountCardContents() (map[lanyard.ContentStatus]int, error) {
	out := map[lanyard.ContentStatus]int{}
	for _, s := range lanyard.ContentStatuses {
		out[s] = 0
	}
	var all int
	if err := t.row(qCountAllCards).Scan(&all); err != nil {
		return nil, t.readErr(err, nil)
	}
	rows, err := t.rows(qCountCardContents)
	if err != nil {
		return nil, t.readErr(err, nil)
	}
	defer rows.Close()
	rest := all
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, t.readErr(err, nil)
		}
		out[lanyard.ContentStatus(s)] += n
		rest -= n
	}
	if err := rows.Err(); err != nil {
		return nil, t.readErr(err, nil)
	}
	out[lanyard.ContentNone] = rest
	return out, nil
}

func (t cardContentTx) ClaimJob(name, holder string, now, leaseUntil time.Time) (*lanyard.JobRun, error) {
	if _, err := t.exec(qInsertJob, name); err != nil {
		return nil, t.writeErr(err, "", "")
	}
	res, err := t.exec(qClaimJob, holder, micros(normTime(leaseUntil)), name, micros(normTime(now)), holder)
	if n, err := t.affected(res, err); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, lanyard.Errorf(lanyard.EConflict, "job %s runs elsewhere", name)
	}
	r, err := scanJobRun(t.row(qJobByName, name))
	if err != nil {
		return nil, t.readErr(err, nil)
	}
	return r, nil
}

func scanJobRun(row scanner) (*lanyard.JobRun, error) {
	var r lanyard.JobRun
	var lease, mark, runAt int64
	if err := row.Scan(&r.Name, &r.Holder, &lease, &mark, &r.Extra, &runAt); err != nil {
		return nil, err
	}
	r.LeaseUntil, r.Mark, r.RunAt = fromMicros(lease), fromMicros(mark), fromMicros(runAt)
	return &r, nil
}

func (t cardContentTx) ListJobRuns() ([]*lanyard.JobRun, error) {
	rows, err := t.rows(qListJobs)
	return collect(t.txn, rows, err, scanJobRun)
}

func (t cardContentTx) RenewJob(name, holder string, leaseUntil time.Time) error {
	res, err := t.exec(qRenewJob, micros(normTime(leaseUntil)), name, holder)
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "job %s is no longer held by %s", name, holder), "", "")
}

func (t cardContentTx) FinishJob(r *lanyard.JobRun) error {
	r.Mark, r.RunAt = normTime(r.Mark), normTime(r.RunAt)
	res, err := t.exec(qFinishJob, micros(r.Mark), r.Extra, micros(r.RunAt), r.Name, r.Holder)
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "job %s is no longer held by %s", r.Name, r.Holder), "", "")
}
