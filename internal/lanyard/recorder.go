package lanyard

import (
	"context"
	"time"
)

// Recorder writes state changes with their audit events: every change is
// one transaction that also appends the change's event (docs/architecture.md,
// "The store"), and every event carries
// the time of Clock and the principal it is attributed to.
type Recorder struct {
	Store Store
	Now   func() time.Time
}

// Clock returns Now in UTC, truncated to the microseconds the store keeps,
// so that a time written and read back compares equal.
func (r *Recorder) Clock() time.Time { return r.Now().UTC().Truncate(time.Microsecond) }

// Event builds an audit event attributed to p (nil, or a principal without
// a user: "system").
func (r *Recorder) Event(p *Principal, action, objectType, objectID string, details map[string]any) *AuditEvent {
	e := &AuditEvent{
		Time: r.Clock(), Action: action, ObjectType: objectType, ObjectID: objectID,
		Details: AuditDetails(details),
	}
	if p != nil && p.User != nil {
		e.Actor = p.User.Login
		e.RemoteAddr = p.RemoteAddr
	}
	if e.Actor == "" {
		e.Actor = "system"
	}
	return e
}

// Update runs fn and then appends ev's event, all in one transaction: an
// error from fn rolls back fn's writes and records no event. ev is called
// only after fn succeeded, so that the event can say what fn did.
func (r *Recorder) Update(ctx context.Context, ev func() *AuditEvent, fn func(Tx) error) error {
	return r.Store.Update(ctx, func(tx Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.AppendAudit(ev())
	})
}

// View runs fn in a read-only transaction.
func (r *Recorder) View(ctx context.Context, fn func(Tx) error) error {
	return r.Store.View(ctx, fn)
}
