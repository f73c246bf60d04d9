package lanyard_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// TestRecorder checks on a real store that a change and its audit event
// land together or not at all, and what the event records.
func TestRecorder(t *testing.T) {
	st, err := sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	rec := &lanyard.Recorder{Store: st, Now: func() time.Time { return now }}
	if got, want := rec.Clock(), time.Date(2026, 3, 1, 11, 0, 0, 123456000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Clock() = %v, want %v", got, want)
	}

	p := &lanyard.Principal{User: &lanyard.User{Login: "alice"}, RemoteAddr: "192.0.2.1"}
	refused := errors.New("refused")
	err = rec.Update(t.Context(), func() *lanyard.AuditEvent { return rec.Event(p, "setting.put", "setting", "a", nil) }, func(tx lanyard.Tx) error {
		if err := tx.PutSetting("a", []byte("1")); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Update = %v, want %v", err, refused)
	}
	err = rec.Update(t.Context(), func() *lanyard.AuditEvent {
		return rec.Event(p, "setting.put", "setting", "b", map[string]any{"n": 1})
	}, func(tx lanyard.Tx) error { return tx.PutSetting("b", []byte("1")) })
	if err != nil {
		t.Fatal(err)
	}
	var events []*lanyard.AuditEvent
	err = rec.View(t.Context(), func(tx lanyard.Tx) error {
		if _, err := tx.Setting("a"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("the failed update's write stayed: %v", err)
		}
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "setting.put"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want only the successful update's", len(events))
	}
	e := events[0]
	if e.Actor != "alice" || e.RemoteAddr != "192.0.2.1" || e.ObjectID != "b" || string(e.Details) != `{"n":1}` || !e.Time.Equal(rec.Clock()) {
		t.Errorf("event = %+v", e)
	}
	for _, who := range []*lanyard.Principal{nil, {}, {User: &lanyard.User{}}} {
		if e := rec.Event(who, "x", "y", "z", nil); e.Actor != "system" || e.RemoteAddr != "" {
			t.Errorf("Event(%+v): actor %q, remote %q; want system", who, e.Actor, e.RemoteAddr)
		}
	}
}
