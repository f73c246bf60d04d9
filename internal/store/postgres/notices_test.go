//go:build integration

package postgres

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// Two replicas on one schema hear each other's notices; a third store on
// another schema of the same database (another cluster) hears neither.
func TestNoticesAcrossReplicas(t *testing.T) {
	u := freshSchema(t)
	a, b, other := open(t, u), open(t, u), open(t, freshSchema(t))
	defer a.Close()
	defer b.Close()
	defer other.Close()
	storetest.NoticesAcrossReplicas(t, a, b, other)
}

// A listener that loses its connection connects again and runs every
// OnLost handler (notices sent meanwhile are gone), then hears notices
// again.
func TestNoticesReconnect(t *testing.T) {
	u := freshSchema(t)
	a, b := open(t, u), open(t, u)
	defer a.Close()
	defer b.Close()
	var lost atomic.Int32
	defer a.Notices().OnLost(func() { lost.Add(1) })()
	var heard atomic.Value
	defer a.Notices().Subscribe(lanyard.NoticePairing, func(p string) { heard.Store(p) })()

	raw, err := OpenRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// Both stores' listeners LISTEN on the cluster's channel; end them.
	ch, err := noticeChannel(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := raw.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'lanyard notices' AND query = 'listen "' || $1 || '"'`, ch)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("terminated %d listeners, want 2", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lost.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("OnLost did not run after the listener's connection was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// b's listener is back too (or will be: b sends regardless); a hears b.
	storetest.MustUpdate(t, b, func(tx lanyard.Tx) error { return tx.Notify(lanyard.NoticePairing, "42") })
	for heard.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a notice after the reconnection did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := heard.Load().(string); got != "42" {
		t.Fatalf("heard %q", got)
	}
}

// Two clusters sharing a cluster_id — a schema restored into the same
// database under another name — do not hear each other: the channel is
// named after the schema too.
func TestNoticesSameClusterIDOtherSchema(t *testing.T) {
	u, v := freshSchema(t), freshSchema(t)
	a, b := open(t, u), open(t, u)
	defer a.Close()
	defer b.Close()
	first := open(t, v) // migrates v, with an ID of its own
	first.Close()
	raw, err := OpenRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var id []byte
	if err := raw.QueryRow(`SELECT value FROM settings WHERE name = $1`, clusterIDSetting).Scan(&id); err != nil {
		t.Fatal(err)
	}
	rawV, err := OpenRaw(v)
	if err != nil {
		t.Fatal(err)
	}
	defer rawV.Close()
	if _, err := rawV.Exec(`UPDATE settings SET value = $1 WHERE name = $2`, id, clusterIDSetting); err != nil {
		t.Fatal(err)
	}
	restored := open(t, v)
	defer restored.Close()
	storetest.NoticesAcrossReplicas(t, a, b, restored)
}

// stallConn holds back what its connection reads once stalled, as a
// half-open connection would (the peer gone without a FIN or RST): the
// reader blocks until the connection is closed.
type stallConn struct {
	net.Conn
	stalled   atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *stallConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.stalled.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return n, err
}

func (c *stallConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A listener whose connection stops delivering without failing — no
// notification, not even its own heartbeat, arrives — gives the
// connection up after the timeout, connects again and runs every OnLost
// handler; then it hears notices again. A healthy connection is kept.
func TestNoticesHeartbeat(t *testing.T) {
	u := freshSchema(t)
	var mu sync.Mutex
	var conns []*stallConn
	lc := listenConfig{heartbeat: 100 * time.Millisecond, timeout: 500 * time.Millisecond, wrap: func(c net.Conn) net.Conn {
		s := &stallConn{Conn: c, closed: make(chan struct{})}
		mu.Lock()
		conns = append(conns, s)
		mu.Unlock()
		return s
	}}
	a, err := openStore(t.Context(), u, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := open(t, u)
	defer b.Close()
	var lost atomic.Int32
	defer a.Notices().OnLost(func() { lost.Add(1) })()
	var heard atomic.Value
	defer a.Notices().Subscribe(lanyard.NoticePairing, func(p string) { heard.Store(p) })()

	time.Sleep(4 * lc.timeout / 2)
	if n := lost.Load(); n != 0 {
		t.Fatalf("a healthy listener connected again %d times", n)
	}
	mu.Lock()
	if len(conns) != 1 {
		t.Fatalf("%d listener connections, want 1", len(conns))
	}
	conns[0].stalled.Store(true)
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for lost.Load() == 0 {
		if time.Now().After(deadline) {
			conns[0].Close() // or the store's Close waits for it for ever
			t.Fatal("OnLost did not run after the listener's connection stopped delivering")
		}
		time.Sleep(10 * time.Millisecond)
	}
	storetest.MustUpdate(t, b, func(tx lanyard.Tx) error { return tx.Notify(lanyard.NoticePairing, "7") })
	for heard.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a notice after the reconnection did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := heard.Load().(string); got != "7" {
		t.Fatalf("heard %q", got)
	}
}

// A listener whose heartbeat cannot be sent (the pool exhausted) hears
// nothing for long past the timeout on a healthy connection: that is no
// sign of a dead connection, which it keeps — no reconnection, no OnLost
// on every replica every timeout — and notices still arrive on it.
func TestNoticesHeartbeatNotSent(t *testing.T) {
	u := freshSchema(t)
	var sends atomic.Int32
	lc := listenConfig{heartbeat: 100 * time.Millisecond, timeout: 300 * time.Millisecond,
		send: func(context.Context, *sql.DB, string) error {
			sends.Add(1)
			return errors.New("injected: no pool connection free")
		}}
	a, err := openStore(t.Context(), u, lc)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var lost atomic.Int32
	defer a.Notices().OnLost(func() { lost.Add(1) })()
	time.Sleep(5 * lc.timeout)
	if n := sends.Load(); n < 5 {
		t.Fatalf("%d heartbeats tried, want one every %v", n, lc.heartbeat)
	}
	if n := lost.Load(); n != 0 {
		t.Fatalf("a healthy listener whose heartbeats could not be sent connected again %d times", n)
	}
	b := open(t, u)
	defer b.Close()
	var heard atomic.Value
	defer a.Notices().Subscribe(lanyard.NoticePairing, func(p string) { heard.Store(p) })()
	storetest.MustUpdate(t, b, func(tx lanyard.Tx) error { return tx.Notify(lanyard.NoticePairing, "8") })
	deadline := time.Now().Add(10 * time.Second)
	for heard.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a notice did not arrive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
