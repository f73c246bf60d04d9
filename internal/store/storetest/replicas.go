package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testReplicas: a replica reads back as registered; the heartbeat renews
// it, ENotFound once it is gone; LiveReplicas and ReplicaByClientSerial
// see only replicas not yet expired, by the client certificate's serial
// only; DeleteReplica takes its routes along; PurgeReplicas removes the
// expired ones.
func testReplicas(t *testing.T, s lanyard.Store) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 123456000, time.UTC)
	a := &lanyard.Replica{ID: "aaaa", PeerURL: "https://127.0.0.1:7001", AgentURL: "https://lb:8443", ClientSerial: "c1", ServerSerial: "s1",
		StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(10 * time.Second)}
	b := &lanyard.Replica{ID: "bbbb", PeerURL: "https://127.0.0.1:7002", ClientSerial: "c2", ServerSerial: "s2",
		StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(2 * time.Second)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.PutReplica(a); err != nil {
			return err
		}
		return tx.PutReplica(b)
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.PutReplica(&lanyard.Replica{ID: "x"}) })
	wantCode(t, "PutReplica without a peer URL", err, lanyard.EInvalid)
	MustView(t, s, func(tx lanyard.Tx) error {
		live, err := tx.LiveReplicas(now)
		if err != nil {
			return err
		}
		equal(t, "LiveReplicas", live, []*lanyard.Replica{a, b})
		if live, err = tx.LiveReplicas(now.Add(5 * time.Second)); err != nil {
			return err
		}
		equal(t, "LiveReplicas after b expired", live, []*lanyard.Replica{a})
		got, err := tx.ReplicaByClientSerial("c1", now)
		if err != nil {
			return err
		}
		equal(t, "ReplicaByClientSerial", got, a)
		_, err = tx.ReplicaByClientSerial("s1", now) // a server certificate is no client's
		wantCode(t, "ReplicaByClientSerial of a server serial", err, lanyard.ENotFound)
		_, err = tx.ReplicaByClientSerial("", now)
		wantCode(t, "ReplicaByClientSerial empty", err, lanyard.ENotFound)
		_, err = tx.ReplicaByClientSerial("c2", now.Add(5*time.Second))
		wantCode(t, "ReplicaByClientSerial expired", err, lanyard.ENotFound)
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		return tx.HeartbeatReplica("bbbb", now.Add(4*time.Second), now.Add(14*time.Second))
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.ReplicaByClientSerial("c2", now.Add(5*time.Second))
		if err == nil && (!got.HeartbeatAt.Equal(now.Add(4*time.Second)) || !got.ExpiresAt.Equal(now.Add(14*time.Second))) {
			t.Errorf("after HeartbeatReplica: %v %v", got.HeartbeatAt, got.ExpiresAt)
		}
		return err
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.HeartbeatReplica("nope", now, now) })
	wantCode(t, "HeartbeatReplica unknown", err, lanyard.ENotFound)

	// ListReplicas: every row, expired ones too, oldest start first.
	c := &lanyard.Replica{ID: "0000", PeerURL: "https://127.0.0.1:7003", StartedAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutReplica(c) })
	MustView(t, s, func(tx lanyard.Tx) error {
		all, err := tx.ListReplicas()
		if err == nil && (len(all) != 3 || all[0].ID != "0000" || all[1].ID != "aaaa" || all[2].ID != "bbbb" || !all[2].ExpiresAt.Equal(now.Add(14*time.Second))) {
			t.Errorf("ListReplicas = %+v", all)
		}
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteReplica("0000") })

	// Purge: a expired long ago, b still live; a's routes go with it.
	alice := MustCreateUser(t, s, "alice")
	w := NewWorkstation("pc-1", "1111111111111111", alice.ID)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateWorkstation(w) })
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		_, err := tx.PutAgentRoute(&lanyard.AgentRoute{WorkstationID: w.ID, ReplicaID: "aaaa", ConnectedAt: now})
		return err
	})
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.PurgeReplicas(now.Add(12 * time.Second)); return })
	if n != 1 {
		t.Errorf("PurgeReplicas = %d, want 1", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		live, err := tx.LiveReplicas(now)
		if err == nil && (len(live) != 1 || live[0].ID != "bbbb") {
			t.Errorf("after PurgeReplicas: %v", live)
		}
		rs, err := tx.LiveAgentRoutes(lanyard.AgentRouteFilter{}, time.Time{})
		if err == nil && len(rs) != 0 {
			t.Errorf("a purged replica's route is left: %v", rs)
		}
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		_, err := tx.PutAgentRoute(&lanyard.AgentRoute{WorkstationID: w.ID, ReplicaID: "bbbb", ConnectedAt: now})
		if err != nil {
			return err
		}
		return tx.DeleteReplica("bbbb")
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		rs, err := tx.LiveAgentRoutes(lanyard.AgentRouteFilter{}, time.Time{})
		if err == nil && len(rs) != 0 {
			t.Errorf("a deleted replica's route is left: %v", rs)
		}
		live, err := tx.LiveReplicas(time.Time{})
		if err == nil && len(live) != 0 {
			t.Errorf("after DeleteReplica: %v", live)
		}
		return err
	})
}

