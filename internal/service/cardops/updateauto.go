package cardops

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Update card contents automatically when the card is connected
// (Workflow.AutoUpdateOnConnect; docs/lifecycle.md, "Update card
// contents"): a card tied to the workstation it arrives at, whose update
// is due by the records (issuance.UpdateDue) or whose update is
// interrupted or has every approval in, is updated or continued without
// anyone choosing: as its owner asking (no second person, as when the
// owner updates their own card; approvals per template as for an issue),
// recorded with the system as actor. The decision reads records only, so
// a card that is not due costs no APDU; the card work runs in a small
// pool, apart from the arrival workers, which RSA key generation would
// otherwise hold.
const (
	// autoUpdateWorkers update cards at once.
	autoUpdateWorkers = 4
	// autoUpdateQueue arrivals wait for a worker; more are dropped (the
	// card's next arrival tries again).
	autoUpdateQueue = 256
	// autoUpdateTimeout bounds one card's update.
	autoUpdateTimeout = 3 * time.Minute
	// autoUpdateBackoff: a card whose update failed is not updated
	// automatically again for this long, so that a card that cannot be
	// updated does not try at every connection.
	autoUpdateBackoff = time.Hour
)

// autoUpdates is the automatic update's state: the queue and the cards
// being updated or recently failed, in memory.
type autoUpdates struct {
	queue  chan autoUpdateJob
	mu     sync.Mutex
	busy   map[int64]bool      // card → queued or running
	failed map[int64]time.Time // card → last failure (the backoff)
}

type autoUpdateJob struct {
	arrival lanyard.CardArrival
	card    int64
	cont    bool // an unfinished update is continued
}

func newAutoUpdates() *autoUpdates {
	return &autoUpdates{queue: make(chan autoUpdateJob, autoUpdateQueue), busy: map[int64]bool{}, failed: map[int64]time.Time{}}
}

// runAutoUpdates updates the queued cards with autoUpdateWorkers workers
// until ctx is done (HandleArrivals runs it).
func (s *Cards) runAutoUpdates(ctx context.Context) {
	var wg sync.WaitGroup
	for range autoUpdateWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-s.auto.queue:
					s.autoUpdateJob(ctx, job)
				}
			}
		})
	}
	wg.Wait()
}

// queueAutoUpdate queues the card of arrival a for an automatic update
// when it is due (autoUpdateDue); never blocks.
func (s *Cards) queueAutoUpdate(ctx context.Context, a lanyard.CardArrival) {
	job, ok, err := s.autoUpdateDue(ctx, a)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("checking whether a card's update is due failed", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
		}
		return
	}
	if !ok || !s.auto.take(job.card) {
		return
	}
	select {
	case s.auto.queue <- job:
	default:
		s.auto.release(job.card, false, time.Time{})
		s.log.Warn("too many card updates queued; the card is updated at its next connection", "card", job.card)
	}
}

// take marks card busy; false when it already is.
func (u *autoUpdates) take(card int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.busy[card] {
		return false
	}
	u.busy[card] = true
	return true
}

// release ends card's update; failed starts its backoff at now.
func (u *autoUpdates) release(card int64, failed bool, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.busy, card)
	if failed {
		u.failed[card] = now
	} else {
		delete(u.failed, card)
	}
}

// backingOff reports whether card's last automatic update failed less
// than autoUpdateBackoff before now.
func (u *autoUpdates) backingOff(card int64, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.failed[card]
	return ok && now.Sub(t) < autoUpdateBackoff
}

// autoUpdateDue decides, from the records alone, whether the card of
// arrival a is updated automatically now: tied to the workstation,
// issued, its owner's policy updating on connect, and an update due or
// one unfinished that can go on (interrupted, or pending with every
// approval in); not while an issue is unfinished, nor within the backoff
// of a failed update.
func (s *Cards) autoUpdateDue(ctx context.Context, a lanyard.CardArrival) (autoUpdateJob, bool, error) {
	job := autoUpdateJob{arrival: a}
	ok := false
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		card, err := s.tiedCardBySerial(tx, a.WorkstationID, a.Reader.Serial)
		if card == nil || err != nil || card.State != lanyard.CardIssued {
			return err
		}
		job.card = card.ID
		_, pol, err := s.ownerPolicy(tx, card)
		if pol == nil || err != nil || !pol.Settings.Workflow.AutoUpdateOnConnect {
			return err
		}
		now := s.rec.Clock()
		if s.auto.backingOff(card.ID, now) {
			return nil
		}
		if failed, err := updateFailedSince(tx, card.ID, now.Add(-autoUpdateBackoff)); failed || err != nil {
			return err
		}
		if op, err := unfinishedIssueTx(tx, card.ID); op != nil || err != nil {
			return err
		}
		op, err := unfinishedUpdateTx(tx, card.ID)
		if err != nil {
			return err
		}
		if op != nil {
			job.cont = true
			ok, err = s.canGoOn(tx, op)
			return err
		}
		in, err := s.updateInput(tx, lanyard.SystemPrincipal, card)
		if in == nil || err != nil {
			return err
		}
		in.Staff, in.Requester = false, 0
		changes, err := issuance.UpdateDue(*in)
		ok = err == nil && len(changes) > 0
		return nil
	})
	return job, ok, err
}

