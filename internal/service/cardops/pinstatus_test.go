package cardops_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// pinOf reads the card's PIN status as an agent does (piv.ReadPINStatus)
// and gives it in the domain's terms.
func pinOf(t *testing.T, pc *piv.Card) lanyard.PINState {
	t.Helper()
	st, err := pc.ReadPINStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return lanyard.PINState{TriesLeft: st.PINLeft, TriesTotal: st.PINTotal, PUKTriesLeft: st.PUKLeft}
}

// An agent's reports of a card's PIN status are recorded only when they
// say something new, each change with one card.pin.status audit event;
// the card view and the PIN blocked filter show the last one; the
// operators and the owner hear of the block once; Lanyard's own PIN
// reset gives the card its full tries back in the record.
func TestRecordPINStatus(t *testing.T) {
	ctx := context.Background()
	m := &stateMail{}
	e, olivia, id, pc := offlineEnvFrom(t, &issueEnv{opts: servicetest.Options{Notifier: m}})
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Notifications.NotifyUser = true })
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "olivia", identity.UserInput{Email: ptr("olivia@example.test")}); err != nil {
		t.Fatal(err)
	}
	serial := strconv.FormatUint(uint64(e.card.Serial()), 10)
	events := func() int {
		t.Helper()
		var n int
		err := e.st.View(ctx, func(tx lanyard.Tx) error {
			list, err := tx.ListAudit(lanyard.AuditFilter{Action: "card.pin.status", ObjectID: strconv.FormatInt(id, 10)})
			n = len(list)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	view := func() *lanyard.CardPINStatus {
		t.Helper()
		v, err := e.svc.Cards.GetCard(ctx, olivia, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.PIN == nil {
			return nil
		}
		return &v.PIN.CardPINStatus
	}
	blockedList := func() []int64 {
		t.Helper()
		list, err := e.svc.Cards.ListCards(ctx, olivia, lanyard.CardFilter{PINBlocked: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, v := range list {
			ids = append(ids, v.ID)
		}
		return ids
	}
	record := func(want bool, pin lanyard.PINState) {
		t.Helper()
		changed, err := e.svc.Cards.RecordPINStatus(ctx, 1, serial, pin)
		if err != nil || changed != want {
			t.Fatalf("RecordPINStatus(%+v) = %v, %v; want %v", pin, changed, err, want)
		}
	}

	// offlineEnv blocked the PIN on the card.
	blocked := pinOf(t, pc)
	if !blocked.Blocked() || blocked.TriesTotal != 3 {
		t.Fatalf("the card says %+v", blocked)
	}
	recordsOnce(t, e, serial, blocked)
	record(false, blocked)
	if got := view(); got == nil || !got.Blocked || got.TriesLeft != 0 || got.TriesTotal != 3 || got.PUKTriesLeft != 3 {
		t.Fatalf("card view's PIN %+v", got)
	}
	if n := events(); n != 1 {
		t.Fatalf("%d card.pin.status events after the same report twice, want 1", n)
	}
	if got := blockedList(); !slices.Equal(got, []int64{id}) {
		t.Fatalf("PIN blocked cards %v, want [%d]", got, id)
	}
	want := []string{"pin_blocked : olivia@example.test", "pin_blocked : alice@example.test"}
	if !slices.Equal(m.sent, want) {
		t.Fatalf("notifications %q, want %q", m.sent, want)
	}
	if _, err := e.svc.Cards.RecordPINStatus(ctx, 1, "no-such-card", blocked); err != nil {
		t.Fatalf("a card Lanyard does not know: %v", err)
	}

	// The owner's PIN reset: full tries in the record at once.
	m.sent = nil
	if _, err := e.svc.Cards.ResetPIN(ctx, e.alice, id, cardops.ResetPINInput{CardTarget: e.target(), NewPIN: "86420864", Answers: aliceAnswers}); err != nil {
		t.Fatal(err)
	}
	if got := view(); got == nil || got.Blocked || got.TriesLeft != 3 || got.WorkstationID != 0 {
		t.Fatalf("after the reset %+v", got)
	}
	if got := blockedList(); len(got) != 0 {
		t.Fatalf("PIN blocked cards after the reset %v", got)
	}
	record(false, pinOf(t, pc)) // the agent's report after the session says the same

	// Wrong PINs seen by the agent, down to blocked again: a new block,
	// told again.
	for left := 2; left >= 0; left-- {
		_ = pc.VerifyPIN(ctx, "11111111")
		record(true, pinOf(t, pc))
	}
	if n := events(); n != 4 {
		t.Fatalf("%d card.pin.status events, want 4", n)
	}
	if !slices.Contains(m.sent, "pin_blocked : olivia@example.test") {
		t.Fatalf("the second block was not told: %q", m.sent)
	}
}

// recordsOnce has workers report the same news of the card with serial
// at once (two readers' arrival workers): exactly one records it.
func recordsOnce(t *testing.T, e *issueEnv, serial string, pin lanyard.PINState) {
	t.Helper()
	var wg sync.WaitGroup
	var recorded atomic.Int32
	for range 4 {
		wg.Go(func() {
			if changed, err := e.svc.Cards.RecordPINStatus(context.Background(), 1, serial, pin); err != nil {
				t.Error(err)
			} else if changed {
				recorded.Add(1)
			}
		})
	}
	wg.Wait()
	if n := recorded.Load(); n != 1 {
		t.Fatalf("the same report at once recorded %d times", n)
	}
}
