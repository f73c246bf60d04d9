// Package audit verifies Lanyard's tamper-evident audit log.
//
// The store appends every event in the same transaction as the change it
// records and chains it to its predecessor: event n carries Seq n, the
// previous event's Hash as PrevHash, and Hash = CanonicalHash(PrevHash)
// (lanyard.AuditEvent). The first event has Seq 1 and an empty PrevHash.
// Changing, inserting, removing or reordering events therefore breaks the
// chain at the first affected event, which Verify reports.
//
// A chain cannot show that events were cut off its end, nor that it was
// recomputed from some point on by someone who can write the database.
// Both are caught by comparing with an Anchor, the (Seq, Hash) of the head
// recorded elsewhere earlier, for example in a setting or in a signed
// export; Verify accepts one.
package audit