// updateFailedSince reports whether the card's newest update failed after
// since.
func updateFailedSince(tx lanyard.Tx, cardID int64, since time.Time) (bool, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpUpdate, Limit: 1})
	if err != nil || len(ops) == 0 {
		return false, err
	}
	return ops[0].State == lanyard.OpFailed && ops[0].UpdatedAt.After(since), nil
}

// canGoOn reports whether unfinished update op can go on without anyone:
// interrupted, or pending with every CA request decided and every
// certificate form approved.
func (s *Cards) canGoOn(tx lanyard.Tx, op *lanyard.Operation) (bool, error) {
	switch op.State {
	case lanyard.OpInterrupted:
		return true, nil
	case lanyard.OpPending:
	default:
		return false, nil
	}
	var d issueData
	if err := json.Unmarshal(op.Data, &d); err != nil {
		return false, nil
	}
	for _, sl := range d.Plan.Slots {
		if id := d.Requests[sl.Slot]; id != 0 && d.Certs[sl.Slot] == "" {
			r, err := tx.RequestByID(id)
			if err != nil {
				return false, err
			}
			if r.Status == lanyard.RequestPending {
				return false, nil
			}
		}
		if sl.NeedForm && !d.Written[sl.Slot] {
			form, err := s.documents.LatestDocument(tx, op.CardID, sl.Slot, lanyard.DocCertificateForm)
			if err != nil {
				return false, err
			}
			if form == nil || form.OperationID != op.ID || form.State != lanyard.DocApproved {
				return false, nil
			}
		}
	}
	return true, nil
}

// autoUpdateJob updates (or continues updating) the job's card, as the
// system, and records a failure for the backoff.
func (s *Cards) autoUpdateJob(ctx context.Context, job autoUpdateJob) {
	ctx, cancel := context.WithTimeout(ctx, autoUpdateTimeout)
	defer cancel()
	_, err := s.runAutoUpdate(ctx, job)
	s.auto.release(job.card, autoFailed(err), s.rec.Clock())
	switch {
	case err != nil:
		s.log.Warn("updating a card automatically failed; tried again after the backoff", "card", job.card, "workstation", job.arrival.WorkstationID, "err", err)
	default:
		s.log.Info("card updated automatically", "card", job.card, "workstation", job.arrival.WorkstationID)
	}
}

// runAutoUpdate runs job's update; the workstation's agent shows
// "updating card contents" meanwhile (lanyard agent status), then the
// card's state again.
func (s *Cards) runAutoUpdate(ctx context.Context, job autoUpdateJob) (res *UpdateCardResult, err error) {
	// A bug in an update must fail that job, not end lanyard serve (the
	// workers run in the server's process).
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("automatic card update panicked", "card", job.card, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			res, err = nil, lanyard.Errorf(lanyard.EInternal, "updating card %d automatically failed: internal error", job.card)
		}
	}()
	a := job.arrival
	s.tellCardUpdating(ctx, a.WorkstationID, a.Reader.Serial)
	defer s.tellCardState(context.WithoutCancel(ctx), a.WorkstationID, a.Reader.Serial)
	t := CardTarget{WorkstationID: a.WorkstationID, Reader: a.Reader.Name}
	if job.cont {
		return s.continueUpdate(ctx, lanyard.SystemPrincipal, job.card, t, true)
	}
	// The card the arrival named, and no other: the reader may hold
	// another card by the time the update reads it.
	return s.updateCard(ctx, lanyard.SystemPrincipal, UpdateCardInput{CardTarget: t, CardID: job.card}, true)
}

// autoUpdateNow is the automatic update of arrival a's card, at once:
// whether it ran, and its error (tests).
func (s *Cards) autoUpdateNow(ctx context.Context, a lanyard.CardArrival) (bool, error) {
	job, ok, err := s.autoUpdateDue(ctx, a)
	if err != nil || !ok {
		return false, err
	}
	if !s.auto.take(job.card) {
		return false, lanyard.Errorf(lanyard.EConflict, "card %s is being updated already", strconv.FormatInt(job.card, 10))
	}
	_, err = s.runAutoUpdate(ctx, job)
	s.auto.release(job.card, autoFailed(err), s.rec.Clock())
	return true, err
}

// autoFailed reports whether an automatic update's error starts the
// backoff: a refusal does, a card pulled or an agent gone (EUnavailable:
// the update is interrupted, continued at the next arrival) does not.
func autoFailed(err error) bool {
	return err != nil && !lanyard.IsCode(err, lanyard.EUnavailable)
}
