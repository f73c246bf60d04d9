package cardops_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// chuidTag is the CHUID's data object tag (SP 800-73-4 part 1, table 3).
const chuidTag = 0x5FC102

// recordingStore is an emulated card's state store that keeps every
// state the card saved: everything the card was made to hold, in order.
type recordingStore struct {
	emu.MemoryStore
	mu    sync.Mutex
	saved []*emu.State
}

func (r *recordingStore) Save(s *emu.State) error {
	r.mu.Lock()
	r.saved = append(r.saved, s.Clone())
	r.mu.Unlock()
	return r.MemoryStore.Save(s)
}

// heldKey reports whether the card ever held management key k.
func (r *recordingStore) heldKey(k []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.saved {
		if bytes.Equal(s.ManagementKey.Key, k) {
			return true
		}
	}
	return false
}

// putCard puts c in reader of workstation wsID, as the agent reports it.
func putCard(t *testing.T, a *cardtest.Access, wsID int64, c *emu.Card) {
	t.Helper()
	serial, err := cardtest.Serial(c)
	if err != nil {
		t.Fatal(err)
	}
	w := a.Workstation(wsID)
	w.Readers[reader], w.Serials[reader] = c, serial
}

// forgeCard makes a card with another serial that carries chuid, the
// victim's CHUID (readable by anyone who holds the victim card a moment).
func forgeCard(t *testing.T, chuid []byte) (*emu.Card, *recordingStore) {
	t.Helper()
	return programCard(t, func(st *emu.State) { st.Objects[chuidTag] = bytes.Clone(chuid) })
}

// programCard makes a factory-fresh emulated card whose state program
// changes first, as a programmable card answers what it is told to.
func programCard(t *testing.T, program func(*emu.State)) (*emu.Card, *recordingStore) {
	t.Helper()
	fs := &recordingStore{}
	if _, err := emu.New(emu.WithStateStore(fs)); err != nil {
		t.Fatal(err)
	}
	st, err := fs.Load()
	if err != nil {
		t.Fatal(err)
	}
	program(st)
	if err := fs.Save(st); err != nil {
		t.Fatal(err)
	}
	card, err := emu.New(emu.WithStateStore(fs))
	if err != nil {
		t.Fatal(err)
	}
	return card, fs
}

// TestForgedCHUIDGetsNoManagementKey (issue 13, item 7): a card that
// copies the CHUID of alice's issued card but has its own serial is
// refused, and never receives alice's management key (checked on every
// state the forged card saved), whether alice's key is bound to the
// store's identifier (issued now) or to her CHUID GUID (issued before the
// fix, which must keep working).
func TestForgedCHUIDGetsNoManagementKey(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		name := map[bool]string{false: "issued now", true: "key bound to the CHUID GUID"}[legacy]
		t.Run(name, func(t *testing.T) {
			e := newIssueEnv(t)
			ctx := context.Background()
			victim, vs := newVictim(t, e)
			res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
			if err != nil {
				t.Fatal(err)
			}
			if legacy {
				bindToGUID(t, e, res.Card.ID, victim)
			}
			st, _ := vs.Load()
			victimKey := st.ManagementKey.Key

			mallory, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "mallory", DisplayName: ptr("Mallory"), UPN: ptr("mallory@example.test"), Email: ptr("mallory@example.test")})
			if err != nil {
				t.Fatal(err)
			}
			e.access.AddWorkstation(2, mallory.ID, "ws-mallory").FailAfter = map[string]int{}
			forged, fs := forgeCard(t, st.Objects[chuidTag])
			putCard(t, e.access, 2, forged)
			mp := &lanyard.Principal{User: mallory, Roles: mallory.Roles}
			target := cardops.CardTarget{WorkstationID: 2, Reader: reader}
			_, err = e.svc.Cards.IssueCard(ctx, mp, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
			wantCode(t, err, lanyard.EConflict)
			if fs.heldKey(victimKey) {
				t.Fatal("the forged card received alice's management key")
			}
			// An operator issuing it for mallory is refused the same way.
			_, err = e.svc.Cards.IssueCard(ctx, e.admin, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 2, Reader: reader, User: "mallory"}, UserPIN: "24681357"})
			wantCode(t, err, lanyard.EConflict)
			if fs.heldKey(victimKey) {
				t.Fatal("the forged card received alice's management key")
			}

			// Alice's card still works with its key: revoke and clear it
			// (which authenticates with the derived key).
			if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
				t.Fatalf("alice's card after the forgery: %v", err)
			}
		})
	}
}

// bindToGUID makes card id look as issued before issue 13: its management
// key diversified from its CHUID GUID, its record bound to that GUID (as
// migration 0013 leaves it).
func bindToGUID(t *testing.T, e *issueEnv, id int64, c *emu.Card) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, c)
	_, secret, _ := e.svc.Cards.AdminMaster(ctx)
	m := personalize.Master{Version: 1, Secret: secret}
	ident, err := personalize.Identify(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := personalize.Diversified(m, lanyard.AdminKeyAES192, ident.KeyIdent())
	legacyID, err := personalize.LegacyCardID(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := personalize.Diversified(m, lanyard.AdminKeyAES192, legacyID)
	admin, err := personalize.Authenticate(ctx, pc, cur)
	if err != nil {
		t.Fatal(err)
	}
	if err := personalize.SetKey(ctx, admin, old); err != nil {
		t.Fatal(err)
	}
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		card.CardID = hex.EncodeToString(legacyID)
		return tx.UpdateCard(card)
	})
	if err != nil {
		t.Fatal(err)
	}
}
