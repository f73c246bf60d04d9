package notices

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestMake: kinds and payloads are checked; an oversized payload becomes
// a Lost notice rather than an error.
func TestMake(t *testing.T) {
	if _, err := Make("Cache", "x"); !lanyard.IsCode(err, lanyard.EInternal) {
		t.Fatalf("upper-case kind: %v, want EInternal", err)
	}
	if _, err := Make("", "x"); !lanyard.IsCode(err, lanyard.EInternal) {
		t.Fatalf("empty kind: %v, want EInternal", err)
	}
	if _, err := Make(lanyard.NoticeCache, "a\x00b"); !lanyard.IsCode(err, lanyard.EInternal) {
		t.Fatalf("NUL in payload: %v, want EInternal", err)
	}
	n, err := Make(lanyard.NoticeCache, strings.Repeat("x", lanyard.MaxNoticePayload))
	if err != nil || n.Lost {
		t.Fatalf("payload at the limit: %+v, %v", n, err)
	}
	n, err = Make(lanyard.NoticeCache, strings.Repeat("x", lanyard.MaxNoticePayload+1))
	if err != nil || !n.Lost {
		t.Fatalf("payload over the limit: %+v, %v; want a Lost notice", n, err)
	}
	// What travels stays under PostgreSQL's 8000 bytes.
	if w := Encode(strings.Repeat("f", 16), Notice{Kind: lanyard.NoticeKind(strings.Repeat("k", 32)), Payload: strings.Repeat("x", lanyard.MaxNoticePayload)}); len(w) >= 8000 {
		t.Fatalf("a notice at the limit travels as %d bytes", len(w))
	}
}

// TestBus: subscribers get their kind only, cancel stops them, Lost
// reaches OnLost handlers, and a queue delivers each notice once.
func TestBus(t *testing.T) {
	var b Bus
	var got []string
	lost := 0
	cancel := b.Subscribe(lanyard.NoticeUser, func(p string) { got = append(got, p) })
	b.OnLost(func() { lost++ })
	var q Queue
	for _, n := range []Notice{{Kind: lanyard.NoticeUser, Payload: "1"}, {Kind: lanyard.NoticeCache, Payload: "x"}, {Kind: lanyard.NoticeUser, Payload: "1"}, {Kind: lanyard.NoticeUser, Payload: "2"}, {Lost: true}} {
		q.Add(n)
	}
	for _, n := range q.List() {
		b.Deliver(n)
	}
	if strings.Join(got, " ") != "1 2" || lost != 1 {
		t.Fatalf("delivered %q and %d losses; want \"1 2\" and 1", got, lost)
	}
	cancel()
	b.Deliver(Notice{Kind: lanyard.NoticeUser, Payload: "3"})
	if len(got) != 2 {
		t.Fatalf("a cancelled subscription got %q", got)
	}
}

// TestWire: notices survive Encode and Decode.
func TestWire(t *testing.T) {
	for _, n := range []Notice{{Kind: lanyard.NoticeAirCards, Payload: "1,2"}, {Kind: lanyard.NoticeCache, Payload: ""}, {Kind: lanyard.NoticeCache, Payload: "sso 3 x"}, {Lost: true}} {
		origin, back, ok := Decode(Encode("ab12", n))
		if !ok || origin != "ab12" || back != n {
			t.Errorf("Decode(Encode(%+v)) = %q, %+v, %v", n, origin, back, ok)
		}
	}
	for _, s := range []string{"", "x", " cache p", "o Cache p", "o cache"} {
		if _, _, ok := Decode(s); ok {
			t.Errorf("Decode(%q) accepted", s)
		}
	}
}

// FuzzDecode: any text either decodes to a notice that encodes back to
// the same text, or is refused; nothing panics.
func FuzzDecode(f *testing.F) {
	f.Add("0123456789abcdef cache templates")
	f.Add("o !")
	f.Add("o aircards 1,2,3")
	f.Fuzz(func(t *testing.T, s string) {
		origin, n, ok := Decode(s)
		if !ok {
			return
		}
		if Encode(origin, n) != s {
			t.Fatalf("Decode(%q) = %q, %+v: encodes back differently", s, origin, n)
		}
	})
}

// TestIDs: ID payloads round-trip, and NotifyIDs splits long lists.
func TestIDs(t *testing.T) {
	if got := lanyard.ParseIDs(lanyard.FormatIDs(1, 22, 333)); len(got) != 3 || got[2] != 333 {
		t.Fatalf("ParseIDs(FormatIDs) = %v", got)
	}
	if got := lanyard.ParseIDs("1,x,,-3,4"); len(got) != 2 || got[0] != 1 || got[1] != 4 {
		t.Fatalf("ParseIDs skips junk: %v", got)
	}
	var q queueTx
	ids := make([]int64, 1000)
	for i := range ids {
		ids[i] = int64(1e15) + int64(i)
	}
	if err := lanyard.NotifyIDs(&q, lanyard.NoticeAirCards, ids...); err != nil {
		t.Fatal(err)
	}
	var back []int64
	for _, n := range q.List() {
		if n.Lost || len(n.Payload) > lanyard.MaxNoticePayload {
			t.Fatalf("a notice of NotifyIDs is too large: %d bytes", len(n.Payload))
		}
		back = append(back, lanyard.ParseIDs(n.Payload)...)
	}
	if len(q.List()) < 2 || len(back) != len(ids) {
		t.Fatalf("NotifyIDs sent %d notices with %d IDs; want several with %d", len(q.List()), len(back), len(ids))
	}
}

// queueTx is a NoticeStore over a Queue.
type queueTx struct{ Queue }

func (q *queueTx) Notify(kind lanyard.NoticeKind, payload string) error {
	n, err := Make(kind, payload)
	if err == nil {
		q.Add(n)
	}
	return err
}
