package postgres

import (
	"strconv"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestMigrateCardSecrets: migration 0013 on cards issued before it.
func TestMigrateCardSecrets(t *testing.T) {
	u := freshSchema(t)
	raw, err := OpenRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	rebind := func(q string) string {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	storetest.MigrateCardSecrets(t, "postgres", raw, rebind, func() lanyard.Store {
		db, err := Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
