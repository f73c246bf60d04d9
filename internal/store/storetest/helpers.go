package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MustUpdate runs fn in s.Update and fails tb on error.
func MustUpdate(tb testing.TB, s lanyard.Store, fn func(tx lanyard.Tx) error) {
	tb.Helper()
	if err := s.Update(tb.Context(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// MustView runs fn in s.View and fails tb on error.
func MustView(tb testing.TB, s lanyard.Store, fn func(tx lanyard.Tx) error) {
	tb.Helper()
	if err := s.View(tb.Context(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// wantCode fails tb unless err is a *lanyard.Error with code.
func wantCode(tb testing.TB, what string, err error, code string) {
	tb.Helper()
	if err == nil {
		tb.Errorf("%s: no error, want %s", what, code)
		return
	}
	if got := lanyard.ErrorCode(err); got != code {
		tb.Errorf("%s: error %v has code %s, want %s", what, err, got, code)
	}
}

// wantMessage fails tb unless err's user-safe message is msg.
func wantMessage(tb testing.TB, what string, err error, msg string) {
	tb.Helper()
	if got := lanyard.ErrorMessage(err); got != msg {
		tb.Errorf("%s: message %q, want %q", what, got, msg)
	}
}

// equal fails tb unless got and want are deeply equal, naming the fields
// that differ.
func equal(tb testing.TB, what string, got, want any) {
	tb.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	tb.Errorf("%s differs:\n%s", what, diff(got, want))
}

// diff describes how got differs from want: field by field for structs
// and pointers to structs, element by element for slices.
func diff(got, want any) string {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Kind() == reflect.Pointer && w.Kind() == reflect.Pointer && !g.IsNil() && !w.IsNil() {
		g, w = g.Elem(), w.Elem()
	}
	switch {
	case g.Kind() == reflect.Struct && g.Type() == w.Type() && g.Type() != reflect.TypeFor[time.Time]():
		var b strings.Builder
		for i := range g.NumField() {
			gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
			if !reflect.DeepEqual(gf, wf) {
				fmt.Fprintf(&b, "  %s: got %s, want %s\n", g.Type().Field(i).Name, show(gf), show(wf))
			}
		}
		return b.String()
	case g.Kind() == reflect.Slice && w.Kind() == reflect.Slice && g.Type() == w.Type():
		if g.IsNil() != w.IsNil() {
			return fmt.Sprintf("  got %s, want %s\n", show(got), show(want))
		}
		if g.Len() != w.Len() {
			return fmt.Sprintf("  got %d elements, want %d:\n  got  %s\n  want %s\n", g.Len(), w.Len(), show(got), show(want))
		}
		var b strings.Builder
		for i := range g.Len() {
			if !reflect.DeepEqual(g.Index(i).Interface(), w.Index(i).Interface()) {
				fmt.Fprintf(&b, " [%d]:\n%s", i, diff(g.Index(i).Interface(), w.Index(i).Interface()))
			}
		}
		return b.String()
	}
	return fmt.Sprintf("  got %s, want %s\n", show(got), show(want))
}

// show formats v, making nil and empty slices distinguishable.
func show(v any) string {
	r := reflect.ValueOf(v)
	if r.Kind() == reflect.Slice && r.IsNil() {
		return "nil"
	}
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano) + " (" + t.Location().String() + ")"
	}
	return fmt.Sprintf("%#v", v)
}

// wantTime fails tb unless got is orig as the store keeps it: the same
// instant truncated to the microsecond, in UTC.
func wantTime(tb testing.TB, what string, got, orig time.Time) {
	tb.Helper()
	want := orig.Truncate(time.Microsecond)
	if !got.Equal(want) || got.Location() != time.UTC {
		tb.Errorf("%s = %s, want %s in UTC", what, show(got), want.UTC().Format(time.RFC3339Nano))
	}
}

// wantIDs fails tb unless the items' IDs (by id) are want, in order, and
// the list is not nil.
func wantIDs[T any](tb testing.TB, what string, items []*T, id func(*T) int64, want ...int64) {
	tb.Helper()
	if items == nil {
		tb.Errorf("%s: nil list, want an empty one", what)
	}
	got := []int64{}
	for _, it := range items {
		got = append(got, id(it))
	}
	if want == nil {
		want = []int64{}
	}
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("%s: ids %v, want %v", what, got, want)
	}
}
