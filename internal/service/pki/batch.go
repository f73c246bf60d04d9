package pki

import (
	"context"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// certWriter commits issued certificates and their audit events in shared
// transactions: group commit. A durable commit costs an fsync (SQLite) or
// a round trip and WAL flush (PostgreSQL), so one transaction per
// certificate would cap issuance at the disk's sync rate; sharing keeps
// every write durable before its caller hears "done" while paying one
// commit, and a few multi-row INSERTs, per batch.
//
// If a batch fails, each of its writes is retried alone, so one bad write
// (say a unique-serial clash) fails only its own caller.
type certWriter struct {
	store lanyard.Store
	max   int
	jobs  chan *certJob
	wg    sync.WaitGroup
}

// batchLinger is how long the writer waits for more writes to share a
// transaction. Under load this turns many small commits into few larger
// ones (fewer fsyncs and WAL page writes per certificate); an idle server
// pays it once per write, which is small next to a durable commit.
const batchLinger = time.Millisecond

type certJob struct {
	ctx  context.Context
	cert *lanyard.Certificate
	ev   *lanyard.AuditEvent
	done chan error
}

func newCertWriter(store lanyard.Store, max int) *certWriter {
	w := &certWriter{store: store, max: max, jobs: make(chan *certJob, max)}
	w.wg.Add(1)
	go w.loop()
	return w
}

// write stores cert and ev in a transaction shared with other writers and
// returns once that transaction committed (or the write's own retry
// failed).
func (w *certWriter) write(ctx context.Context, cert *lanyard.Certificate, ev *lanyard.AuditEvent) error {
	j := &certJob{ctx: ctx, cert: cert, ev: ev, done: make(chan error, 1)}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the job will run; wait for its outcome even if ctx ends,
	// so the caller never reports failure for a write that committed.
	return <-j.done
}

// issuedWriter is implemented by stores with a faster path for a batch of
// issued certificates and their audit events (sqlstore.DB.CreateIssued:
// one round trip on PostgreSQL). Its effect must equal commit's fallback.
type issuedWriter interface {
	CreateIssued(ctx context.Context, certs []*lanyard.Certificate, evs []*lanyard.AuditEvent) error
}

func (w *certWriter) commit(certs []*lanyard.Certificate, evs []*lanyard.AuditEvent) error {
	if iw, ok := w.store.(issuedWriter); ok {
		return iw.CreateIssued(context.Background(), certs, evs)
	}
	return w.store.Update(context.Background(), func(tx lanyard.Tx) error {
		if err := tx.CreateCertificates(certs); err != nil {
			return err
		}
		return tx.AppendAudits(evs)
	})
}

func (w *certWriter) close() {
	close(w.jobs)
	w.wg.Wait()
}

func (w *certWriter) loop() {
	defer w.wg.Done()
	batch := make([]*certJob, 0, w.max)
	for j := range w.jobs {
		batch = append(batch[:0], j)
		linger := time.NewTimer(batchLinger)
	drain:
		for len(batch) < w.max {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			case <-linger.C:
				break drain
			}
		}
		linger.Stop()
		w.run(batch)
	}
}

func (w *certWriter) run(batch []*certJob) {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- err
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	certs := make([]*lanyard.Certificate, len(live))
	evs := make([]*lanyard.AuditEvent, len(live))
	for i, j := range live {
		certs[i], evs[i] = j.cert, j.ev
	}
	err := w.commit(certs, evs)
	if err == nil || len(live) == 1 {
		for _, j := range live {
			j.done <- err
		}
		return
	}
	for _, j := range live {
		j.done <- w.store.Update(context.WithoutCancel(j.ctx), func(tx lanyard.Tx) error {
			if err := tx.CreateCertificate(j.cert); err != nil {
				return err
			}
			return tx.AppendAudit(j.ev)
		})
	}
}
