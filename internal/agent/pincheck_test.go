package agent

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// The inventory reads a card's PIN status with its serial, and again on
// each check: wrong PINs typed into another application show, the card's
// generation stays (a server session on it goes on), an application that
// verified the PIN keeps it verified (the check does not SELECT a card
// that answers), the periodic check sees a block on its own, and a check
// after a session reports an unchanged status again.
func TestInventoryPINChecks(t *testing.T) {
	m := NewMemReaders("r")
	card, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Insert("r", card); err != nil {
		t.Fatal(err)
	}
	inv := newInventory(m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inv.run(ctx)
	pinIs := func(what string, want agentproto.PINStatus) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			rs, _ := inv.snapshot()
			if len(rs) == 1 && rs[0].PIN != nil && *rs[0].PIN == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: readers %+v, want PIN %+v", what, rs, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	pinIs("on arrival", agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3})
	gen, _ := inv.generation("r")

	// Another application on the card.
	k, err := m.Connect("r", false)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	app, err := piv.New(k, piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Select(ctx); err != nil {
		t.Fatal(err)
	}
	_ = app.VerifyPIN(ctx, "99999999")
	inv.checkPIN("r", gen, false)
	pinIs("after a wrong PIN", agentproto.PINStatus{Left: 2, Total: 3, PUKLeft: 3})
	if g, _ := inv.generation("r"); g != gen {
		t.Fatalf("a PIN status change moved the card's generation %d → %d", gen, g)
	}

	if err := app.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	inv.checkPIN("r", gen, false)
	pinIs("verified", agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3})
	if st, err := app.ReadPINStatus(ctx); err != nil || !st.Verified {
		t.Fatalf("the application's PIN is no longer verified after the check: %+v, %v", st, err)
	}

	if len(inv.takeAgain()) != 0 {
		t.Fatal("a status to report again without a session")
	}
	inv.checkPIN("r", gen, true)
	if again := inv.takeAgain(); !again["r"] {
		t.Fatalf("after a session the unchanged status is not reported again: %v", again)
	}

	go inv.checkPINs(ctx, 10*time.Millisecond)
	for range 3 {
		_ = app.VerifyPIN(ctx, "99999999")
	}
	pinIs("blocked, seen by the periodic check", agentproto.PINStatus{Left: 0, Total: 3, PUKLeft: 3})
}
