package cardops_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestIssuedCardKeepsNoSharedPUK (issue 13, item 5): after Issue card the
// card refuses the card type's default PUK 12345678 (which would let
// anyone holding it reset the PIN) and holds its own random PUK, sealed
// on the server. Revoke and clear resets the PIN with that PUK, and the
// next issue replaces it with a new one.
func TestIssuedCardKeepsNoSharedPUK(t *testing.T) {
	e := newLoggedIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pivOf(t, e.card).UnblockPIN(ctx, pivspec.DefaultPUK, "654321"); err == nil {
		t.Fatal("the issued card resets its PIN with the default PUK")
	}
	e.checkOwnPUK(t, e.card, res.Card.ID)
	first, _ := e.svc.Cards.CardPUK(ctx, res.Card.ID)

	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	if err := pivOf(t, e.card).VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatalf("the PIN after clearing: %v", err)
	}
	v, err := e.svc.Cards.GetCard(ctx, e.admin, res.Card.ID)
	if err != nil || v.State != lanyard.CardClean || v.PUKState != lanyard.PUKRandom {
		t.Fatalf("after clearing: %v %+v", err, v)
	}
	checkPUK(t, e.card, first)

	res, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkOwnPUK(t, e.card, res.Card.ID)
	if second, _ := e.svc.Cards.CardPUK(ctx, res.Card.ID); second == first {
		t.Fatal("the next issue kept the card's PUK")
	}
}

// makeLegacyPUK makes issued card id look as issued before cards got
// their own PUK: the card back on the card type's default PUK and its
// record saying so (puk_state default, as migration 0013 leaves it).
func makeLegacyPUK(t *testing.T, e *issueEnv, id int64) {
	t.Helper()
	ctx := context.Background()
	puk, err := e.svc.Cards.CardPUK(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := pivOf(t, e.card).ChangePUK(ctx, puk, pivspec.DefaultPUK); err != nil {
		t.Fatal(err)
	}
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		c.PUKState, c.SealedPUK = lanyard.PUKDefault, nil
		return tx.UpdateCard(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSharedPUKReplacedAtConnection (issue 13, item 5): a card issued
// before cards got their own PUK (record: default) gets its own random,
// sealed PUK when it next connects, in two recorded steps; a card pulled
// at any APDU of it (or its reply lost) is finished at the next
// connection. A card in stock, or one being issued, is left alone.
func TestSharedPUKReplacedAtConnection(t *testing.T) {
	for _, lose := range []bool{false, true} {
		completed := false
		for after := 1; !completed && after < 40; after++ {
			t.Run(fmt.Sprintf("lose-reply-%v/after-%d-APDUs", lose, after), func(t *testing.T) {
				e := newLoggedIssueEnv(t)
				ctx := context.Background()
				res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
				if err != nil {
					t.Fatal(err)
				}
				makeLegacyPUK(t, e, res.Card.ID)
				serial, _ := cardtest.Serial(e.card)
				if lose {
					e.access.LoseReplyAfter(1, reader, after)
				} else {
					e.access.FailAfter(1, reader, after)
				}
				done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial)
				if err == nil {
					if !done {
						t.Fatal("the shared PUK was not replaced")
					}
					completed = true // it takes fewer APDUs: every point was covered
				} else if done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial); err != nil || !done {
					t.Fatalf("at the next connection: %v %v", done, err)
				}
				e.checkOwnPUK(t, e.card, res.Card.ID)
				if done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial); err != nil || done {
					t.Fatalf("a card with its own PUK was changed again: %v %v", done, err)
				}
			})
		}
	}
}

// newLoggedIssueEnv is newIssueEnv with the server's log, every level,
// kept in a file for tests that check what it must never hold.
func newLoggedIssueEnv(t *testing.T) *issueEnv {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	log := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Dir: dir, Log: log}, logFile: f.Name()})
}

// TestClearCardWithUnknownPUK: a card whose Admin PIN was chosen at an
// issue before the server stored PUKs (puk_state unknown) is cleared only
// with that Admin PIN, and goes back to the card type's default, the state
// of a card Lanyard has not issued; its next issue gives it its own.
func TestClearCardWithUnknownPUK(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	makeLegacyPUK(t, e, res.Card.ID)
	setPUKBefore(t, e.card, "11223344")
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(res.Card.ID)
		if err != nil {
			return err
		}
		c.PUKState = lanyard.PUKUnknown
		return tx.UpdateCard(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
	wantCode(t, err, lanyard.EInvalid)
	v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target(), AdminPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardClean || v.PUKState != lanyard.PUKDefault {
		t.Fatalf("after clearing: %s, PUK %q", v.State, v.PUKState)
	}
	checkPUK(t, e.card, pivspec.DefaultPUK)
	res, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkOwnPUK(t, e.card, res.Card.ID, "11223344")
}
