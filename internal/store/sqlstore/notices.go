package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notices"
)

// Change notices (lanyard.NoticeStore, lanyard.Notices;
// docs/architecture.md, "Change notices"). An Update queues the notices
// its fn sends; just before COMMIT they go to the other replicas in the
// same transaction (Dialect.NotifySQL: PostgreSQL delivers a NOTIFY to
// listeners only when, and if, its transaction commits), and once the
// commit succeeded this process delivers them to its own subscribers on
// the committing goroutine. A rolled-back Update sends nothing. The
// group commit of issuance (CreateIssued's pipeline) sends none: its
// batches carry certificates and audit events only.
//
// Between replicas, each notice names its sending store (origin), so the
// listener skips this store's own notices, delivered already at commit.

// noticeRemote is a DB's side of notices: its subscribers, and the
// listener the engine started (StartNotices).
type noticeRemote struct {
	origin string // random, per DB: tells this store's notices from others'
	bus    notices.Bus

	mu      sync.Mutex
	channel string             // the engine's channel (StartNotices); "" before
	stop    context.CancelFunc // stops the listener
	done    chan struct{}      // closed when the listener returned
}

// newOrigin is a store's random origin: 16 hex digits.
func newOrigin() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// Notify queues a notice until the transaction commits.
func (t noticesTx) Notify(kind lanyard.NoticeKind, payload string) error {
	if t.notes == nil {
		return lanyard.Errorf(lanyard.EInternal, "notice %s sent in a read-only transaction", kind)
	}
	n, err := notices.Make(kind, payload)
	if err != nil {
		return err
	}
	t.notes.Add(n)
	return nil
}

// Notices delivers the notices committed through this store and, once
// the engine listens (StartNotices), those of the other replicas.
func (db *DB) Notices() lanyard.Notices { return &db.remote.bus }

// Origin is this store's origin in the notices it sends: for tests and
// diagnostics.
func (db *DB) Origin() string { return db.remote.origin }

// noticeChannel is the channel StartNotices set, or "".
func (db *DB) noticeChannel() string {
	db.remote.mu.Lock()
	defer db.remote.mu.Unlock()
	return db.remote.channel
}

// sendNotices sends list to the other replicas in tx (before its
// commit), when the engine has a transport and listens.
func (db *DB) sendNotices(ctx context.Context, tx *sql.Tx, list []notices.Notice) error {
	ch := db.noticeChannel()
	if len(list) == 0 || db.d.NotifySQL == "" || ch == "" {
		return nil
	}
	texts := make([]string, len(list))
	for i, n := range list {
		texts[i] = notices.Encode(db.remote.origin, n)
	}
	if _, err := tx.ExecContext(ctx, db.d.Rebind(db.d.NotifySQL), ch, texts); err != nil {
		return dbError(err)
	}
	return nil
}

// deliverLocal hands committed notices to this process's subscribers.
func (db *DB) deliverLocal(list []notices.Notice) {
	for _, n := range list {
		db.remote.bus.Deliver(n)
	}
}

// Receiver is what an engine's listener hands notices to (StartNotices).
type Receiver interface {
	// Receive takes the text of one notice from the channel; this
	// store's own, and text that is not a notice, are dropped.
	Receive(text string)
	// Lost says notices may have been missed (the listener connected
	// again): every OnLost handler runs.
	Lost()
}

type receiver struct{ db *DB }

func (r receiver) Receive(text string) {
	origin, n, ok := notices.Decode(text)
	if !ok || origin == r.db.remote.origin {
		return
	}
	r.db.remote.bus.Deliver(n)
}

func (r receiver) Lost() { r.db.remote.bus.Lost() }

// StartNotices makes this store send its notices on channel and runs
// listen, which receives the other replicas' notices on it, until the
// store closes (ctx is cancelled then, and Close waits for listen to
// return). The engine calls it once, after New.
func (db *DB) StartNotices(channel string, listen func(ctx context.Context, r Receiver)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	db.remote.mu.Lock()
	db.remote.channel, db.remote.stop, db.remote.done = channel, cancel, done
	db.remote.mu.Unlock()
	go func() {
		defer close(done)
		listen(ctx, receiver{db})
	}()
}

// stopListener stops the listener StartNotices started, if any.
func (db *DB) stopListener() {
	db.remote.mu.Lock()
	stop, done := db.remote.stop, db.remote.done
	db.remote.stop = nil
	db.remote.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
