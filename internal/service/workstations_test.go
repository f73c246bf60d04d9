package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestAgentsSeen: the hub's recheck records every connected workstation
// in batched transactions and names those no longer active — revoked,
// or deleted — across a batch boundary.
func TestAgentsSeen(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	var ids []int64
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error {
		for i := range 1005 {
			w := &lanyard.Workstation{Name: fmt.Sprintf("pc-%04d", i), Status: lanyard.WorkstationActive, CreatedAt: time.Now()}
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
			ids = append(ids, w.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	revoked := []int64{ids[3], ids[1002]} // one in each batch
	for _, id := range revoked {
		if _, err := e.svc.RevokeWorkstation(ctx, e.admin, id); err != nil {
			t.Fatal(err)
		}
	}
	const missing = 9_999_999
	inactive, err := e.svc.AgentsSeen(ctx, append(slices.Clone(ids), missing))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(revoked), missing); !slices.Equal(inactive, want) {
		t.Errorf("inactive %v, want %v", inactive, want)
	}
	for _, id := range []int64{ids[0], ids[1004]} {
		var w *lanyard.Workstation
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { w, err = tx.WorkstationByID(id); return err }); err != nil {
			t.Fatal(err)
		}
		if w.LastSeenAt.IsZero() || time.Since(w.LastSeenAt) > time.Minute {
			t.Errorf("workstation %d last seen %v, want now", id, w.LastSeenAt)
		}
	}
}
