package service

import (
	"context"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// batchWriter commits many small independent writes (one issued certificate
// and its audit event each) in shared transactions: group commit. A durable
// commit costs an fsync, so one transaction per certificate would cap
// issuance at the disk's sync rate; batching keeps every write durable
// before its caller hears "done" while paying one sync per batch.
//
// If a batch fails, each of its writes is retried alone, so one bad write
// (say a unique-serial clash) fails only its own caller.
type batchWriter struct {
	store lanyard.Store
	max   int
	jobs  chan *batchJob
	wg    sync.WaitGroup
}

type batchJob struct {
	ctx  context.Context
	fn   func(tx lanyard.Tx) error
	done chan error
}

func newBatchWriter(store lanyard.Store, max int) *batchWriter {
	b := &batchWriter{store: store, max: max, jobs: make(chan *batchJob, max)}
	b.wg.Add(1)
	go b.loop()
	return b
}

// write runs fn in a transaction shared with other writers and returns once
// that transaction committed (or fn's own retry failed).
func (b *batchWriter) write(ctx context.Context, fn func(tx lanyard.Tx) error) error {
	j := &batchJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the job will run; wait for its outcome even if ctx ends,
	// so the caller never reports failure for a write that committed.
	return <-j.done
}

func (b *batchWriter) close() {
	close(b.jobs)
	b.wg.Wait()
}

func (b *batchWriter) loop() {
	defer b.wg.Done()
	batch := make([]*batchJob, 0, b.max)
	for j := range b.jobs {
		batch = append(batch[:0], j)
	drain:
		for len(batch) < b.max {
			select {
			case j, ok := <-b.jobs:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		b.run(batch)
	}
}

func (b *batchWriter) run(batch []*batchJob) {
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
	if len(live) == 1 {
		live[0].done <- b.store.Update(context.WithoutCancel(live[0].ctx), live[0].fn)
		return
	}
	err := b.store.Update(context.Background(), func(tx lanyard.Tx) error {
		for _, j := range live {
			if err := j.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, j := range live {
			j.done <- nil
		}
		return
	}
	for _, j := range live {
		j.done <- b.store.Update(context.WithoutCancel(j.ctx), j.fn)
	}
}
