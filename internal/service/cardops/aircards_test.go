package cardops_test

import (
	"context"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// allowAirCards lets the default policy's users issue AirCards, as many
// as they like.
func (e *issueEnv) allowAirCards(t *testing.T) {
	t.Helper()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
		s.Issuance.MaxCardsPerUser = 0
	})
}

// TestAirCard: Issue AirCard from workstation 1 (name → Create a new
// AirCard → Issue) on the AirCard service; the card is bound to
// workstation 1; an operator's connection code joins workstation 2 once;
// wrong, used and expired codes are refused and wrong ones throttled;
// removing a computer takes the AirCard away from it.
func TestAirCard(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.allowAirCards(t)
	ws2 := e.access.AddWorkstation(2, e.alice.User.ID, "pc-2")
	_ = ws2
	e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")

	wantReason(t, "no service", e.options(t, e.alice)[lanyard.KindAirCard], "AirCard service is not connected")
	e.access.AddAirCardService(3)
	o := e.options(t, e.alice)
	if a := o[lanyard.KindAirCard]; !a.Available || a.CardType != "aircard" {
		t.Fatalf("AirCard option %+v", a)
	}

	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	if err != nil {
		t.Fatal(err)
	}
	if cc.WorkstationID != 3 || cc.Kind != lanyard.KindAirCard || cc.Owner != "alice" {
		t.Fatalf("created %+v", cc)
	}
	if got := e.access.Changed(); !slices.Equal(got, []int64{1}) {
		t.Errorf("workstations told after the creation: %v, want [1]", got)
	}
	// Only its owner (and staff) reach the AirCard at the service.
	bob := e.newUser(t, "bob")
	target := cardops.CardTarget{WorkstationID: 3, Reader: cc.Reader}
	if _, err := e.svc.Cards.IssueOptions(ctx, bob, target); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("bob opened alice's AirCard: %v", err)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Card.State != lanyard.CardIssued {
		t.Fatalf("AirCard after issue: %s", res.Card.State)
	}
	cert, err := pivOf(t, e.access.Card(3, cc.Reader)).Certificate(ctx, pivspec.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
		t.Fatalf("an AirCard holds a %T key, want RSA", cert.PublicKey)
	}
	// Its own random PUK, sealed on the server (issue 13, item 5).
	e.checkOwnPUK(t, e.access.Card(3, cc.Reader), res.Card.ID)
	id := res.Card.ID

	// Bound to workstation 1.
	if list, err := e.svc.Workstations.AirCardsFor(ctx, 1); err != nil || len(list) != 1 || list[0].Serial != cc.Serial || list[0].Name != "Air" {
		t.Fatalf("AirCards for workstation 1: %v, %v", list, err)
	}
	if err := e.svc.Workstations.AirCardAllowed(ctx, 1, cc.Serial); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Workstations.AirCardAllowed(ctx, 2, cc.Serial); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("an unknown computer used the AirCard: %v", err)
	}

	// Connection codes: operators only; once; not expired; throttled.
	if _, err := e.svc.Workstations.CreateAirCardCode(ctx, e.alice, id, workstations.AirCardCodeInput{}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("a user created a connection code: %v", err)
	}
	code, err := e.svc.Workstations.CreateAirCardCode(ctx, e.admin, id, workstations.AirCardCodeInput{})
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(code.ExpiresAt) > time.Hour || time.Until(code.ExpiresAt) < 59*time.Minute {
		t.Errorf("the code expires at %v, want in an hour", code.ExpiresAt)
	}
	if audit := auditText(t, e); strings.Contains(audit, code.Code) || strings.Contains(audit, strings.ReplaceAll(code.Code, "-", "")) {
		t.Error("the connection code is in the audit log")
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 2, "10.0.0.2", "AAAAA-AAAAA"); !lanyard.IsCode(err, lanyard.ENotFound) || !strings.Contains(err.Error(), "unknown connection code") {
		t.Fatalf("an unknown code: %v", err)
	}
	joined, err := e.svc.Workstations.JoinAirCard(ctx, 2, "10.0.0.2", strings.ToLower(code.Code))
	if err != nil {
		t.Fatal(err)
	}
	if joined.Serial != cc.Serial || !slices.Equal(e.access.Changed(), []int64{2}) {
		t.Fatalf("joined %+v", joined)
	}
	if err := e.svc.Workstations.AirCardAllowed(ctx, 2, cc.Serial); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 1, "10.0.0.1", code.Code); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("a used code: %v", err)
	}
	// An expired code, as the store holds it.
	expired := "BBBBB-BBBBB"
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error {
		return tx.CreateAirCardCode(&lanyard.AirCardCode{CardID: id, CodeHash: workstations.HashAirCardCode(expired), CreatedBy: "admin",
			CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 1, "10.0.0.1", expired); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired code: %v", err)
	}
	// Guessing: after five wrong codes even a good one is refused.
	good, err := e.svc.Workstations.CreateAirCardCode(ctx, e.admin, id, workstations.AirCardCodeInput{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		e.svc.Workstations.JoinAirCard(ctx, 1, "10.0.0.9", "CCCCC-CCCCC")
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 1, "10.0.0.9", good.Code); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("after five wrong codes: %v", err)
	}
	// The computers, and removing one.
	comps, err := e.svc.Workstations.AirCardComputers(ctx, e.alice, id)
	if err != nil || len(comps) != 2 || comps[0].WorkstationID != 1 || comps[1].WorkstationID != 2 || comps[1].AddedBy != "code" {
		t.Fatalf("computers %+v, %v", comps, err)
	}
	if _, err := e.svc.Workstations.AirCardComputers(ctx, bob, id); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("bob listed alice's computers: %v", err)
	}
	if err := e.svc.Workstations.RemoveAirCardComputer(ctx, bob, id, 2); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("bob removed a computer: %v", err)
	}
	// Auditors read the list, as they read workstations; CA managers,
	// who read cards but not workstations, do not. Neither does card
	// work, so neither removes computers.
	for _, role := range []lanyard.Role{lanyard.RoleCAManager, lanyard.RoleAuditor} {
		reader := e.newUser(t, "reader-"+string(role))
		reader.Roles = []lanyard.Role{role}
		got, err := e.svc.Workstations.AirCardComputers(ctx, reader, id)
		switch {
		case role == lanyard.RoleAuditor && (err != nil || len(got) != 2):
			t.Errorf("an auditor listed the computers: %+v, %v", got, err)
		case role == lanyard.RoleCAManager && !lanyard.IsCode(err, lanyard.ENotFound):
			t.Errorf("a CA manager listed the computers: %+v, %v", got, err)
		}
		if err := e.svc.Workstations.RemoveAirCardComputer(ctx, reader, id, 2); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("a %s removed a computer: %v", role, err)
		}
	}
	if err := e.svc.Workstations.RemoveAirCardComputer(ctx, e.alice, id, 2); err != nil {
		t.Fatal(err)
	}
	if got := e.access.Changed(); !slices.Equal(got, []int64{2}) {
		t.Errorf("workstations told after the removal: %v, want [2]", got)
	}
	if err := e.svc.Workstations.AirCardAllowed(ctx, 2, cc.Serial); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("a removed computer still uses the AirCard: %v", err)
	}
	if list, _ := e.svc.Workstations.AirCardsFor(ctx, 2); len(list) != 0 {
		t.Fatalf("a removed computer still lists the AirCard: %v", list)
	}

	// A right code clears the workstation's wrong ones, never the
	// address's (auth.Attempt.Succeed): four wrong codes from one
	// address, a right one, one more wrong: the address is locked.
	for ws := range int64(4) {
		e.svc.Workstations.JoinAirCard(ctx, 10+ws, "10.0.0.8", "CCCCC-CCCCC")
	}
	again, err := e.svc.Workstations.CreateAirCardCode(ctx, e.admin, id, workstations.AirCardCodeInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 2, "10.0.0.8", again.Code); err != nil {
		t.Fatal(err)
	}
	e.svc.Workstations.JoinAirCard(ctx, 20, "10.0.0.8", "CCCCC-CCCCC")
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 21, "10.0.0.8", "DDDDD-DDDDD"); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("a right code cleared the address's wrong ones: %v", err)
	}
	// An IPv6 client is one /64: its fresh addresses share a key
	// (auth.ClientNet).
	for ws := range int64(5) {
		e.svc.Workstations.JoinAirCard(ctx, 30+ws, fmt.Sprintf("2001:db8:5:6::%x", ws+1), "CCCCC-CCCCC")
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 40, "2001:db8:5:6:ffff::1", "DDDDD-DDDDD"); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("another address of the /64 guessed on: %v", err)
	}
	if _, err := e.svc.Workstations.JoinAirCard(ctx, 41, "2001:db8:5:7::1", "DDDDD-DDDDD"); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("another /64: %v", err)
	}

}

