package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestEvent(t *testing.T) {
	e := Event("alice", "card.issue", "card", "42", map[string]any{"serial": "00A1", "templates": []string{"smartcard-logon"}})
	if e.Actor != "alice" || e.Action != "card.issue" || e.ObjectType != "card" || e.ObjectID != "42" {
		t.Fatalf("Event = %+v", e)
	}
	var details map[string]any
	if err := json.Unmarshal(e.Details, &details); err != nil || details["serial"] != "00A1" {
		t.Fatalf("details %s: %v", e.Details, err)
	}
	if !e.Time.IsZero() || e.Seq != 0 || e.Hash != nil {
		t.Fatal("Event filled fields that belong to the caller or the store")
	}
	if Event("system", "ca.crl", "ca", "builtin", nil).Details != nil {
		t.Fatal("no details should encode as nothing")
	}
}

func TestChainLinks(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	es := Chain(
		&lanyard.AuditEvent{Time: t0, Actor: "a"},
		&lanyard.AuditEvent{Time: t0, Actor: "b"},
		&lanyard.AuditEvent{Time: t0, Actor: "c"},
	)
	if es[0].Seq != 1 || es[0].PrevHash != nil {
		t.Fatalf("first event: seq %d prev %x", es[0].Seq, es[0].PrevHash)
	}
	for i, e := range es {
		if e.Seq != int64(i+1) || !bytes.Equal(e.Hash, e.CanonicalHash(e.PrevHash)) || len(e.Hash) != 32 {
			t.Fatalf("event %d not linked: %+v", i, e)
		}
		if i > 0 && !bytes.Equal(e.PrevHash, es[i-1].Hash) {
			t.Fatalf("event %d does not point at event %d", e.Seq, i)
		}
	}
	// Link copies prevHash: a store reusing its buffer must not change
	// the event's link afterwards.
	prev := bytes.Clone(es[2].Hash)
	next := &lanyard.AuditEvent{Time: t0, Actor: "d"}
	Link(next, 3, prev)
	prev[0] ^= 0xff
	if !bytes.Equal(next.PrevHash, es[2].Hash) {
		t.Fatal("Link aliases prevHash")
	}
	// An empty previous hash is stored as nil, like the first event's.
	first := &lanyard.AuditEvent{}
	Link(first, 0, []byte{})
	if first.PrevHash != nil {
		t.Fatal("empty prevHash not normalized to nil")
	}
}

func TestAnchorText(t *testing.T) {
	h := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		in   string
		want Anchor
		bad  bool
	}{
		{"0:", Anchor{}, false},
		{"42:", Anchor{Seq: 42}, false},
		{"42:" + string(bytes.Repeat([]byte("ab"), 32)), Anchor{Seq: 42, Hash: h}, false},
		{"", Anchor{}, true},
		{"42", Anchor{}, true},
		{"-1:", Anchor{}, true},
		{"x:ab", Anchor{}, true},
		{"4:zz", Anchor{}, true},
		{"4:abc", Anchor{}, true},
		{"0:ab", Anchor{}, true},
	}
	for _, tt := range tests {
		var a Anchor
		err := a.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.bad {
			t.Fatalf("UnmarshalText(%q) err = %v, want error %v", tt.in, err, tt.bad)
		}
		if tt.bad {
			continue
		}
		if a.Seq != tt.want.Seq || !bytes.Equal(a.Hash, tt.want.Hash) {
			t.Fatalf("UnmarshalText(%q) = %+v, want %+v", tt.in, a, tt.want)
		}
		out, _ := a.MarshalText()
		if string(out) != tt.in {
			t.Fatalf("MarshalText = %q, want %q", out, tt.in)
		}
	}
	if !(Anchor{}).IsZero() || (Anchor{Seq: 1}).IsZero() {
		t.Fatal("IsZero")
	}
}
