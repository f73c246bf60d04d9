package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testTLS is a peer link's certificates, self-signed (the directory
// keeps their serials; no connection is made here).
func testTLS(t *testing.T) *PeerTLS {
	t.Helper()
	mk := func(serial int64) *tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<40))
	s, c := mk(n.Int64()*2+1), mk(n.Int64()*2+2)
	return &PeerTLS{Server: s, Client: c, Root: s.Leaf}
}

// stoppedReplica is a replica registered at the clock's time whose
// heartbeat loop does not run: the test beats it by hand.
func stoppedReplica(t *testing.T, st lanyard.Store, clk *clock, id string) *Cluster {
	t.Helper()
	c, err := New(Config{Store: st, ID: id, Heartbeat: time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), Membership{PeerURL: "https://127.0.0.1:1", TLS: testTLS(t)}); err != nil {
		t.Fatal(err)
	}
	c.stop() // no loop: beats by hand
	<-c.done
	return c
}

func locate(t *testing.T, c *Cluster, id int64) string {
	t.Helper()
	r, err := c.Locate(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRoutesAndExpiry: a connection's route leads the other replicas to
// it; a replica silent for five heartbeats counts as gone and its routes
// as offline until it beats again; one purged meanwhile registers again
// with its routes; a stale disconnect leaves a newer route; a clean
// shutdown removes the replica and its routes.
func TestRoutesAndExpiry(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws := storetest.NewWorkstation("pc-1", "1111111111111111", 0)
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error { return tx.CreateWorkstation(ws) })
	clk := &clock{now: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}
	a := stoppedReplica(t, st, clk, "aaaa")
	b := stoppedReplica(t, st, clk, "bbbb")

	releaseA := a.AgentConnected(ws.ID)
	if got := locate(t, b, ws.ID); got != "aaaa" {
		t.Fatalf("B locates the workstation at %q, want aaaa", got)
	}
	if got := locate(t, a, ws.ID); got != "" {
		t.Errorf("A locates its own workstation at %q, want here", got)
	}

	clk.Add(4 * time.Second)
	if got := locate(t, b, ws.ID); got != "aaaa" {
		t.Errorf("after 4 s silent: %q, want aaaa (5 heartbeats not yet missed)", got)
	}
	clk.Add(2 * time.Second)
	if got := locate(t, b, ws.ID); got != "" {
		t.Errorf("after 6 s silent: %q, want offline", got)
	}
	a.beat(ctx)
	if got := locate(t, b, ws.ID); got != "aaaa" {
		t.Errorf("after A beat again: %q, want aaaa", got)
	}

	// A stalls for hours; B purges it; A comes back and registers again
	// with its route.
	clk.Add(2 * time.Hour)
	b.beat(ctx)
	b.purge(ctx, clk.Now())
	storetest.MustView(t, st, func(tx lanyard.Tx) error {
		live, err := tx.LiveReplicas(time.Time{})
		if err == nil && (len(live) != 1 || live[0].ID != "bbbb") {
			t.Errorf("after the purge: %v", live)
		}
		return err
	})
	a.beat(ctx)
	if got := locate(t, b, ws.ID); got != "aaaa" {
		t.Errorf("after A registered again: %q, want aaaa", got)
	}

	// The agent reconnects to B before A notices its old connection
	// ended: A's late release must leave B's route.
	releaseB := b.AgentConnected(ws.ID)
	releaseA()
	if got := locate(t, a, ws.ID); got != "bbbb" {
		t.Errorf("after A's stale release: %q, want bbbb", got)
	}
	releaseB()
	if got := locate(t, a, ws.ID); got != "" {
		t.Errorf("after B's release: %q, want offline", got)
	}

	b.AgentConnected(ws.ID)
	b.Close(ctx)
	if got := locate(t, a, ws.ID); got != "" {
		t.Errorf("after B's shutdown: %q, want offline", got)
	}
	storetest.MustView(t, st, func(tx lanyard.Tx) error {
		rs, err := tx.LiveAgentRoutes(lanyard.AgentRouteFilter{}, time.Time{})
		if err == nil && len(rs) != 0 {
			t.Errorf("B's routes outlived its shutdown: %v", rs)
		}
		return err
	})
	a.Close(ctx)
}

// TestAirSessionsExpire: AirCard sessions another replica opened are its
// own, and end when idle.
func TestAirSessionsExpire(t *testing.T) {
	s := newAirSessions(time.Minute)
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	sess := &fakeSession{}
	id := s.add("a", sess, now)
	if _, ok := s.get("b", id, now); ok {
		t.Error("replica b used replica a's session")
	}
	if _, ok := s.get("a", id, now.Add(50*time.Second)); !ok {
		t.Error("a's session is gone")
	}
	s.expire(now.Add(100 * time.Second))
	if sess.closed {
		t.Error("a session used 50 s ago expired after a minute")
	}
	s.expire(now.Add(111 * time.Second))
	if !sess.closed {
		t.Error("an idle session did not expire")
	}
	if _, ok := s.get("a", id, now); ok {
		t.Error("an expired session is still found")
	}
}

type fakeSession struct{ closed bool }

func (f *fakeSession) Transmit(context.Context, []byte) ([]byte, error) { return nil, nil }
func (f *fakeSession) Close() error                                     { f.closed = true; return nil }