// testAgentRoutes: epochs grow; a route is replaced only by a newer
// epoch and deleted only by the (replica, epoch) that holds it; routes
// of expired replicas read as none; the filters select by workstation,
// owner and role.
func testAgentRoutes(t *testing.T, s lanyard.Store) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	w1 := NewWorkstation("pc-1", "1111111111111111", alice.ID)
	w2 := NewWorkstation("pc-2", "2222222222222222", bob.ID)
	air := NewWorkstation("air", "3333333333333333", 0)
	air.Role = lanyard.RoleAirCardService
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, r := range []*lanyard.Replica{
			{ID: "a", PeerURL: "https://a", StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(10 * time.Second)},
			{ID: "b", PeerURL: "https://b", StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(20 * time.Second)},
		} {
			if err := tx.PutReplica(r); err != nil {
				return err
			}
		}
		for _, w := range []*lanyard.Workstation{w1, w2, air} {
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
		}
		return nil
	})
	put := func(rt *lanyard.AgentRoute) bool {
		t.Helper()
		var ok bool
		MustUpdate(t, s, func(tx lanyard.Tx) (err error) { ok, err = tx.PutAgentRoute(rt); return })
		return ok
	}
	r1 := &lanyard.AgentRoute{WorkstationID: w1.ID, ReplicaID: "a", ConnectedAt: now}
	if !put(r1) || r1.Epoch == 0 {
		t.Fatalf("first route not written (epoch %d)", r1.Epoch)
	}
	r2 := &lanyard.AgentRoute{WorkstationID: w1.ID, ReplicaID: "b", ConnectedAt: now.Add(time.Second)}
	if !put(r2) || r2.Epoch <= r1.Epoch {
		t.Fatalf("newer route: epoch %d after %d", r2.Epoch, r1.Epoch)
	}
	// The older connection writes again (a retry) or leaves: neither
	// touches the newer route.
	stale := *r1
	if put(&stale) {
		t.Error("an older epoch replaced a newer route")
	}
	var deleted bool
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { deleted, err = tx.DeleteAgentRoute(w1.ID, "a", r1.Epoch); return })
	if deleted {
		t.Error("a stale disconnect deleted the newer route")
	}
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { deleted, err = tx.DeleteAgentRoute(w1.ID, "a", r2.Epoch); return })
	if deleted {
		t.Error("another replica deleted the route with the right epoch")
	}
	r3 := &lanyard.AgentRoute{WorkstationID: w2.ID, ReplicaID: "a", ConnectedAt: now}
	r4 := &lanyard.AgentRoute{WorkstationID: air.ID, ReplicaID: "b", ConnectedAt: now}
	put(r3)
	put(r4)
	routes := func(f lanyard.AgentRouteFilter, at time.Time) []int64 {
		t.Helper()
		var ids []int64
		MustView(t, s, func(tx lanyard.Tx) error {
			rs, err := tx.LiveAgentRoutes(f, at)
			for _, r := range rs {
				ids = append(ids, r.WorkstationID)
				want := map[int64]string{w1.ID: "b", w2.ID: "a", air.ID: "b"}[r.WorkstationID]
				if r.ReplicaID != want || r.PeerURL != "https://"+want || r.ConnectedAt.IsZero() {
					t.Errorf("route %+v, want replica %s", r, want)
				}
			}
			return err
		})
		return ids
	}
	equal(t, "all routes", routes(lanyard.AgentRouteFilter{}, now), []int64{w1.ID, w2.ID, air.ID})
	equal(t, "alice's", routes(lanyard.AgentRouteFilter{OwnerID: alice.ID}, now), []int64{w1.ID})
	equal(t, "AirCard services'", routes(lanyard.AgentRouteFilter{Role: lanyard.RoleAirCardService}, now), []int64{air.ID})
	equal(t, "by ID", routes(lanyard.AgentRouteFilter{IDs: []int64{w2.ID, air.ID}}, now), []int64{w2.ID, air.ID})
	equal(t, "no IDs", routes(lanyard.AgentRouteFilter{IDs: []int64{}}, now), []int64(nil))
	// Replica a expired: its route reads as offline.
	equal(t, "after a expired", routes(lanyard.AgentRouteFilter{}, now.Add(15*time.Second)), []int64{w1.ID, air.ID})
	// AgentRouteCounts: per replica and role, expired replicas' too.
	MustView(t, s, func(tx lanyard.Tx) error {
		n, err := tx.AgentRouteCounts()
		equal(t, "AgentRouteCounts", n, map[string]map[lanyard.WorkstationRole]int{
			"a": {lanyard.RoleWorkstation: 1},
			"b": {lanyard.RoleWorkstation: 1, lanyard.RoleAirCardService: 1},
		})
		return err
	})

	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { deleted, err = tx.DeleteAgentRoute(w1.ID, "b", r2.Epoch); return })
	if !deleted {
		t.Error("the holder's disconnect left its route")
	}
	equal(t, "after disconnect", routes(lanyard.AgentRouteFilter{IDs: []int64{w1.ID}}, now), []int64(nil))
	// Epochs keep growing after deletes (no reuse a stale disconnect
	// could match).
	r5 := &lanyard.AgentRoute{WorkstationID: w1.ID, ReplicaID: "a", ConnectedAt: now}
	if !put(r5) || r5.Epoch <= r4.Epoch {
		t.Errorf("epoch %d after %d", r5.Epoch, r4.Epoch)
	}
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		_, err := tx.PutAgentRoute(&lanyard.AgentRoute{WorkstationID: w1.ID + 1000, ReplicaID: "a", ConnectedAt: now})
		return err
	})
	wantCode(t, "route of a missing workstation", err, lanyard.EInvalid)
}

// testAgentRoutesConcurrent: connections racing for one workstation's
// route leave the one with the greatest epoch.
func testAgentRoutesConcurrent(t *testing.T, s lanyard.Store) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	w := NewWorkstation("pc-1", "1111111111111111", 0)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.PutReplica(&lanyard.Replica{ID: "a", PeerURL: "https://a", StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.CreateWorkstation(w)
	})
	const n = 8
	epochs := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rt := &lanyard.AgentRoute{WorkstationID: w.ID, ReplicaID: "a", ConnectedAt: now}
			if err := s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.PutAgentRoute(rt); return err }); err != nil {
				t.Error(err)
			}
			epochs[i] = rt.Epoch
		})
	}
	wg.Wait()
	var maxEpoch int64
	for _, e := range epochs {
		maxEpoch = max(maxEpoch, e)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		rs, err := tx.LiveAgentRoutes(lanyard.AgentRouteFilter{}, now)
		if err == nil && (len(rs) != 1 || rs[0].Epoch != maxEpoch) {
			t.Errorf("routes %v, want one with epoch %d", rs, maxEpoch)
		}
		return err
	})
}
