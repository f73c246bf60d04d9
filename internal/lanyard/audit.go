package lanyard

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"time"
)

// AuditEvent records who did what to which object, when and from where.
// Events form a hash chain: Hash = SHA-256 over PrevHash and the event's
// canonical encoding (CanonicalHash), so a modified, inserted or deleted
// event breaks the chain at that point (internal/audit verifies it).
type AuditEvent struct {
	Seq        int64           `json:"seq"`
	Time       time.Time       `json:"time"`   // UTC, truncated to microseconds so both engines store it exactly
	Actor      string          `json:"actor"`  // login or "system"
	Action     string          `json:"action"` // e.g. "user.create", "cert.issue"
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	RemoteAddr string          `json:"remote_addr,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"` // JSON object, stored byte for byte; never secrets
	PrevHash   []byte          `json:"prev_hash"`
	Hash       []byte          `json:"hash"`
}

// AuditDetails encodes details for AuditEvent.Details. Values must be
// JSON-encodable; an encoding failure yields an object saying so rather
// than losing the event.
func AuditDetails(details map[string]any) json.RawMessage {
	if len(details) == 0 {
		return nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return json.RawMessage(`{"error":"details not encodable"}`)
	}
	return b
}

// CanonicalHash returns SHA-256(prev ‖ seq ‖ each field length-prefixed).
// Length prefixes make the encoding unambiguous; time is encoded as UTC
// Unix microseconds, which both storage engines keep exactly.
func (e *AuditEvent) CanonicalHash(prev []byte) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put(prev)
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UTC().UnixMicro()))
	h.Write(n[:])
	for _, s := range []string{e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RemoteAddr} {
		put([]byte(s))
	}
	put(e.Details)
	return h.Sum(nil)
}

// AuditFilter narrows ListAudit. Zero values match everything.
type AuditFilter struct {
	AfterSeq   int64
	Action     string
	ObjectType string
	ObjectID   string
	Actor      string
	Limit      int
}
