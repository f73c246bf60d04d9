package operation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// record is a workflow's typed record, as issueData is the issue's.
type record struct {
	Done  []string         `json:"done"`
	IDs   map[string]int64 `json:"ids,omitempty"`
	Extra string           `json:"extra,omitempty"`
}

type env struct {
	st     lanyard.Store
	r      *operation.Runner
	now    time.Time
	alice  *lanyard.User
	serial int // of the last card started
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	e.r = operation.New(st, func() time.Time { return e.now })
	e.alice = storetest.MustCreateUser(t, st, "alice")
	return e
}

func (e *env) event(action string) *lanyard.AuditEvent {
	return &lanyard.AuditEvent{Time: e.now, Actor: "alice", Action: action, ObjectType: "card"}
}

// start records a new card and operation for alice.
func (e *env) start(t *testing.T, data *record) *operation.Run[record] {
	t.Helper()
	e.serial++
	card := &lanyard.Card{Serial: fmt.Sprint(e.serial), CardType: "piv", OwnerID: e.alice.ID, State: lanyard.CardAssigned, CreatedAt: e.now, UpdatedAt: e.now}
	run, err := operation.Start(t.Context(), e.r, operation.Begin{Card: card, Op: lanyard.Operation{Kind: lanyard.OpIssue, UserID: e.alice.ID, ActorID: e.alice.ID},
		Event: func(*lanyard.Card, *lanyard.Operation) *lanyard.AuditEvent { return e.event("card.issue.start") }}, data)
	if err != nil {
		t.Fatal(err)
	}
	run.StepEvent = func(step operation.Step) *lanyard.AuditEvent { return e.event("step " + string(step)) }
	return run
}

// stored reads the operation and its card back.
func (e *env) stored(t *testing.T, run *operation.Run[record]) (*lanyard.Operation, *lanyard.Card) {
	t.Helper()
	var op *lanyard.Operation
	var card *lanyard.Card
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		if op, err = tx.OperationByID(run.Op.ID); err != nil {
			return err
		}
		card, err = tx.CardByID(run.Card.ID)
		return err
	})
	return op, card
}

// audit is the audit log, oldest first.
func (e *env) audit(t *testing.T) []*lanyard.AuditEvent {
	t.Helper()
	var evs []*lanyard.AuditEvent
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Limit: 100})
		return err
	})
	return evs
}

// actions lists the audit log's actions, oldest first.
func (e *env) actions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, ev := range e.audit(t) {
		out = append(out, ev.Action)
	}
	return out
}

func TestStartRecordsCardOperationAndEvent(t *testing.T) {
	e := newEnv(t)
	run := e.start(t, &record{Done: []string{}})
	op, card := e.stored(t, run)
	if op.State != lanyard.OpRunning || op.Step != string(operation.Planned) || op.CardID != card.ID || string(op.Data) != `{"done":[]}` {
		t.Fatalf("started operation %+v (data %s)", op, op.Data)
	}
	if got := e.actions(t); len(got) != 1 || got[0] != "card.issue.start" {
		t.Fatalf("audit after the start: %v", got)
	}
}

// The workflow's check runs in the start's transaction: when it refuses,
// neither card nor operation nor event is recorded.
func TestStartRefusedByCheckRecordsNothing(t *testing.T) {
	e := newEnv(t)
	card := &lanyard.Card{Serial: "1001", CardType: "piv", OwnerID: e.alice.ID, State: lanyard.CardAssigned, CreatedAt: e.now, UpdatedAt: e.now}
	refused := lanyard.Errorf(lanyard.EConflict, "the policy allows at most 1 card")
	_, err := operation.Start(t.Context(), e.r, operation.Begin{Card: card, Op: lanyard.Operation{Kind: lanyard.OpIssue, UserID: e.alice.ID},
		Check: func(lanyard.Tx) error { return refused }, Event: func(*lanyard.Card, *lanyard.Operation) *lanyard.AuditEvent { return e.event("card.issue.start") }}, &record{})
	if !errors.Is(err, refused) {
		t.Fatalf("start: %v, want the check's refusal", err)
	}
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		if n, err := tx.CountCards(e.alice.ID); err != nil || n != 0 {
			t.Errorf("cards after a refused start: %d %v", n, err)
		}
		ops, err := tx.ListOperations(lanyard.OperationFilter{})
		if len(ops) != 0 {
			t.Errorf("operations after a refused start: %d", len(ops))
		}
		return err
	})
	if got := e.actions(t); len(got) != 0 {
		t.Fatalf("audit after a refused start: %v", got)
	}
}

