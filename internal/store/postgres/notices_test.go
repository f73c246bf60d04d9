//go:build integration

package postgres

import (
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
