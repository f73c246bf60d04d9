package audit

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// FuzzVerifyDetectsChange changes one field of one event of an anchored
// chain to arbitrary content. Whatever the change, Verify must not call
// the chain intact, and must name the changed event or an earlier one.
func FuzzVerifyDetectsChange(f *testing.F) {
	f.Add(uint8(0), uint8(0), "mallory")
	f.Add(uint8(19), uint8(5), `{"i":1}`)
	f.Add(uint8(7), uint8(7), "\x00")
	f.Add(uint8(3), uint8(8), "")
	f.Fuzz(func(t *testing.T, idx, which uint8, value string) {
		const n = 20
		events := chainOf(n)
		head := Anchor{Seq: n, Hash: events[n-1].Hash}
		e := events[int(idx)%n]
		before := *e
		switch which % 10 {
		case 0:
			e.Actor = value
		case 1:
			e.Action = value
		case 2:
			e.ObjectType = value
		case 3:
			e.ObjectID = value
		case 4:
			e.RemoteAddr = value
		case 5:
			e.Details = []byte(value)
		case 6:
			e.PrevHash = []byte(value)
		case 7:
			e.Hash = []byte(value)
		case 8:
			var d int64
			for _, c := range []byte(value) {
				d = d*31 + int64(c)
			}
			e.Time = e.Time.Add(time.Duration(d) * time.Microsecond)
		case 9:
			// Move the event elsewhere in the sequence.
			var d int64
			for _, c := range []byte(value) {
				d = d*31 + int64(c)
			}
			e.Seq += d
		}
		if same(&before, e) {
			return
		}
		rep, err := Verify(context.Background(), storePages(events, nil), head)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK {
			t.Fatalf("change to event %d (field %d) not detected", before.Seq, which%10)
		}
		if rep.FirstBad > before.Seq {
			t.Fatalf("change to event %d reported at %d (%s)", before.Seq, rep.FirstBad, rep.Problem)
		}
	})
}

func same(a, b *lanyard.AuditEvent) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Actor == b.Actor && a.Action == b.Action &&
		a.ObjectType == b.ObjectType && a.ObjectID == b.ObjectID && a.RemoteAddr == b.RemoteAddr &&
		string(a.Details) == string(b.Details) && string(a.PrevHash) == string(b.PrevHash) && string(a.Hash) == string(b.Hash)
}
