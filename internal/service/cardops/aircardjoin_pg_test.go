//go:build integration

package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// A computer already allowed on an AirCard that joins it again with a new
// connection code succeeds and uses the code up. On PostgreSQL a unique
// violation aborts the whole transaction, so the join must not learn
// "already allowed" from the insert failing.
func TestAirCardJoinTwicePostgres(t *testing.T) {
	st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newVirtualEnvFrom(t, &issueEnv{opts: servicetest.Options{Store: st}}, nil)
	ctx := context.Background()
	e.allowAirCards(t)
	e.access.AddWorkstation(2, e.alice.User.ID, "pc-2")
	e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")
	e.access.AddAirCardService(3)
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := st.View(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardBySerial("aircard", cc.Serial)
		id = c.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		code, err := e.svc.Workstations.CreateAirCardCode(ctx, e.admin, id, workstations.AirCardCodeInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Workstations.JoinAirCard(ctx, 2, "10.0.0.2", code.Code); err != nil {
			t.Fatalf("join %d of a computer with a fresh code: %v", round+1, err)
		}
		if _, err := e.svc.Workstations.JoinAirCard(ctx, 2, "10.0.0.2", code.Code); !lanyard.IsCode(err, lanyard.EConflict) {
			t.Fatalf("join %d: the code was not used up: %v", round+1, err)
		}
	}
	if err := e.svc.Workstations.AirCardAllowed(ctx, 2, cc.Serial); err != nil {
		t.Fatal(err)
	}
}
