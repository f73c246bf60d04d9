// Package operation runs Lanyard's resumable card workflows: issue and
// Continue card issue, software stores, revoke and clear, virtual card
// creation. A workflow is a sequence of named steps, each of which talks
// to a card, an agent or a CA and then records what it did. The runner
// makes the recording uniform:
//
//   - Start records the card and a running Operation in one transaction
//     with its audit event, after the workflow's own checks in that
//     transaction.
//   - Step records one step: the operation's step name and typed record
//     (Operation.Data), optionally the card and the workflow's own writes,
//     and one audit event — one transaction, a compare-and-set on the
//     operation, so that of two runs of one operation only one proceeds.
//   - Stop ends a run that could not go on (interrupted: resumable;
//     failed: a new run is needed), Resume takes an interrupted or pending
//     one up again from its recorded step, and Sweep marks runs whose
//     server went away as interrupted.
//
// The runner knows nothing of cards or certificates: which step comes
// next, and what a failure means, is the workflow's (internal/service).
// Step names are stored and shown, so their values never change.
package operation

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Step is the name of a recorded step (Operation.Step).
type Step string

// The steps of the card workflows, in the order an issue takes them.
// Per-slot steps are SlotSteps.
const (
	Planned      Step = "planned"       // the operation is recorded; nothing done yet
	Initializing Step = "initializing"  // the card is being reset (a wipe started; it may be reset)
	Initialized  Step = "initialized"   // the card was reset to its factory state
	AdminKey     Step = "admin_key"     // the management key version is chosen
	AdminKeySet  Step = "admin_key_set" // the card has its diversified management key
	PUKDrawn     Step = "puk_drawn"     // the card's own PUK is drawn and recorded sealed
	PUK          Step = "puk"           // the card has its own PUK
	PIN          Step = "pin"           // the User PIN is set
	Tracked      Step = "tracked"       // third-party certificates are recorded
	Done         Step = "done"          // the run is over (done or pending)

	// Revoke and clear card.
	CertificatesDeleted Step = "certificates_deleted" // Lanyard's certificates are off the card
	PINReset            Step = "pin_reset"            // the PIN is the card type's again, the PUK recorded

	// Reset user PIN (online unblock); PUKDrawn comes first.
	PINUnblocked Step = "pin_unblocked" // RESET RETRY COUNTER set the new PIN with the card's PUK
	PUKSent      Step = "puk_sent"      // the drawn PUK was sent to the card, which may hold it
)

// SlotStep is a step taken once per slot (or per template of a software
// store): Issued.On("9a") is "issued:9a".
type SlotStep string

// The per-slot steps.
const (
	Issued    SlotStep = "issued"    // the certificate is signed and recorded
	Requested SlotStep = "requested" // the request waits in the CA's queue
	Approved  SlotStep = "approved"  // the approved certificate is bound to the card
	Written   SlotStep = "written"   // the certificate is on the card (or in the store)
	// Update card contents (cardops, update*.go).
	Staged   SlotStep = "staged"   // the spare slot the new key is built in is chosen
	Rekeying SlotStep = "rekeying" // a new key may be generated in place (the old one lost)
	Retiring SlotStep = "retiring" // the old key goes to a retired slot (key history) before the new one is moved in
	Swapping SlotStep = "swapping" // the new certificate and key are being moved into the slot
	Swapped  SlotStep = "swapped"  // the new key and certificate are in the slot
	Verified SlotStep = "verified" // read back; the old certificate is revoked (superseded)
	Removed  SlotStep = "removed"  // the certificate is off the card and revoked (superseded)
)

// On is the step s for slot.
func (s SlotStep) On(slot string) Step { return Step(string(s) + ":" + slot) }

// Runner records runs in a store.
type Runner struct {
	store lanyard.Store
	now   func() time.Time
}

// New returns a runner over store; now is the clock of its records.
func New(store lanyard.Store, now func() time.Time) *Runner {
	return &Runner{store: store, now: now}
}

// Run is one run of a workflow: its operation, its card and its typed
// record D (stored as Operation.Data). A workflow's job embeds it. Only
// the runner writes Op and Card's UpdatedAt; a failed Step leaves them as
// they were.
type Run[D any] struct {
	Op   *lanyard.Operation
	Card *lanyard.Card
	Data *D
	// StepEvent builds the audit event of a step recorded without one of
	// its own (Event); nil means every step brings its own.
	StepEvent func(step Step) *lanyard.AuditEvent
	r         *Runner
}

