package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// faultyStore is a real store whose next Update can be made to fail
// (before it reaches the database, or after its function ran, rolling
// it back) or to wait until released.
type faultyStore struct {
	lanyard.Store
	mu     sync.Mutex
	mode   string        // "", "before", "after", "block"
	held   chan struct{} // closed once a blocked Update waits
	resume chan struct{} // a blocked Update goes on when closed
}

var errInjected = errors.New("injected failure")

func (f *faultyStore) arm(mode string) {
	f.mu.Lock()
	f.mode = mode
	if mode == "block" {
		f.held, f.resume = make(chan struct{}), make(chan struct{})
	}
	f.mu.Unlock()
}

func (f *faultyStore) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	f.mu.Lock()
	mode, held, resume := f.mode, f.held, f.resume
	f.mode = ""
	f.mu.Unlock()
	switch mode {
	case "before":
		return errInjected
	case "after":
		err := f.Store.Update(ctx, func(tx lanyard.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			return errInjected
		})
		return err
	case "block":
		close(held)
		<-resume
	}
	return f.Store.Update(ctx, fn)
}

func routesOf(t *testing.T, st lanyard.Store, id int64) []*lanyard.AgentRoute {
	t.Helper()
	var rs []*lanyard.AgentRoute
	storetest.MustView(t, st, func(tx lanyard.Tx) (err error) {
		rs, err = tx.LiveAgentRoutes(lanyard.AgentRouteFilter{IDs: []int64{id}}, time.Time{})
		return err
	})
	return rs
}

// TestRouteRetryKeepsItsEpoch: a connection's first route write fails
// (after its epoch was drawn, or before the database answered), the agent
// reconnects to B, and only then does A's heartbeat retry the write: the
// retry must not outrank B's newer route, and A's release must leave it.
func TestRouteRetryKeepsItsEpoch(t *testing.T) {
	for _, mode := range []string{"after", "before"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			raw, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			ws := storetest.NewWorkstation("pc-1", "1111111111111111", 0)
			storetest.MustUpdate(t, raw, func(tx lanyard.Tx) error { return tx.CreateWorkstation(ws) })
			clk := &clock{now: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}
			st := &faultyStore{Store: raw}
			a := stoppedReplica(t, st, clk, "aaaa")
			b := stoppedReplica(t, raw, clk, "bbbb")

			st.arm(mode)
			releaseA := a.AgentConnected(ws.ID)
			if rs := routesOf(t, raw, ws.ID); len(rs) != 0 {
				t.Fatalf("the failed write left a route: %+v", rs[0])
			}
			clk.Add(time.Second)
			releaseB := b.AgentConnected(ws.ID)
			a.beat(ctx) // A's retry
			if got := locate(t, a, ws.ID); got != "bbbb" {
				t.Errorf("after A's retry the route leads to %q, want bbbb (the newer connection)", got)
			}
			releaseA()
			if got := locate(t, a, ws.ID); got != "bbbb" {
				t.Errorf("after A's release the route leads to %q, want bbbb", got)
			}
			releaseB()
			if rs := routesOf(t, raw, ws.ID); len(rs) != 0 {
				t.Errorf("B's release left a route: %+v", rs[0])
			}
		})
	}
}

// TestRouteHeartbeatDuringFirstWrite: a heartbeat while a connection's
// first route write is still running must not write the route a second
// time with another epoch; the release then removes the route written.
func TestRouteHeartbeatDuringFirstWrite(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ws := storetest.NewWorkstation("pc-1", "1111111111111111", 0)
	storetest.MustUpdate(t, raw, func(tx lanyard.Tx) error { return tx.CreateWorkstation(ws) })
	clk := &clock{now: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}
	st := &faultyStore{Store: raw}
	a := stoppedReplica(t, st, clk, "aaaa")

	st.arm("block")
	held := st.held
	rel := make(chan func())
	go func() { rel <- a.AgentConnected(ws.ID) }()
	<-held
	a.beat(ctx) // runs while the first write waits
	close(st.resume)
	release := <-rel
	rs := routesOf(t, raw, ws.ID)
	if len(rs) != 1 || rs[0].ReplicaID != "aaaa" {
		t.Fatalf("routes after the connection: %+v", rs)
	}
	release()
	if rs := routesOf(t, raw, ws.ID); len(rs) != 0 {
		t.Errorf("the release left route epoch %d (the connection held another epoch)", rs[0].Epoch)
	}
}

// TestRouteHeartbeatBeforeFirstWrite: a heartbeat between AgentConnected
// recording a connection and starting its first route write must leave
// that write to AgentConnected (were the heartbeat's write still running,
// AgentConnected would return at once and the hub announce a connection
// whose route is not in the database); AgentConnected returns with the
// route written.
func TestRouteHeartbeatBeforeFirstWrite(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ws := storetest.NewWorkstation("pc-1", "1111111111111111", 0)
	storetest.MustUpdate(t, raw, func(tx lanyard.Tx) error { return tx.CreateWorkstation(ws) })
	clk := &clock{now: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}
	a := stoppedReplica(t, raw, clk, "aaaa")
	beats := 0
	a.connecting = func() {
		a.beat(ctx)
		beats++
		if rs := routesOf(t, raw, ws.ID); len(rs) != 0 {
			t.Errorf("the heartbeat made the connection's first route write (epoch %d)", rs[0].Epoch)
		}
	}
	release := a.AgentConnected(ws.ID)
	if beats != 1 {
		t.Fatalf("heartbeats during the connection: %d", beats)
	}
	if rs := routesOf(t, raw, ws.ID); len(rs) != 1 || rs[0].ReplicaID != "aaaa" {
		t.Fatalf("routes once AgentConnected returned: %+v", rs)
	}
	release()
	if rs := routesOf(t, raw, ws.ID); len(rs) != 0 {
		t.Errorf("the release left route epoch %d", rs[0].Epoch)
	}
}
