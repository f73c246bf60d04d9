package cardops_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// revokeAtLock commits a revocation of a certificate the moment a card
// issue first takes its row to mark it written, then lets the issue's
// transaction run again: as if a revocation (key compromise reported)
// committed while the certificate was being put on the card.
type revokeAtLock struct {
	lanyard.Store
	done bool
	id   int64
}

var errRevokeFirst = errors.New("test: revoke first")

func (w *revokeAtLock) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	err := w.Store.Update(ctx, func(tx lanyard.Tx) error { return fn(revokeAtLockTx{Tx: tx, w: w}) })
	if !errors.Is(err, errRevokeFirst) {
		return err
	}
	err = w.Store.Update(ctx, func(tx lanyard.Tx) error {
		cur, err := tx.CertificateByID(w.id)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		cur.Status, cur.RevokedAt, cur.Reason, cur.ReasonName, cur.UpdatedAt = lanyard.CertRevoked, now, lanyard.ReasonKeyCompromise, "key_compromise", now
		return tx.UpdateCertificate(cur)
	})
	if err != nil {
		return err
	}
	return w.Store.Update(ctx, fn)
}

type revokeAtLockTx struct {
	lanyard.Tx
	w *revokeAtLock
}

func (t revokeAtLockTx) LockCertificate(id int64) error {
	if !t.w.done {
		t.w.done, t.w.id = true, id
		return errRevokeFirst
	}
	return t.Tx.LockCertificate(id)
}

// TestRevocationDuringWriteKept: a certificate revoked while the issue
// wrote it to the card stays revoked (and on the CRL); the issue stops
// with a clear error instead of marking it written. Before, the issue
// wrote back the copy it read before the card I/O and the revocation was
// lost.
func TestRevocationDuringWriteKept(t *testing.T) {
	w := &revokeAtLock{}
	e := &issueEnv{}
	e.opts.WrapStore = func(s lanyard.Store) lanyard.Store { w.Store = s; return w }
	e = newIssueEnvFrom(t, e)
	ctx := context.Background()
	_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if !w.done {
		t.Fatal("no certificate was marked written")
	}
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("issue with its certificate revoked during the write: %v, want a conflict", err)
	}
	var certs []*lanyard.Certificate
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
		certs, err = tx.ListCertificates(lanyard.CertFilter{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for _, c := range certs {
		if c.Status == lanyard.CertRevoked && !c.RevokedAt.IsZero() {
			revoked++
		}
		if c.Status == lanyard.CertWritten {
			t.Errorf("certificate %s marked written", c.Serial)
		}
	}
	if revoked != 1 {
		t.Fatalf("%d revoked certificates, want the one revoked during the write", revoked)
	}
}

// TestInterruptedClearDoesNotBlockIssue: a Revoke and clear left
// interrupted (a replica of an older version swept it so during an
// upgrade) is never resumed, and does not keep the card from a new issue.
func TestInterruptedClearDoesNotBlockIssue(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	op := &lanyard.Operation{Kind: lanyard.OpClear, CardID: res.Card.ID, UserID: e.alice.User.ID, ActorID: e.alice.User.ID,
		State: lanyard.OpInterrupted, Step: "certificates_deleted", Data: []byte(`{}`), Error: "the server stopped during the operation", CreatedAt: now, UpdatedAt: now}
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateOperation(op) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"}); err != nil {
		t.Fatalf("issue after an interrupted clear: %v", err)
	}
}

// TestClearOfAnotherCardWritesNothing: a card that does not prove it is
// the one recorded (here: the record's key identifier no longer matches
// it) is refused before the clear records anything — no operation, no
// audit event, the card record untouched.
func TestClearOfAnotherCardWritesNothing(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	var before *lanyard.Card
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(res.Card.ID)
		if err != nil {
			return err
		}
		c.CardID = "00112233445566778899aabbccddeeff"
		if err := tx.UpdateCard(c); err != nil {
			return err
		}
		before, err = tx.CardByID(c.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err == nil {
		t.Fatal("a card not proving its identity was cleared")
	}
	err = e.st.View(ctx, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: res.Card.ID, Kind: lanyard.OpClear})
		if err != nil {
			return err
		}
		if len(ops) != 0 {
			t.Errorf("the refused clear left %d operations", len(ops))
		}
		evs, err := tx.ListAudit(lanyard.AuditFilter{Action: "card.clear.start"})
		if err != nil {
			return err
		}
		if len(evs) != 0 {
			t.Errorf("the refused clear left %d audit events", len(evs))
		}
		after, err := tx.CardByID(res.Card.ID)
		if err != nil {
			return err
		}
		if !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Error("the refused clear changed the card record")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