// Begin is what Start records.
type Begin struct {
	// Card is created when its ID is 0, else updated.
	Card *lanyard.Card
	// Op gives the operation's Kind, UserID and ActorID.
	Op lanyard.Operation
	// Check runs first in the transaction: the workflow's checks, held
	// until commit (nil: none).
	Check func(tx lanyard.Tx) error
	// Then runs after the card is written, its ID known (nil: nothing).
	Then func(tx lanyard.Tx, card *lanyard.Card) error
	// Event is the audit event, built with the card's and the
	// operation's IDs.
	Event func(card *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent
}

// Start records b's card and a new running operation at step Planned
// with the record data, in one transaction with b's checks and event.
func Start[D any](ctx context.Context, r *Runner, b Begin, data *D) (*Run[D], error) {
	return begin(ctx, r, b, data, lanyard.OpRunning, Planned)
}

// Once records a workflow that is one transaction: b's card and its
// operation, done at step Done, with b's checks and event. The card's
// history lists it like any other operation.
func Once[D any](ctx context.Context, r *Runner, b Begin, data *D) (*Run[D], error) {
	return begin(ctx, r, b, data, lanyard.OpDone, Done)
}

// Interrupted records a workflow whose card work is left to a later run:
// b's card and its operation, interrupted at step with the record data
// (b.Op.Error says why), in one transaction with b's checks and event.
func Interrupted[D any](ctx context.Context, r *Runner, b Begin, data *D, step Step) (*Run[D], error) {
	return begin(ctx, r, b, data, lanyard.OpInterrupted, step)
}

func begin[D any](ctx context.Context, r *Runner, b Begin, data *D, state lanyard.OperationState, step Step) (*Run[D], error) {
	raw, err := marshal(data)
	if err != nil {
		return nil, err
	}
	now := r.now()
	o := b.Op
	o.State, o.Step, o.Data, o.CreatedAt, o.UpdatedAt = state, string(step), raw, now, now
	card := b.Card
	err = r.store.Update(ctx, func(tx lanyard.Tx) error {
		if b.Check != nil {
			if err := b.Check(tx); err != nil {
				return err
			}
		}
		if card.ID == 0 {
			if err := tx.CreateCard(card); err != nil {
				return err
			}
		} else if err := tx.UpdateCard(card); err != nil {
			return err
		}
		if b.Then != nil {
			if err := b.Then(tx, card); err != nil {
				return err
			}
		}
		o.CardID = card.ID
		if err := tx.CreateOperation(&o); err != nil {
			return err
		}
		return tx.AppendAudit(b.Event(card, &o))
	})
	if err != nil {
		return nil, err
	}
	return &Run[D]{Op: &o, Card: card, Data: data, r: r}, nil
}

// Attach returns a run of an operation already recorded (op and card as
// read, data its record decoded): Continue card issue attaches, then
// Resumes.
func Attach[D any](r *Runner, op *lanyard.Operation, card *lanyard.Card, data *D) *Run[D] {
	return &Run[D]{Op: op, Card: card, Data: data, r: r}
}

// An Option adds to what a Step (or Stop) writes in its transaction.
type Option func(*writes)

type writes struct {
	card  bool
	also  []func(tx lanyard.Tx) error
	event func() *lanyard.AuditEvent
}

// WithCard writes the run's Card too (its UpdatedAt set to the step's
// time). Set the card's fields before the step; a failed step leaves
// Card's UpdatedAt as it was, the workflow restores the rest.
func WithCard() Option { return func(w *writes) { w.card = true } }

// Also runs fn in the step's transaction before the operation is written;
// fn may add to the record (the record is marshalled after it).
func Also(fn func(tx lanyard.Tx) error) Option {
	return func(w *writes) {
		if fn != nil {
			w.also = append(w.also, fn)
		}
	}
}

// Event is the step's audit event, instead of StepEvent's.
func Event(ev *lanyard.AuditEvent) Option {
	return func(w *writes) {
		if ev != nil {
			w.event = func() *lanyard.AuditEvent { return ev }
		}
	}
}

// EventAfter builds the step's audit event in its transaction, after the
// Also functions ran: for an event that tells what they did.
func EventAfter(ev func() *lanyard.AuditEvent) Option {
	return func(w *writes) { w.event = ev }
}

// Step records step name: the operation's step, state and record, and
// what the options add, with one audit event, in one transaction that
// fails with EConflict when another run wrote the operation since this
// one read it. It is recorded even when ctx is cancelled: the card
// already did what the step records.
func (run *Run[D]) Step(ctx context.Context, name Step, opts ...Option) error {
	op := *run.Op
	op.Step = string(name)
	return run.write(ctx, &op, true, opts)
}

// Resume takes an interrupted or pending operation up again: running, its
// error cleared, at the step it had recorded, with ev.
func (run *Run[D]) Resume(ctx context.Context, ev *lanyard.AuditEvent) error {
	op := *run.Op
	op.State, op.Error = lanyard.OpRunning, ""
	return run.write(ctx, &op, true, []Option{Event(ev)})
}

// Stop ends the run in state (interrupted or failed) with message msg,
// writing what the options add (a failed run's clean-up) and their audit
// event in one transaction. The record stays as the last step wrote it:
// what the run did after that step is not recorded, so a resumed run
// does it again.
func (run *Run[D]) Stop(ctx context.Context, state lanyard.OperationState, msg string, opts ...Option) error {
	op := *run.Op
	op.State, op.Error = state, msg
	return run.write(ctx, &op, false, opts)
}

// write records op (its record marshalled from Data when record is set)
// with what opts add, in one transaction.
func (run *Run[D]) write(ctx context.Context, op *lanyard.Operation, record bool, opts []Option) error {
	var w writes
	for _, o := range opts {
		o(&w)
	}
	now := run.r.now()
	prev := op.UpdatedAt
	op.UpdatedAt = now
	c := *run.Card
	c.UpdatedAt = now
	event := w.event
	if event == nil && run.StepEvent != nil {
		step := Step(op.Step)
		event = func() *lanyard.AuditEvent { return run.StepEvent(step) }
	}
	err := run.r.store.Update(context.WithoutCancel(ctx), func(tx lanyard.Tx) error {
		for _, fn := range w.also {
			if err := fn(tx); err != nil {
				return err
			}
		}
		if record {
			data, err := marshal(run.Data)
			if err != nil {
				return err
			}
			op.Data = data
		}
		if err := tx.UpdateOperation(op, prev); err != nil {
			return err
		}
		if w.card {
			if err := tx.UpdateCard(&c); err != nil {
				return err
			}
		}
		if event == nil {
			return nil
		}
		return tx.AppendAudit(event())
	})
	if err != nil {
		return err
	}
	*run.Op = *op
	if w.card {
		*run.Card = c
	}
	return nil
}

func marshal(data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "operation record")
	}
	return raw, nil
}

// Sweep ends running operations that recorded nothing for idle: the
// server that ran them stopped or lost the request. stop says, for each,
// the state it ends in (interrupted: resumable; failed) with its message
// and builds its audit event. An operation that moves on meanwhile
// (EConflict) is alive and left alone; with several replicas, idle keeps
// Sweep from touching another replica's live operation. It returns how
// many it ended.
func (r *Runner) Sweep(ctx context.Context, idle time.Duration, stop func(op *lanyard.Operation) (lanyard.OperationState, string, func() *lanyard.AuditEvent)) (int, error) {
	var ops []*lanyard.Operation
	if err := r.store.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListOperations(lanyard.OperationFilter{State: lanyard.OpRunning, Limit: 1000})
		return err
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, op := range ops {
		if r.now().Sub(op.UpdatedAt) < idle {
			continue
		}
		prev := op.UpdatedAt
		state, msg, event := stop(op)
		op.State, op.Error, op.UpdatedAt = state, msg, r.now()
		err := r.store.Update(ctx, func(tx lanyard.Tx) error {
			if err := tx.UpdateOperation(op, prev); err != nil {
				return err
			}
			return tx.AppendAudit(event())
		})
		if lanyard.IsCode(err, lanyard.EConflict) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
