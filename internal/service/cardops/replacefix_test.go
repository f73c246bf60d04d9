package cardops_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
)

// recycle revokes (when issued), clears (in target's reader) and
// withdraws card id to stock, as an operator returns a card for reuse.
func (e *issueEnv) recycle(t *testing.T, op *lanyard.Principal, id int64, target cardops.CardTarget) {
	t.Helper()
	ctx := context.Background()
	if v := e.cardOf(t, id); v.State != lanyard.CardRevoked {
		if _, err := e.svc.Cards.RevokeCard(ctx, op, id, cardops.RevokeCardInput{Reason: lanyard.CardDamaged}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, op, id, cardops.ClearInput{CardTarget: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, op, id, cardops.WithdrawCardInput{To: cardops.WithdrawToStock}); err != nil {
		t.Fatal(err)
	}
}

// signedIn creates user login with an address, and returns them signed in.
func (e *issueEnv) signedIn(t *testing.T, login string) *lanyard.Principal {
	t.Helper()
	u, err := e.svc.Identity.CreateUser(context.Background(), e.admin, identity.UserInput{Login: login, UPN: ptr(login + "@example.test"), Email: ptr(login + "@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}
}

// newNoEnableEnv is an issue env whose policy lets the owner get a
// temporary card but not enable a card.
func newNoEnableEnv(t *testing.T) *issueEnv {
	t.Helper()
	e := newIssueEnv(t)
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
		s.Workflow.IssuedCardOps.Enable = false
	})
	return e
}

// Review finding 1: the owner does not undo a card staff disabled. With
// temporary replacement on and Enable off, Alice may not get a temporary
// card for the card an operator disabled (Original found would enable
// it); staff may, and Original found then leaves the card disabled, its
// certificates on hold, as it was.
func TestReplaceTemporaryOfCardStaffDisabled(t *testing.T) {
	e := newNoEnableEnv(t)
	ctx := context.Background()
	orig, certs, target, op := e.readyToReplace(t)
	if _, err := e.svc.Cards.DisableCard(ctx, op, orig.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.EnableCard(ctx, e.alice, orig.ID); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("alice enables the card staff disabled: %v, want forbidden", err)
	}
	_, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	servicetest.WantErr(t, "alice's temporary card for the card staff disabled", err, lanyard.EForbidden, "Temporary replacement")
	if links := e.replacements(t, orig.ID); len(links) != 0 {
		t.Fatalf("the refusal recorded links %+v", links)
	}

	res, err := e.svc.Cards.ReplaceCard(ctx, op, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replacement.OldState != lanyard.CardDisabled {
		t.Errorf("the link records the original as %q before, want disabled", res.Replacement.OldState)
	}
	e.approveAndContinue(t, op, res.IssueCardResult, target)
	out := e.resolve(t, e.alice, orig.ID, true)
	if out.Original.State != lanyard.CardDisabled || out.Temporary.State != lanyard.CardRevoked || out.Replacement.State != lanyard.ReplacementEnded {
		t.Fatalf("after found: original %s, temporary %s, link %s; want disabled, revoked, ended", out.Original.State, out.Temporary.State, out.Replacement.State)
	}
	logon := certs["smartcard-logon"]
	if r := e.revocationOf(t, logon.CA, logon.Serial); !r.onCRL || r.crlReason != reasonCertificateHld || r.ocsp != ocsp.Revoked {
		t.Errorf("the original's logon certificate after found: %+v, want still on hold", r)
	}
	if _, err := e.svc.Cards.EnableCard(ctx, e.alice, orig.ID); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("alice enables the card after found: %v, want forbidden", err)
	}
}

// Original found enables a card that was in use: its owner needs Enable
// for that; staff do not.
func TestReplaceFoundNeedsEnable(t *testing.T) {
	e := newNoEnableEnv(t)
	ctx := context.Background()
	orig, _ := e.issueTwo(t)
	if _, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: e.second(t), UserPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Cards.ResolveReplacement(ctx, e.alice, orig.ID, cardops.ResolveReplacementInput{Found: true})
	servicetest.WantErr(t, "alice says found without Enable", err, lanyard.EForbidden, "not allowed to enable")
	if v := e.cardOf(t, orig.ID); v.State != lanyard.CardDisabled {
		t.Fatalf("after the refusal the original is %s", v.State)
	}
	out := e.resolve(t, e.operator(t, "olga"), orig.ID, true)
	if out.Original.State != lanyard.CardIssued {
		t.Errorf("found by an operator: original %s, want issued", out.Original.State)
	}
}

// Review finding 2: a temporary card revoked as lost, cleared, withdrawn
// and issued to Bob is no longer Alice's temporary card: the withdraw
// ends the link (in its event), and neither resolution touches Bob's card.
func TestReplaceTemporaryCardRecycled(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	orig, _ := e.issueTwo(t)
	target := e.second(t)
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	tempID := res.Card.ID
	op := e.operator(t, "olga")
	if _, err := e.svc.Cards.RevokeCard(ctx, e.alice, tempID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	e.recycle(t, op, tempID, target)
	links := e.replacements(t, orig.ID)
	if len(links) != 1 || links[0].State != lanyard.ReplacementEnded {
		t.Fatalf("links after the temporary card's withdraw: %+v, want one, ended", links)
	}
	var withdraw *lanyard.AuditEvent
	for _, ev := range e.allAudit(t) {
		if ev.Action == "card.withdraw" && ev.ObjectID == formatID(tempID) {
			withdraw = ev
		}
	}
	if withdraw == nil || !strings.Contains(string(withdraw.Details), `"replacements_ended"`) {
		t.Errorf("the withdraw's event does not say it ended the link: %+v", withdraw)
	}

	e.signedIn(t, "bob")
	toBob := target
	toBob.User = "bob"
	if _, err := e.svc.Cards.IssueCard(ctx, op, cardops.IssueCardInput{CardTarget: toBob, UserPIN: "11223344"}); err != nil {
		t.Fatal(err)
	}
	bobs := e.cardOf(t, tempID)
	for _, found := range []bool{true, false} {
		_, err := e.svc.Cards.ResolveReplacement(ctx, e.alice, orig.ID, cardops.ResolveReplacementInput{Found: found})
		if !lanyard.IsCode(err, lanyard.EConflict) {
			t.Errorf("alice resolves (found %v) with her old temporary card bob's: %v, want a conflict", found, err)
		}
	}
	if v := e.cardOf(t, tempID); v.State != bobs.State || v.OwnerID != bobs.OwnerID || v.Replaces != nil {
		t.Errorf("bob's card after alice's resolutions: %s, owner %d, replaces %+v; want %s, bob's, none", v.State, v.OwnerID, v.Replaces, bobs.State)
	}
	if links := e.replacements(t, orig.ID); links[0].State != lanyard.ReplacementEnded || links[0].Kind != lanyard.ReplaceTemporary {
		t.Errorf("the link after the resolutions: %+v", links[0])
	}
}

// Review finding 3: a card replaced for good, then withdrawn and issued
// to Carol, is Carol's card like any other: no "Replaced by" Alice's
// card, replaceable, and the card that replaced it for Alice, recycled
// too, may be its new card.
func TestReplaceRecycledCardsCarryNoLinks(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old, _ := e.issueTwo(t)
	target := e.second(t)
	op := e.operator(t, "olga")
	res, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardDamaged, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	e.approveAndContinue(t, op, res.IssueCardResult, target)
	newID := res.Card.ID
	e.recycle(t, op, old.ID, e.target())
	e.signedIn(t, "carol")
	toCarol := e.target()
	toCarol.User = "carol"
	issued, err := e.svc.Cards.IssueCard(ctx, op, cardops.IssueCardInput{CardTarget: toCarol, UserPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	e.approveAndContinue(t, op, issued, toCarol)
	carols := e.cardOf(t, old.ID)
	if carols.ReplacedBy != nil {
		t.Errorf("carol's card shows %+v", carols.ReplacedBy)
	}
	if alices := e.cardOf(t, newID); alices.Replaces == nil || alices.Replaces.OldCardID != old.ID {
		t.Errorf("alice's card no longer shows what it replaced: %+v", alices.Replaces)
	}
	if v, err := e.svc.Cards.GetCard(ctx, op, old.ID); err != nil || !slices.Contains(v.AllowedOperations, "replace") {
		t.Fatalf("an operator on carol's card may %v (%v), want replace among them", v.AllowedOperations, err)
	}
	e.recycle(t, op, newID, target)
	toCarol2 := target
	toCarol2.User = "carol"
	again, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: toCarol2, UserPIN: "55667788"})
	if err != nil {
		t.Fatalf("replacing carol's card with alice's former new card: %v", err)
	}
	if again.Replacement == nil || again.Replacement.OwnerID != carols.OwnerID {
		t.Errorf("carol's replacement link %+v", again.Replacement)
	}
}

// Review finding 4: a card revoked before and replaced for good no longer
// counts among its owner's cards, so the new card must fit the policy's
// maximum: staff do not give Alice a third card with a maximum of two.
func TestReplaceRevokedCardKeepsMaxCards(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 1 })
	old, _ := e.issueTwo(t)
	op := e.operator(t, "olga")
	if _, err := e.svc.Cards.RevokeCard(ctx, op, old.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.second(t), UserPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	e.access.Add(t, 3, e.alice.User.ID, "third reader")
	_, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: "third reader"}, UserPIN: "24680135"})
	servicetest.WantErr(t, "a second card by replacing a revoked one, maximum 1", err, lanyard.EConflict, "at most 1 card")
	if links := e.replacements(t, old.ID); len(links) != 0 {
		t.Errorf("the refusal recorded links %+v", links)
	}
}

