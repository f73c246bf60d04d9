//go:build integration

package cardops_test

import (
	"strconv"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// On PostgreSQL, where transactions run at once, the same PIN status
// reported by several workers at once is still recorded once, with one
// audit event: the card's lock orders them.
func TestRecordPINStatusConcurrentPostgres(t *testing.T) {
	st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Store: st}})
	res, err := e.svc.Cards.IssueCard(t.Context(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	serial := strconv.FormatUint(uint64(e.card.Serial()), 10)
	recordsOnce(t, e, serial, lanyard.PINState{TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: 3})
	var events []*lanyard.AuditEvent
	if err := st.View(t.Context(), func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.pin.status", ObjectID: strconv.FormatInt(res.Card.ID, 10)})
		return
	}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d card.pin.status events, want 1", len(events))
	}
}