// auditText is the whole audit log as text, to look for secrets in.
func auditText(t *testing.T, e *issueEnv) string {
	t.Helper()
	var b strings.Builder
	err := e.st.View(context.Background(), func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{Limit: 100000})
		for _, ev := range evs {
			b.WriteString(ev.Action)
			b.Write(ev.Details)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAirCardServices: with several AirCard services connected, a new
// AirCard goes to the one hosting the fewest, an offline one takes none,
// and the owner's connected cards show the AirCards of every service.
func TestAirCardServices(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.allowAirCards(t)
	e.storeWorkstations(t, "pc-1", "pc-2", "air:air-3", "air:air-4", "air:air-5")
	e.access.AddAirCardService(3)
	e.access.AddAirCardService(4)
	down := e.access.AddAirCardService(5)
	down.Offline = true
	var made []*cardops.ConnectedCard
	for _, name := range []string{"Air 1", "Air 2", "Air 3"} {
		cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, cc)
	}
	// 3 and 4 host none: the first goes to 3 (ties by ID), the second to
	// 4, the third to 3 again; the offline 5 gets none.
	if got := []int64{made[0].WorkstationID, made[1].WorkstationID, made[2].WorkstationID}; !slices.Equal(got, []int64{3, 4, 3}) {
		t.Fatalf("AirCards made at services %v, want [3 4 3]", got)
	}
	connected, err := e.svc.Cards.ConnectedCards(ctx, e.alice, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range made {
		if !slices.ContainsFunc(connected, func(c *cardops.ConnectedCard) bool {
			return c.Serial == cc.Serial && c.WorkstationID == cc.WorkstationID && c.Kind == lanyard.KindAirCard
		}) {
			t.Errorf("alice's connected cards lack AirCard %s at service %d", cc.Serial, cc.WorkstationID)
		}
	}
	// Staff asking for their own connected cards (the console's Issue a
	// card for a card they hold) get none of alice's AirCards.
	own, err := e.svc.Cards.ConnectedCards(ctx, e.admin, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range own {
		if c.Kind == lanyard.KindAirCard {
			t.Errorf("staff's own connected cards list %s's AirCard %s", c.Owner, c.Serial)
		}
	}
	if all, err := e.svc.Cards.ConnectedCards(ctx, e.admin, false); err != nil || !slices.ContainsFunc(all, func(c *cardops.ConnectedCard) bool { return c.Kind == lanyard.KindAirCard }) {
		t.Errorf("staff's view of every connected card lacks the AirCards: %v", err)
	}

	// A serial is an AirCard's name to workstations and the hub, across
	// AirCard card types: a new card reporting one already registered
	// under another type is removed and made again; after three such,
	// the creation is refused, and nothing is recorded.
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCardType(&lanyard.CardType{Name: "aircard-b", Description: "Second AirCard type", Kind: lanyard.KindAirCard}); err != nil {
			return err
		}
		return tx.CreateCard(&lanyard.Card{Serial: "DUPLICATE", CardType: "aircard-b", OwnerID: e.alice.User.ID, State: lanyard.CardClean, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RegisterCard(ctx, e.admin, cardops.RegisterCardInput{Serial: "12345", CardType: "aircard"}); !lanyard.IsCode(err, lanyard.EInvalid) || !strings.Contains(err.Error(), "Issue AirCard") {
		t.Errorf("registering an AirCard by hand: %v", err)
	}
	e.access.Workstation(4).NextSerials = []string{"DUPLICATE"}
	again, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air 4"})
	if err != nil || again.Serial == "DUPLICATE" {
		t.Fatalf("an AirCard made again after a taken serial: %+v, %v", again, err)
	}
	if got := e.access.Destroyed(); !slices.Equal(got, []string{"DUPLICATE"}) {
		t.Errorf("virtual cards removed: %v, want the one with the taken serial", got)
	}
	before := len(made) + 1
	e.access.Workstation(3).NextSerials = []string{"DUPLICATE", "DUPLICATE", "DUPLICATE"}
	e.access.Workstation(4).NextSerials = []string{"DUPLICATE", "DUPLICATE", "DUPLICATE"}
	if _, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air 5"}); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("an AirCard with a registered serial three times: %v", err)
	}
	if got := e.access.Destroyed(); len(got) != 4 {
		t.Errorf("virtual cards removed: %v, want the four with the taken serial", got)
	}
	if list, err := e.svc.Workstations.AirCardsFor(ctx, 1); err != nil || len(list) != before {
		t.Errorf("after the refused AirCard workstation 1 lists %d AirCards (%v), want %d", len(list), err, before)
	}
}

// storeWorkstations records active workstations with these names, IDs 1,
// 2, … in order, as the card access's workstations are numbered; a name
// with the prefix "air:" is an AirCard service.
func (e *issueEnv) storeWorkstations(t *testing.T, names ...string) {
	t.Helper()
	if err := e.st.Update(context.Background(), func(tx lanyard.Tx) error {
		for _, name := range names {
			w := &lanyard.Workstation{Name: name, Status: lanyard.WorkstationActive, CreatedAt: time.Now()}
			if n, ok := strings.CutPrefix(name, "air:"); ok {
				w.Name, w.Role = n, lanyard.RoleAirCardService
			}
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAirCardNeedsPermission (issue 13, item 15): a policy that allows
// the aircard card type but not the Issue AirCard permission offers no
// Issue AirCard button (the reason instead) and refuses to create or
// issue one for the user; staff acting for the user are not bound by the
// user permission, as for Issue card; turning the permission on offers it.
func TestAirCardNeedsPermission(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = false
		s.Issuance.MaxCardsPerUser = 0
	})
	e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")
	e.access.AddAirCardService(3)

	wantReason(t, "without the permission", e.options(t, e.alice)[lanyard.KindAirCard], "Issue AirCard")
	_, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	wantErr(t, "alice creates an AirCard", err, lanyard.EForbidden, "Issue AirCard option in User permissions → General")

	// An administrator makes one for alice; alice still may not issue it.
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.admin, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, User: "alice", Name: "Air"})
	if err != nil {
		t.Fatalf("staff create an AirCard for alice: %v", err)
	}
	target := cardops.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}
	_, err = e.svc.Cards.IssueOptions(ctx, e.alice, target)
	wantErr(t, "alice's Issue card dialog", err, lanyard.EForbidden, "Issue AirCard")
	_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
	wantErr(t, "alice issues the AirCard", err, lanyard.EForbidden, "Issue AirCard")

	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssueAirCard = true })
	if a := e.options(t, e.alice)[lanyard.KindAirCard]; !a.Available {
		t.Fatalf("with the permission the AirCard option is %+v", a)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
	if err != nil || res.Card.State != lanyard.CardIssued {
		t.Fatalf("alice issues the AirCard with the permission: %v", err)
	}
}

// wantErr checks a refusal's code and message (servicetest.WantErr).
var wantErr = servicetest.WantErr