// Review finding 5: when the transaction that starts the replacement
// fails (here its audit event cannot be written), nothing changed: no
// "card replaced" mail, no error saying the card is replaced.
func TestReplaceFailedStartSendsNothing(t *testing.T) {
	ctx := context.Background()
	m := &stateMail{}
	e := &issueEnv{}
	e.opts.Notifier = m
	e = newIssueEnvFrom(t, e)
	orig, _ := e.issueTwo(t)
	op := e.operator(t, "olga")
	raw, err := sql.Open("sqlite", filepath.Join(e.opts.Dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER replace_audit_down BEFORE INSERT ON audit_events WHEN NEW.action = 'card.replace'
		BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END`); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.ReplaceCard(ctx, op, orig.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: e.second(t), UserPIN: "13572468"})
	if err == nil || strings.Contains(err.Error(), "replaced (pending)") {
		t.Fatalf("replacement whose start failed: %v, want an error that does not say the card is replaced", err)
	}
	if len(m.sent) != 0 {
		t.Errorf("mails after the failed start: %q", m.sent)
	}
	if v := e.cardOf(t, orig.ID); v.State != lanyard.CardIssued || v.ReplacedBy != nil {
		t.Errorf("the old card after the failed start: %s, %+v", v.State, v.ReplacedBy)
	}
}

// Review finding 7: a temporary replacement and its resolution tell the
// agents of the computers an AirCard is connected to, as Disable and
// Enable do: the original AirCard leaves their readers, then comes back.
func TestReplaceAirCardTellsComputers(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
	})
	e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")
	e.access.AddAirCardService(3)
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: cc.Reader}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.access.Changed()
	if _, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: e.second(t), UserPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	if got := e.access.Changed(); !slices.Equal(got, []int64{1}) {
		t.Errorf("after the temporary replacement the workstations told are %v, want [1]", got)
	}
	if _, err := e.svc.Cards.ResolveReplacement(ctx, e.alice, orig.Card.ID, cardops.ResolveReplacementInput{Found: true}); err != nil {
		t.Fatal(err)
	}
	if got := e.access.Changed(); !slices.Equal(got, []int64{1}) {
		t.Errorf("after Original found the workstations told are %v, want [1]", got)
	}
	if list, err := e.svc.Workstations.AirCardsFor(ctx, 1); err != nil || len(list) != 1 {
		t.Errorf("workstation 1's AirCards after found: %v (%v), want the original", list, err)
	}
}

// Review finding 8: the new card may not be a clean card kept for another
// user (withdrawn to its owner): Replace card refuses it as Offer does.
func TestReplaceRefusesCardKeptForAnother(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old, _ := e.issueTwo(t)
	op := e.operator(t, "olga")
	bob := e.signedIn(t, "bob")
	target := e.second(t)
	toBob := target
	toBob.User = "bob"
	issued, err := e.svc.Cards.IssueCard(ctx, op, cardops.IssueCardInput{CardTarget: toBob, UserPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeCard(ctx, op, issued.Card.ID, cardops.RevokeCardInput{Reason: lanyard.CardDamaged}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, op, issued.Card.ID, cardops.ClearInput{CardTarget: target}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.WithdrawCard(ctx, op, issued.Card.ID, cardops.WithdrawCardInput{To: cardops.WithdrawToOwner}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468"})
	servicetest.WantErr(t, "bob's kept card as alice's new card", err, lanyard.EConflict, "kept for another user")
	if v := e.cardOf(t, issued.Card.ID); v.OwnerID != bob.User.ID || v.State != lanyard.CardClean {
		t.Errorf("bob's kept card after the refusal: owner %d, %s", v.OwnerID, v.State)
	}
	if v := e.cardOf(t, old.ID); v.State != lanyard.CardIssued {
		t.Errorf("the old card after the refusal: %s", v.State)
	}
}
