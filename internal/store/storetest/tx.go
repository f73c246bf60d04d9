package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// nothingPersisted fails tb if user login, setting "marker" or any audit
// event exists.
func nothingPersisted(tb testing.TB, s lanyard.Store, login string) {
	tb.Helper()
	MustView(tb, s, func(tx lanyard.Tx) error {
		_, err := tx.UserByLogin(login)
		wantCode(tb, "user from a rolled-back transaction", err, lanyard.ENotFound)
		_, err = tx.Setting("marker")
		wantCode(tb, "setting from a rolled-back transaction", err, lanyard.ENotFound)
		events, err := tx.ListAudit(lanyard.AuditFilter{})
		if err != nil {
			return err
		}
		if len(events) != 0 {
			tb.Errorf("%d audit events from a rolled-back transaction", len(events))
		}
		return nil
	})
}

// writeAll makes one write of each kind that rollback must undo.
func writeAll(tx lanyard.Tx, login string) error {
	if err := tx.CreateUser(NewUser(login)); err != nil {
		return err
	}
	if err := tx.PutSetting("marker", []byte("x")); err != nil {
		return err
	}
	return tx.AppendAudit(NewEvent("alice", "user.create", "user", login, 0))
}

func testRollback(t *testing.T, s lanyard.Store) {
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		if err := writeAll(tx, "ghost"); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want fn's error unchanged", err)
	}
	nothingPersisted(t, s, "ghost")

	// The chain head read by the rolled-back transaction is not reused.
	e := NewEvent("alice", "after.rollback", "", "", 0)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.AppendAudit(e) })
	if e.Seq != 1 || len(e.PrevHash) != 0 {
		t.Errorf("first event after a rollback: Seq %d, PrevHash %x; want 1 and none", e.Seq, e.PrevHash)
	}
}

func testPanic(t *testing.T, s lanyard.Store) {
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want the panic to propagate from Update", r)
			}
		}()
		_ = s.Update(t.Context(), func(tx lanyard.Tx) error {
			if err := writeAll(tx, "ghost"); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()
	nothingPersisted(t, s, "ghost")
	// The store is still usable: the connection went back to the pool.
	MustCreateUser(t, s, "after-panic")
}

// testPoisoned: once a statement fails, the transaction cannot commit, even
// if fn ignores the error. PostgreSQL works this way by itself; the
// contract makes every engine do the same.
func testPoisoned(t *testing.T, s lanyard.Store) {
	MustCreateUser(t, s, "taken")
	var later error
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		if err := writeAll(tx, "ghost"); err != nil {
			return err
		}
		_ = tx.CreateUser(NewUser("taken")) // EConflict, ignored
		later = tx.CreateUser(NewUser("another"))
		return nil
	})
	wantCode(t, "Update after an ignored conflict", err, lanyard.EConflict)
	if later == nil {
		t.Error("a write after a failed statement succeeded")
	}
	nothingPersisted(t, s, "ghost")
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.UserByLogin("another")
		wantCode(t, "user written after the failure", err, lanyard.ENotFound)
		return nil
	})

	// Look-ups that find nothing are not failures.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if _, err := tx.UserByLogin("nobody"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("UserByLogin(nobody) = %v, want ENotFound", err)
		}
		return tx.CreateUser(NewUser("after-miss"))
	})
}

// testViewReadOnly: View cannot write. The write fails (how depends on the
// engine), View reports an error, and nothing is stored.
func testViewReadOnly(t *testing.T, s lanyard.Store) {
	writes := map[string]func(lanyard.Tx) error{
		"CreateUser":  func(tx lanyard.Tx) error { return tx.CreateUser(NewUser("ghost")) },
		"PutSetting":  func(tx lanyard.Tx) error { return tx.PutSetting("marker", []byte("x")) },
		"AppendAudit": func(tx lanyard.Tx) error { return tx.AppendAudit(NewEvent("a", "b", "", "", 0)) },
	}
	for name, write := range writes {
		var werr error
		err := s.View(t.Context(), func(tx lanyard.Tx) error {
			werr = write(tx)
			return nil
		})
		if werr == nil {
			t.Errorf("%s inside View succeeded", name)
		}
		if err == nil {
			t.Errorf("View returned no error after a failed %s", name)
		}
	}
	nothingPersisted(t, s, "ghost")
}

func testCanceled(t *testing.T, s lanyard.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx lanyard.Tx) error { called = true; return writeAll(tx, "ghost") })
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	if called {
		t.Error("Update ran fn with a canceled context")
	}
	nothingPersisted(t, s, "ghost")
}
