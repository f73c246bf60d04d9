package cardops_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// reportEnv is alice's card, issued at workstation 1 (the in-process
// card access's, recorded as a staff workstation), with the operator olivia and alice getting the PIN
// blocked messages, on a clock tests move forward.
type reportEnv struct {
	*issueEnv
	m      *stateMail
	offset *atomic.Int64
	id     int64
	serial string
}

func newReportEnv(t *testing.T) *reportEnv {
	t.Helper()
	ctx := context.Background()
	r := &reportEnv{m: &stateMail{}, offset: &atomic.Int64{}}
	now := func() time.Time { return time.Now().Add(time.Duration(r.offset.Load())) }
	r.issueEnv = newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Notifier: r.m, Now: now}})
	res, err := r.svc.Cards.IssueCard(ctx, r.alice, cardops.IssueCardInput{CardTarget: r.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	r.id, r.serial = res.Card.ID, strconv.FormatUint(uint64(r.card.Serial()), 10)
	// Workstation 1 on record: a staff workstation of no one's, tied to
	// the card only as where it was issued.
	if ws := r.workstation(t, "issue-desk", 0, lanyard.RoleWorkstation); ws != 1 {
		t.Fatalf("the issuing workstation recorded as %d, not 1", ws)
	}
	helpDesk(t, r.issueEnv)
	r.setPolicy(t, func(s *lanyard.PolicySettings) { s.Notifications.NotifyUser = true })
	if _, err := r.svc.Identity.UpdateUser(ctx, r.admin, "olivia", identity.UserInput{Email: ptr("olivia@example.test")}); err != nil {
		t.Fatal(err)
	}
	return r
}

// workstation records a paired workstation of ownerID (0: none) with
// role.
func (r *reportEnv) workstation(t *testing.T, name string, ownerID int64, role lanyard.WorkstationRole) int64 {
	t.Helper()
	w := &lanyard.Workstation{Name: name, OwnerID: ownerID, Status: lanyard.WorkstationActive, Role: role,
		PublicKey: []byte("spki " + name), KeySHA256: "key-" + name, CreatedAt: time.Now()}
	if err := r.st.Update(context.Background(), func(tx lanyard.Tx) error { return tx.CreateWorkstation(w) }); err != nil {
		t.Fatal(err)
	}
	return w.ID
}

// report has workstation ws report pin of the card.
func (r *reportEnv) report(t *testing.T, ws int64, pin lanyard.PINState) bool {
	t.Helper()
	changed, err := r.svc.Cards.RecordPINStatus(context.Background(), ws, r.serial, pin)
	if err != nil {
		t.Fatalf("report from workstation %d: %v", ws, err)
	}
	return changed
}

// events are the card's card.pin.status events.
func (r *reportEnv) events(t *testing.T) []*lanyard.AuditEvent {
	t.Helper()
	var list []*lanyard.AuditEvent
	if err := r.st.View(context.Background(), func(tx lanyard.Tx) (err error) {
		list, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.pin.status", ObjectType: "card", ObjectID: strconv.FormatInt(r.id, 10)})
		return
	}); err != nil {
		t.Fatal(err)
	}
	return list
}

func tries(left int) lanyard.PINState {
	return lanyard.PINState{TriesLeft: left, TriesTotal: 3, PUKTriesLeft: 3}
}

// A workstation's report of a card is taken only when the card is tied
// to it: issued there, the workstation of the card's owner, one of its
// AirCard computers; not another user's workstation, an AirCard service
// for a card that is no AirCard, nor an unknown workstation. What is
// not taken changes nothing: no status, no event, no message.
func TestPINReportsOnlyFromTiedWorkstations(t *testing.T) {
	r := newReportEnv(t)
	ctx := context.Background()
	bob, err := r.svc.Identity.CreateUser(ctx, r.admin, identity.UserInput{Login: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	alicePC := r.workstation(t, "alice-pc", r.alice.User.ID, lanyard.RoleWorkstation)
	bobPC := r.workstation(t, "bob-pc", bob.ID, lanyard.RoleWorkstation)
	kiosk := r.workstation(t, "kiosk", 0, lanyard.RoleWorkstation)
	service := r.workstation(t, "aircard-service", 0, lanyard.RoleAirCardService)

	for _, ws := range []int64{bobPC, kiosk, service, 999_999, 0} {
		if r.report(t, ws, tries(0)) {
			t.Fatalf("workstation %d, not tied to the card, recorded its PIN blocked", ws)
		}
	}
	v, err := r.svc.Cards.GetCard(ctx, r.alice, r.id)
	if err != nil {
		t.Fatal(err)
	}
	if v.PIN != nil || len(r.events(t)) != 0 || len(r.m.sent) != 0 {
		t.Fatalf("reports from foreign workstations left PIN %+v, %d events, messages %q", v.PIN, len(r.events(t)), r.m.sent)
	}

	// The workstation it was issued at, its owner's, and (once joined
	// as one of its computers) the kiosk.
	if !r.report(t, 1, tries(2)) || !r.report(t, alicePC, tries(1)) {
		t.Fatal("a report from the issuing or the owner's workstation was not recorded")
	}
	if r.report(t, kiosk, tries(2)) {
		t.Fatal("the kiosk's report recorded before it was joined")
	}
	if err := r.st.Update(ctx, func(tx lanyard.Tx) error {
		return tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: r.id, WorkstationID: kiosk, AddedBy: "code", AddedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if !r.report(t, kiosk, tries(2)) {
		t.Fatal("a report from one of the card's computers was not recorded")
	}
	if n := len(r.events(t)); n != 3 {
		t.Fatalf("%d card.pin.status events, want 3", n)
	}
}

// A card whose PIN flaps between blocked and not is recorded at each
// change, but its owner and the operators hear of the block once a day;
// a day later, or after Lanyard reset its PIN, again. One workstation's
// changes are capped per hour; another's are still taken.
func TestPINBlockedNoticeAndReportLimits(t *testing.T) {
	r := newReportEnv(t)
	ctx := context.Background()
	notices := []string{"pin_blocked : olivia@example.test", "pin_blocked : alice@example.test"}
	for range 5 {
		if !r.report(t, 1, tries(0)) || !r.report(t, 1, tries(3)) {
			t.Fatal("a flapping card's change was not recorded")
		}
	}
	if !slices.Equal(r.m.sent, notices) {
		t.Fatalf("a card blocked five times in a day sent %q, want %q", r.m.sent, notices)
	}
	if n := len(r.events(t)); n != 10 {
		t.Fatalf("%d card.pin.status events, want 10", n)
	}

	r.offset.Add(int64(25 * time.Hour))
	r.m.sent = nil
	r.report(t, 1, tries(0))
	r.report(t, 1, tries(3))
	r.report(t, 1, tries(0))
	if !slices.Equal(r.m.sent, notices) {
		t.Fatalf("a day later: %q, want %q", r.m.sent, notices)
	}

	// Lanyard's PIN reset (the owner's, with her answers) starts over.
	r.m.sent = nil
	if _, err := r.svc.Cards.ResetPIN(ctx, r.alice, r.id, cardops.ResetPINInput{CardTarget: r.target(), NewPIN: "86420864", Answers: aliceAnswers}); err != nil {
		t.Fatal(err)
	}
	r.m.sent = slices.DeleteFunc(r.m.sent, func(s string) bool { return !slices.Contains(notices, s) })
	r.report(t, 1, tries(0))
	if !slices.Equal(r.m.sent, notices) {
		t.Fatalf("blocked again after a PIN reset: %q, want %q", r.m.sent, notices)
	}

	// The per-workstation cap: spent tries going up and down, far more
	// than a card at a workstation goes through in an hour.
	r.offset.Add(int64(2 * time.Hour))
	taken := 0
	for i := range 300 {
		if r.report(t, 1, tries(1+i%2)) {
			taken++
		}
	}
	if taken == 0 || taken >= 300 {
		t.Fatalf("%d of 300 changes in an hour taken from one workstation", taken)
	}
	alicePC := r.workstation(t, "alice-pc", r.alice.User.ID, lanyard.RoleWorkstation)
	if !r.report(t, alicePC, tries(0)) {
		t.Fatal("another workstation's report refused while the first one is over its cap")
	}
	r.offset.Add(int64(time.Hour))
	if !r.report(t, 1, tries(3)) {
		t.Fatal("the workstation's report refused in the next period")
	}
}

// An AirCard service's reports of AirCards are taken, without the
// per-workstation cap (it reports thousands at its first start), and
// only of AirCards.
func TestAirCardServiceReports(t *testing.T) {
	r := newReportEnv(t)
	ctx := context.Background()
	service := r.workstation(t, "aircard-service", 0, lanyard.RoleAirCardService)
	air := &lanyard.Card{Serial: "7007", CardType: "air", OwnerID: r.alice.User.ID, State: lanyard.CardIssued, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := r.st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCardType(&lanyard.CardType{Name: "air", Description: "AirCards", Kind: lanyard.KindAirCard}); err != nil {
			return err
		}
		return tx.CreateCard(air)
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		changed, err := r.svc.Cards.RecordPINStatus(ctx, service, air.Serial, tries(1+i%2))
		if err != nil || !changed {
			t.Fatalf("the AirCard service's report %d of an AirCard: %v, %v", i, changed, err)
		}
	}
	if r.report(t, service, tries(0)) {
		t.Fatal("the AirCard service's report of a card that is no AirCard was recorded")
	}
}