// A step writes the step name, the record as Also left it, the card when
// asked, and one event (its own, or StepEvent's).
func TestStepRecordsAfterAlso(t *testing.T) {
	e := newEnv(t)
	data := &record{IDs: map[string]int64{}}
	run := e.start(t, data)
	e.now = e.now.Add(time.Second)
	data.Done = append(data.Done, "9a")
	run.Card.State = lanyard.CardIssued
	err := run.Step(t.Context(), operation.Requested.On("9a"), operation.WithCard(), operation.Also(func(lanyard.Tx) error {
		data.IDs["9a"] = 42 // as a request's ID, known only in the transaction
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	op, card := e.stored(t, run)
	if op.Step != "requested:9a" || string(op.Data) != `{"done":["9a"],"ids":{"9a":42}}` || !op.UpdatedAt.Equal(e.now) {
		t.Fatalf("after the step: %+v (data %s)", op, op.Data)
	}
	if card.State != lanyard.CardIssued || !card.UpdatedAt.Equal(e.now) || !run.Card.UpdatedAt.Equal(e.now) {
		t.Fatalf("card after the step: %+v", card)
	}
	if err := run.Step(t.Context(), operation.PIN, operation.Event(e.event("card.pin"))); err != nil {
		t.Fatal(err)
	}
	if got := e.actions(t); len(got) != 3 || got[1] != "step requested:9a" || got[2] != "card.pin" {
		t.Fatalf("audit: %v", got)
	}
}

// Of two runs of one operation only one proceeds: the other's step fails
// with EConflict and leaves its Op and Card as they were; so does a step
// whose own writes fail.
func TestStepCompareAndSet(t *testing.T) {
	e := newEnv(t)
	first := e.start(t, &record{})
	op, card := e.stored(t, first)
	second := operation.Attach(e.r, op, card, &record{})
	e.now = e.now.Add(time.Second)
	if err := first.Step(t.Context(), operation.AdminKey); err != nil {
		t.Fatal(err)
	}
	before, beforeCard := *second.Op, *second.Card
	if err := second.Step(t.Context(), operation.AdminKey, operation.WithCard()); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("the second run's step: %v, want a conflict", err)
	}
	if second.Op.Step != before.Step || !second.Op.UpdatedAt.Equal(before.UpdatedAt) || !second.Card.UpdatedAt.Equal(beforeCard.UpdatedAt) {
		t.Fatalf("a refused step changed the run: %+v", second.Op)
	}
	failing := errors.New("disk full")
	prev := *first.Op
	if err := first.Step(t.Context(), operation.PIN, operation.Also(func(lanyard.Tx) error { return failing })); !errors.Is(err, failing) {
		t.Fatalf("step with a failing write: %v", err)
	}
	if first.Op.Step != prev.Step || !first.Op.UpdatedAt.Equal(prev.UpdatedAt) {
		t.Fatalf("a failed step changed the run: %+v", first.Op)
	}
	if stored, _ := e.stored(t, first); stored.Step != string(operation.AdminKey) {
		t.Fatalf("stored step %q after the failed one", stored.Step)
	}
}

// Stop writes state and message but not the record: what the run did
// after its last step is not recorded, so a resumed run does it again.
// Resume takes the operation up at the same step, running, error cleared.
func TestStopKeepsRecordResumeClearsError(t *testing.T) {
	e := newEnv(t)
	data := &record{}
	run := e.start(t, data)
	data.Done = []string{"9a"}
	if err := run.Step(t.Context(), operation.Issued.On("9a")); err != nil {
		t.Fatal(err)
	}
	data.Done = append(data.Done, "9c") // done on the card, not recorded
	if err := run.Stop(t.Context(), lanyard.OpInterrupted, "the card was pulled", operation.Event(e.event("card.issue.interrupt"))); err != nil {
		t.Fatal(err)
	}
	op, _ := e.stored(t, run)
	if op.State != lanyard.OpInterrupted || op.Error != "the card was pulled" || op.Step != "issued:9a" || string(op.Data) != `{"done":["9a"]}` {
		t.Fatalf("stopped operation %+v (data %s)", op, op.Data)
	}
	_, card := e.stored(t, run)
	resumed := operation.Attach(e.r, op, card, &record{Done: []string{"9a"}})
	if err := resumed.Resume(t.Context(), e.event("card.issue.continue")); err != nil {
		t.Fatal(err)
	}
	op, _ = e.stored(t, resumed)
	if op.State != lanyard.OpRunning || op.Error != "" || op.Step != "issued:9a" {
		t.Fatalf("resumed operation %+v", op)
	}
	if got := e.actions(t); got[len(got)-1] != "card.issue.continue" || got[len(got)-2] != "card.issue.interrupt" {
		t.Fatalf("audit: %v", got)
	}
}

// EventAfter builds the event after the step's own writes: it can tell
// what they did.
func TestEventAfterSeesWrites(t *testing.T) {
	e := newEnv(t)
	run := e.start(t, &record{})
	var revoked []string
	err := run.Stop(t.Context(), lanyard.OpFailed, "refused", operation.Also(func(lanyard.Tx) error {
		revoked = append(revoked, "0a")
		return nil
	}), operation.EventAfter(func() *lanyard.AuditEvent {
		ev := e.event("card.issue.fail")
		ev.Details = json.RawMessage(fmt.Sprintf(`{"revoked":%d}`, len(revoked)))
		return ev
	}))
	if err != nil {
		t.Fatal(err)
	}
	evs := e.audit(t)
	if last := evs[len(evs)-1]; last.Action != "card.issue.fail" || string(last.Details) != `{"revoked":1}` {
		t.Errorf("the failure's event: %+v", last)
	}
}

// Sweep ends the running operations idle for the limit, in the state the
// workflow says (an issue: interrupted; a clear: failed), and leaves the
// live and the finished ones alone.
func TestSweepEndsIdleRuns(t *testing.T) {
	e := newEnv(t)
	idle := e.start(t, &record{})
	idleClear, err := operation.Start(t.Context(), e.r, operation.Begin{Card: idle.Card, Op: lanyard.Operation{Kind: "clear", UserID: e.alice.ID},
		Event: func(*lanyard.Card, *lanyard.Operation) *lanyard.AuditEvent { return e.event("card.clear.start") }}, &record{})
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(2 * time.Minute)
	live := e.start(t, &record{})
	done := e.start(t, &record{})
	done.Op.State = lanyard.OpDone
	if err := done.Step(t.Context(), operation.Done); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(30 * time.Second)
	n, err := e.r.Sweep(context.Background(), time.Minute, func(op *lanyard.Operation) (lanyard.OperationState, string, func() *lanyard.AuditEvent) {
		state := lanyard.OpInterrupted
		if op.Kind != lanyard.OpIssue {
			state = lanyard.OpFailed
		}
		return state, "the server stopped during the operation", func() *lanyard.AuditEvent { return e.event("card.issue.interrupt") }
	})
	if err != nil || n != 2 {
		t.Fatalf("sweep: %d %v, want 2", n, err)
	}
	for run, want := range map[*operation.Run[record]]lanyard.OperationState{idle: lanyard.OpInterrupted, idleClear: lanyard.OpFailed, live: lanyard.OpRunning, done: lanyard.OpDone} {
		if op, _ := e.stored(t, run); op.State != want {
			t.Errorf("operation %d is %s, want %s", op.ID, op.State, want)
		}
	}
}

// Once records a one-transaction workflow as a done operation, its card
// and what Then writes, with one event; a refusal records nothing.
func TestOnceRecordsDoneOperation(t *testing.T) {
	e := newEnv(t)
	card := &lanyard.Card{Serial: "TPM-1", CardType: "tpm", OwnerID: e.alice.ID, State: lanyard.CardClean, CreatedAt: e.now, UpdatedAt: e.now}
	var thenCard int64
	run, err := operation.Once(t.Context(), e.r, operation.Begin{Card: card, Op: lanyard.Operation{Kind: "create_virtual", UserID: e.alice.ID, ActorID: e.alice.ID},
		Then:  func(_ lanyard.Tx, c *lanyard.Card) error { thenCard = c.ID; return nil },
		Event: func(*lanyard.Card, *lanyard.Operation) *lanyard.AuditEvent { return e.event("card.virtual.create") }}, &record{})
	if err != nil {
		t.Fatal(err)
	}
	op, stored := e.stored(t, run)
	if op.State != lanyard.OpDone || op.Step != string(operation.Done) || stored.ID != thenCard || thenCard == 0 {
		t.Fatalf("once: operation %+v, card %d, Then saw %d", op, stored.ID, thenCard)
	}
	if got := e.actions(t); len(got) != 1 || got[0] != "card.virtual.create" {
		t.Fatalf("audit: %v", got)
	}
}

func TestSlotStep(t *testing.T) {
	for step, want := range map[operation.Step]string{
		operation.Issued.On("9a"): "issued:9a", operation.Requested.On("9c"): "requested:9c",
		operation.Approved.On("9d"): "approved:9d", operation.Written.On("secure-email"): "written:secure-email",
	} {
		if string(step) != want {
			t.Errorf("step %q, want %q", step, want)
		}
	}
}
