package audit

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Event returns an audit event with its details encoded. Time, RemoteAddr
// and the chain fields are left to the caller and the store: the caller
// owns the clock and the request, the store owns the chain.
func Event(actor, action, objectType, objectID string, details map[string]any) *lanyard.AuditEvent {
	return &lanyard.AuditEvent{
		Actor:      actor,
		Action:     action,
		ObjectType: objectType,
		ObjectID:   objectID,
		Details:    lanyard.AuditDetails(details),
	}
}

// Link makes e the successor of the event with sequence number prevSeq and
// hash prevHash (0 and nil for the first event): it sets e.Seq, e.PrevHash
// and e.Hash. Stores call it under the chain's lock, so that every engine
// builds the chain exactly as Verify checks it.
func Link(e *lanyard.AuditEvent, prevSeq int64, prevHash []byte) {
	e.Seq = prevSeq + 1
	e.PrevHash = append([]byte(nil), prevHash...)
	if len(e.PrevHash) == 0 {
		e.PrevHash = nil
	}
	e.Hash = e.CanonicalHash(e.PrevHash)
}

// Chain links events in order into a chain starting at Seq 1, as a store
// would, and returns them. It is meant for tests and for tools that build
// a chain in memory.
func Chain(events ...*lanyard.AuditEvent) []*lanyard.AuditEvent {
	var seq int64
	var prev []byte
	for _, e := range events {
		Link(e, seq, prev)
		seq, prev = e.Seq, e.Hash
	}
	return events
}
