package main

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// lanyard card show says a blocked PIN and the tries left the card gave,
// with where and when; lanyard agent status adds to a reader's card that
// the server says it is disabled or revoked, and its PIN's tries.
func TestPINLines(t *testing.T) {
	n := func(v int) *int { return &v }
	at := time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		pin  apiv1.CardPIN
		want string
	}{
		{apiv1.CardPIN{Blocked: true, TriesLeft: n(0), TriesTotal: n(3), PUKTriesLeft: n(3), ReportedAt: at, Workstation: "pc1"}, "BLOCKED (0 of 3 tries left), PUK 3 tries left; seen at pc1 2026-12-07 15:04Z"},
		{apiv1.CardPIN{TriesLeft: n(2), ReportedAt: at, Workstation: "pc1"}, "2 tries left; seen at pc1 2026-12-07 15:04Z"},
		{apiv1.CardPIN{ReportedAt: at}, "not blocked; set by Lanyard 2026-12-07 15:04Z"},
		{apiv1.CardPIN{Blocked: true, ReportedAt: at}, "BLOCKED; set by Lanyard 2026-12-07 15:04Z"},
	} {
		if got := pinLine(&tc.pin); got != tc.want {
			t.Errorf("pinLine = %q, want %q", got, tc.want)
		}
	}
	r := agentproto.Reader{Name: "r", Present: true, Serial: "7", PIN: &agentproto.PINStatus{Left: 0, Total: 3, PUKLeft: 3}}
	states := []agentproto.CardState{{Serial: "7", State: "revoked", Reason: "lost"}, {Serial: "8", State: "disabled"}}
	if got, want := readerNotes(r, states), ", revoked (lost) by the server: it cannot be used, ask your help desk, PIN blocked: unblock it with lanyard agent unblock or in Self-Service"; got != want {
		t.Errorf("readerNotes = %q, want %q", got, want)
	}
	r.PIN.Left = 2
	if got, want := readerNotes(r, []agentproto.CardState{{Serial: "7", State: "issued"}}), ", PIN: 2 tries left"; got != want {
		t.Errorf("readerNotes of an issued card = %q, want %q", got, want)
	}
	// An automatic update running (agentproto.CardStateUpdating).
	if got, want := readerNotes(r, []agentproto.CardState{{Serial: "7", State: agentproto.CardStateUpdating}}), ", updating card contents: keep the card in the reader, PIN: 2 tries left"; got != want {
		t.Errorf("readerNotes while updating = %q, want %q", got, want)
	}
}
