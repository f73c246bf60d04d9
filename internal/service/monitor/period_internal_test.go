package monitor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// TestPeriodicRunOncePerInterval: the periodic run (Run's look) of two
// replicas' monitors runs once per Interval between them: after one
// replica's run the other's look, and its own next look, skip until an
// Interval has passed; RunOnce (run now) is not held to the Interval.
func TestPeriodicRunOncePerInterval(t *testing.T) {
	st, err := sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	replica := func(holder string) *Monitor {
		m, err := New(Config{Store: st, Now: clock.Now, Holder: holder, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := replica("replica-a"), replica("replica-b")
	look := func(m *Monitor, want bool) {
		t.Helper()
		res, err := m.run(t.Context(), m.cfg.Interval)
		if err != nil {
			t.Fatal(err)
		}
		if ran := !res.Skipped; ran != want {
			t.Fatalf("%s at %s: ran %v, want %v", m.cfg.Holder, clock.Now().Format(time.TimeOnly), ran, want)
		}
	}
	look(a, true) // the first run
	look(b, false)
	look(a, false)
	clock.Add(59 * time.Minute)
	look(b, false)
	clock.Add(time.Minute)
	look(b, true)
	look(a, false)
	if res, err := a.RunOnce(t.Context()); err != nil || res.Skipped {
		t.Fatalf("run now: %+v, %v", res, err)
	}
}
