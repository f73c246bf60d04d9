package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// named describes a kind of object kept under a unique name (card types,
// templates, policies), so that one test checks all of them the same way.
type named[T any] struct {
	kind  string               // as in messages: `card type "x" not found`
	fresh func(name string) *T // every field set
	bare  func(name string) *T // only what is required; list fields nil
	// order is the names ListX must return after creating fresh("beta"),
	// fresh("alpha") and bare("gamma").
	order []string
	// change sets every field but ID, Name and CreatedAt to new values,
	// assigning new slices rather than modifying shared ones.
	change func(*T)

	id        func(*T) int64
	setID     func(*T, int64)
	name      func(*T) string
	setName   func(*T, string)
	createdAt func(*T) *time.Time
	// lists returns the list fields, which bare leaves nil.
	lists func(*T) map[string]bool // field name → is nil

	create func(lanyard.Tx, *T) error
	update func(lanyard.Tx, *T) error
	byName func(lanyard.Tx, string) (*T, error)
	list   func(lanyard.Tx) ([]*T, error)
	delete func(lanyard.Tx, string) error
}

func testNamed[T any](t *testing.T, s lanyard.Store, n named[T]) {
	a, b, bare := n.fresh("beta"), n.fresh("alpha"), n.bare("gamma")
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, x := range []*T{a, b, bare} {
			if err := n.create(tx, x); err != nil {
				return err
			}
		}
		return nil
	})
	if n.id(a) == 0 || n.id(b) == 0 || n.id(bare) == 0 || n.id(a) == n.id(b) || n.id(b) == n.id(bare) {
		t.Fatalf("create %s: ids %d, %d, %d: want distinct, non-zero", n.kind, n.id(a), n.id(b), n.id(bare))
	}
	wantTime(t, n.kind+" CreatedAt after create", *n.createdAt(a), t0)
	for field, isNil := range n.lists(bare) {
		if isNil {
			t.Errorf("create %s with nil %s: the struct's field is still nil, want empty", n.kind, field)
		}
	}

	t.Run("read", func(t *testing.T) {
		MustView(t, s, func(tx lanyard.Tx) error {
			for _, want := range []*T{a, b, bare} {
				got, err := n.byName(tx, n.name(want))
				if err != nil {
					t.Fatalf("by name %q: %v", n.name(want), err)
				}
				equal(t, n.kind+" "+n.name(want), got, want)
			}
			all, err := n.list(tx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, x := range all {
				names = append(names, n.name(x))
			}
			equal(t, "list order", names, n.order)
			_, err = n.byName(tx, "missing")
			wantCode(t, "by name missing", err, lanyard.ENotFound)
			wantMessage(t, "by name missing", err, n.kind+` "missing" not found`)
			return nil
		})
	})

	t.Run("conflict", func(t *testing.T) {
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return n.create(tx, n.fresh("alpha")) })
		wantCode(t, "create duplicate", err, lanyard.EConflict)
		wantMessage(t, "create duplicate", err, n.kind+` "alpha" already exists`)
	})

	t.Run("update", func(t *testing.T) {
		upd := *a
		n.change(&upd)
		*n.createdAt(&upd) = at(-time.Hour) // must be ignored: CreatedAt is fixed at creation
		MustUpdate(t, s, func(tx lanyard.Tx) error { return n.update(tx, &upd) })
		want := upd
		*n.createdAt(&want) = *n.createdAt(a)
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := n.byName(tx, n.name(a))
			if err != nil {
				return err
			}
			equal(t, "updated "+n.kind, got, &want)
			return nil
		})

		missing := *a
		n.setID(&missing, 999_999)
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return n.update(tx, &missing) })
		wantCode(t, "update missing", err, lanyard.ENotFound)

		rename := *b
		n.setName(&rename, n.name(a))
		err = s.Update(t.Context(), func(tx lanyard.Tx) error { return n.update(tx, &rename) })
		wantCode(t, "rename onto an existing name", err, lanyard.EConflict)
	})

	t.Run("delete", func(t *testing.T) {
		MustUpdate(t, s, func(tx lanyard.Tx) error { return n.delete(tx, "alpha") })
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return n.delete(tx, "alpha") })
		wantCode(t, "delete twice", err, lanyard.ENotFound)
		MustView(t, s, func(tx lanyard.Tx) error {
			_, err := n.byName(tx, "alpha")
			wantCode(t, "by name after delete", err, lanyard.ENotFound)
			all, err := n.list(tx)
			if err != nil {
				return err
			}
			if len(all) != 2 {
				t.Errorf("list after delete: %d %ss, want 2", len(all), n.kind)
			}
			return nil
		})
	})
}
