package cardops_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// cloneCard makes a programmable card that answers with victim's serial
// and CHUID (both readable by anyone who holds the victim card a moment)
// but has its own keys, PIN and PUK: the factory values.
func cloneCard(t *testing.T, victim *emu.State) (*emu.Card, *recordingStore) {
	t.Helper()
	return programCard(t, func(st *emu.State) {
		st.Objects[chuidTag] = bytes.Clone(victim.Objects[chuidTag])
		st.Serial = victim.Serial
	})
}

// newVictim puts a factory-fresh card whose state can be read (vs) in
// alice's reader.
func newVictim(t *testing.T, e *issueEnv) (victim *emu.Card, vs *emu.MemoryStore) {
	t.Helper()
	vs = &emu.MemoryStore{}
	victim, err := emu.New(emu.WithStateStore(vs))
	if err != nil {
		t.Fatal(err)
	}
	putCard(t, e.access, 1, victim)
	e.card = victim
	return victim, vs
}

// updateCard changes card id's record as change says.
func updateCard(t *testing.T, e *issueEnv, id int64, change func(c *lanyard.Card)) {
	t.Helper()
	err := e.st.Update(context.Background(), func(tx lanyard.Tx) error {
		c, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		change(c)
		return tx.UpdateCard(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// addMallory adds user mallory with her workstation 2.
func addMallory(t *testing.T, e *issueEnv) *lanyard.User {
	t.Helper()
	mallory, err := e.svc.Identity.CreateUser(context.Background(), e.admin, identity.UserInput{Login: "mallory", DisplayName: ptr("Mallory"), UPN: ptr("mallory@example.test"), Email: ptr("mallory@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	e.access.AddWorkstation(2, mallory.ID, "ws-mallory").FailAfter = map[string]int{}
	return mallory
}

// pukTries returns the card's PUK tries left and in all (GET METADATA,
// which spends none).
func pukTries(t *testing.T, c *emu.Card) (left, all int) {
	t.Helper()
	md, err := pivOf(t, c).Metadata(context.Background(), pivspec.KeyPUK)
	if err != nil {
		t.Fatal(err)
	}
	return md.RetriesLeft, md.Retries
}

// issueLegacy issues alice's card (the one in e.card) and makes it look
// as issued before cards got their own PUK (makeLegacyPUK).
func issueLegacy(t *testing.T, e *issueEnv) *cardops.IssueCardResult {
	t.Helper()
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	makeLegacyPUK(t, e, res.Card.ID)
	return res
}

// TestForgedCardGetsNoPUKRotation (F1): a programmable card in mallory's
// reader answering with the serial and CHUID of alice's card, still on the
// shared PUK, is not given a new PUK, and alice's record keeps saying
// default: a card with a diversified management key must prove it holds
// it (mutual GENERAL AUTHENTICATE) first; for a card without one (static
// management key) only its owner's workstation is trusted. Alice's card in
// her own reader then gets its own PUK.
func TestForgedCardGetsNoPUKRotation(t *testing.T) {
	for _, static := range []bool{false, true} {
		t.Run(map[bool]string{false: "diversified key", true: "static key"}[static], func(t *testing.T) {
			e := newIssueEnv(t)
			ctx := context.Background()
			victim, vs := newVictim(t, e)
			res := issueLegacy(t, e)
			if static {
				updateCard(t, e, res.Card.ID, func(c *lanyard.Card) { c.AdminKeyVersion = 0 })
			}
			addMallory(t, e)
			st, _ := vs.Load()
			forged, _ := cloneCard(t, st)
			putCard(t, e.access, 2, forged)
			serial, _ := cardtest.Serial(victim)
			if s, _ := cardtest.Serial(forged); s != serial {
				t.Fatalf("the forged card reports %s, not %s", s, serial)
			}

			done, err := e.svc.Cards.RotateSharedPUK(ctx, 2, reader, serial)
			if done {
				t.Fatal("the forged card was given alice's new PUK")
			}
			t.Logf("rotation on the forged card: %v", err)
			checkPUK(t, forged, pivspec.DefaultPUK)
			if v, err := e.svc.Cards.GetCard(ctx, e.admin, res.Card.ID); err != nil || v.PUKState != lanyard.PUKDefault {
				t.Fatalf("alice's card after the forgery: %v %+v", err, v)
			}

			done, err = e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial)
			if err != nil || !done {
				t.Fatalf("alice's own card: %v %v", done, err)
			}
			e.checkOwnPUK(t, victim, res.Card.ID)
		})
	}
}

// TestRotationStopsAtUnknownPUK (F2): a card whose record says shared PUK
// but whose owner changed it is tried once; the wrong-PUK answer records
// the PUK as unknown (one audit event) and no later connection spends
// another try. A card that has lost tries to someone else's guesses is
// not tried at all.
func TestRotationStopsAtUnknownPUK(t *testing.T) {
	t.Run("changed by its owner", func(t *testing.T) {
		e := newIssueEnv(t)
		ctx := context.Background()
		res := issueLegacy(t, e)
		setPUKBefore(t, e.card, "11223344") // ykman piv access change-puk
		serial, _ := cardtest.Serial(e.card)
		if done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial); done || err == nil {
			t.Fatalf("rotation of a card with another PUK: %v %v", done, err)
		}
		left, all := pukTries(t, e.card)
		if left != all-1 {
			t.Fatalf("%d of %d PUK tries left after the first connection, want one spent", left, all)
		}
		if v, err := e.svc.Cards.GetCard(ctx, e.admin, res.Card.ID); err != nil || v.PUKState != lanyard.PUKUnknown {
			t.Fatalf("PUK state after the refusal: %v %+v", err, v)
		}
		for range 3 {
			if done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial); done || err != nil {
				t.Fatalf("a later connection: %v %v", done, err)
			}
		}
		if l, _ := pukTries(t, e.card); l != left {
			t.Fatalf("later connections spent PUK tries: %d left, were %d", l, left)
		}
		n := 0
		for _, ev := range storetest.CheckAuditChain(t, e.st) {
			if ev.Action == "card.puk.unknown" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d card.puk.unknown events, want 1", n)
		}
		checkPUK(t, e.card, "11223344")
	})
	t.Run("tries already spent", func(t *testing.T) {
		e := newIssueEnv(t)
		ctx := context.Background()
		res := issueLegacy(t, e)
		if err := pivOf(t, e.card).ChangePUK(ctx, "99999999", "99999999"); err == nil {
			t.Fatal("a wrong PUK was accepted")
		}
		left, _ := pukTries(t, e.card)
		serial, _ := cardtest.Serial(e.card)
		if done, err := e.svc.Cards.RotateSharedPUK(ctx, 1, reader, serial); done || err == nil {
			t.Fatalf("rotation of a card short of PUK tries: %v %v", done, err)
		}
		if l, _ := pukTries(t, e.card); l != left {
			t.Fatalf("the rotation spent a PUK try: %d left, were %d", l, left)
		}
		if v, err := e.svc.Cards.GetCard(ctx, e.admin, res.Card.ID); err != nil || v.PUKState != lanyard.PUKDefault {
			t.Fatalf("PUK state: %v %+v", err, v)
		}
	})
}

// TestClearFindsPendingPUK (F5): a card whose replacement of the shared
// PUK reached it with the reply lost (record: default, the new PUK sealed
// and pending) is cleared with the PUK it holds, and keeps it as its own.
func TestClearFindsPendingPUK(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res := issueLegacy(t, e)
	const pending = "Pend7531"
	sealed, err := e.svc.Cards.SealCardPUK(res.Card.ID, pending)
	if err != nil {
		t.Fatal(err)
	}
	updateCard(t, e, res.Card.ID, func(c *lanyard.Card) { c.SealedPUK = sealed })
	setPUKBefore(t, e.card, pending)

	v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardClean || v.PUKState != lanyard.PUKRandom {
		t.Fatalf("after clearing: %s, PUK %q", v.State, v.PUKState)
	}
	if err := pivOf(t, e.card).VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatalf("the PIN after clearing: %v", err)
	}
	checkPUK(t, e.card, pending)
	if puk, _ := e.svc.Cards.CardPUK(ctx, res.Card.ID); puk != pending {
		t.Fatal("the card's record does not hold the PUK the card has")
	}
}

// TestClearRefusesForgedCard (F7): Revoke and clear of a card with a
// static management key sends the PUK only to the card recorded: a card
// in the reader with the card's serial but another CHUID is refused, and
// the record is left as it was.
func TestClearRefusesForgedCard(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res := issueLegacy(t, e)
	updateCard(t, e, res.Card.ID, func(c *lanyard.Card) { c.AdminKeyVersion = 0 })
	forged := forgeSerial(t, e.card)
	putCard(t, e.access, 1, forged)
	_, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
	wantCode(t, err, lanyard.EConflict)
	if v, err := e.svc.Cards.GetCard(ctx, e.admin, res.Card.ID); err != nil || v.State != lanyard.CardIssued {
		t.Fatalf("the card's record after the refusal: %v %+v", err, v)
	}
	if left, all := pukTries(t, forged); left != all {
		t.Fatalf("the forged card was sent a PUK")
	}
}

// forgeSerial makes a card that reports victim's serial but has its own
// CHUID, keys, PIN and PUK.
func forgeSerial(t *testing.T, victim *emu.Card) *emu.Card {
	t.Helper()
	serial, _ := cardtest.Serial(victim)
	fs := &emu.MemoryStore{}
	if _, err := emu.New(emu.WithStateStore(fs)); err != nil {
		t.Fatal(err)
	}
	st, _ := fs.Load()
	if _, err := fmt.Sscan(serial, &st.Serial); err != nil {
		t.Fatal(err)
	}
	if err := fs.Save(st); err != nil {
		t.Fatal(err)
	}
	forged, err := emu.New(emu.WithStateStore(fs))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := cardtest.Serial(forged); s != serial {
		t.Fatalf("the forged card reports %s, not %s", s, serial)
	}
	return forged
}

// TestSetupPINRefusesForgedCard (F7): Set up PIN sends the credential's
// PUK only to the card recorded: a card in its reader that reports its
// serial but presents another CHUID is refused before any PUK is sent.
func TestSetupPINRefusesForgedCard(t *testing.T) {
	e, secret, target := newPlatformCredential(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	forged := forgeSerial(t, e.access.Card(1, target.Reader))
	e.access.Workstation(1).Readers[target.Reader] = forged
	_, err = e.svc.Cards.SetupPIN(ctx, e.alice, res.Card.ID, cardops.PINSetupInput{CardTarget: target, Password: alicePassword, Code: totpCode(t, secret, 30*time.Second), PIN: "13572468"})
	wantCode(t, err, lanyard.EConflict)
	if left, all := pukTries(t, forged); left != all {
		t.Fatal("the forged card was sent the credential's PUK")
	}
	if v, err := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID); err != nil || v.State != lanyard.CardPINSetup {
		t.Fatalf("the credential after the refusal: %v %+v", err, v)
	}
}

// TestIssuePulledAnywhereNeverLeavesCertificateWithSharedPUK (F4): a card pulled
// at any point of an issue never holds a certificate while it still has
// the shared PUK: the card gets its own PUK before its first key.
func TestIssuePulledAnywhereNeverLeavesCertificateWithSharedPUK(t *testing.T) {
	completed := false
	for after := 1; !completed && after < 200; after++ {
		t.Run(fmt.Sprintf("after-%d-APDUs", after), func(t *testing.T) {
			e := newIssueEnv(t)
			ctx := context.Background()
			e.access.FailAfter(1, reader, after)
			_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
			if err == nil {
				completed = true
				return
			}
			pc := pivOf(t, e.card)
			certs, err := pc.Certificates(ctx)
			if err != nil || len(certs) == 0 {
				return
			}
			md, err := pc.Metadata(ctx, pivspec.KeyPUK)
			if err != nil {
				t.Fatal(err)
			}
			if md.Default {
				t.Fatalf("the pulled card holds a certificate (slot %s) and the factory PUK", certs[0].Slot)
			}
		})
	}
}

// TestIssueCardWithSingleTryPUK: a card that allows a single PUK try (a
// card type's puk_retries 1) is still issued: the rule "a PUK is tried
// only while two tries remain" lets the first, best-known candidate
// through on a card whose counter is full, and the card leaves with its
// own sealed PUK and its one try intact.
func TestIssueCardWithSingleTryPUK(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	admin, err := pivOf(t, e.card).Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.SetRetries(ctx, pivspec.DefaultPIN, 3, 1); err != nil {
		t.Fatal(err)
	}
	if left, all := pukTries(t, e.card); left != 1 || all != 1 {
		t.Fatalf("set-up: %d of %d PUK tries", left, all)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatalf("a card allowing one PUK try is not issued: %v", err)
	}
	puk, err := e.svc.Cards.CardPUK(ctx, res.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if left, all := pukTries(t, e.card); left != 1 || all != 1 {
		t.Fatalf("after the issue: %d of %d PUK tries left", left, all)
	}
	checkPUK(t, e.card, puk)
}
