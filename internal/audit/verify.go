package audit

import (
	"bytes"
	"context"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Problems Verify reports. They name what the break looks like; an
// attacker who can write the database can make one kind look like another,
// so treat every problem as tampering until shown otherwise.
const (
	// ProblemModified: an event's stored Hash is not the hash of its
	// contents, so a field was changed after the event was written.
	ProblemModified = "modified"
	// ProblemDeleted: a gap in the sequence numbers, or an event whose
	// PrevHash is not the previous event's Hash.
	ProblemDeleted = "deleted"
	// ProblemInserted: an event that does not belong between its
	// neighbours (its successor links past it), or two events with one Seq.
	ProblemInserted = "inserted"
	// ProblemReordered: events out of sequence order, or an event that
	// links to an event found after it.
	ProblemReordered = "reordered"
	// ProblemHeadMissing: the chain does not start at Seq 1 with an empty
	// PrevHash.
	ProblemHeadMissing = "head missing"
	// ProblemTruncated: the chain ends before the anchor.
	ProblemTruncated = "truncated"
	// ProblemRewritten: the chain is intact but its event at the anchor's
	// Seq has another hash: it was recomputed at or before that event.
	ProblemRewritten = "rewritten"
)

// Report is the outcome of Verify.
type Report struct {
	Events   int64  `json:"events"`              // events checked before the first problem; all events when OK
	OK       bool   `json:"ok"`                  // the whole chain is intact (and reaches the anchor, if any)
	FirstBad int64  `json:"first_bad,omitempty"` // Seq of the first event that is missing or does not fit
	Problem  string `json:"problem,omitempty"`   // one of the Problem constants; "" when OK
	Detail   string `json:"detail,omitempty"`    // one sentence for the auditor
	// Last is the newest event checked before the problem: the chain's
	// head when OK. Record it then as the anchor for the next run, so that
	// truncation and rewriting become detectable. When not OK it is where
	// the readable part ends; the Detail says when it, too, may have been
	// changed (a rehashed event looks intact until its successor).
	Last Anchor `json:"last"`
}

// Verify walks the chain through page from Seq 1 and reports the first
// broken event. head is an Anchor recorded earlier, or the zero Anchor.
// The error is for failures to read the chain (page errors, a cancelled
// ctx); a broken chain is a Report with OK false.
//
// Events appended while Verify runs are verified too; the pages need not
// come from one transaction, because the chain only grows at its end.
func Verify(ctx context.Context, page PageFunc, head Anchor) (Report, error) {
	v := verifier{cur: cursor{ctx: ctx, page: page}, head: head}
	for {
		e, err := v.cur.next()
		if err != nil {
			return Report{}, err
		}
		if e == nil {
			break
		}
		if err := v.check(e); err != nil {
			return Report{}, err
		}
		if v.rep.Problem != "" {
			return v.rep, nil
		}
		v.rep.Events++
		v.prevPrev, v.prev = v.prev, e
		v.rep.Last = Anchor{Seq: e.Seq, Hash: e.Hash}
	}
	if last := v.rep.Last.Seq; head.Seq > last {
		v.rep.fail(ProblemTruncated, last+1, "the chain ends at event %d but event %d was recorded earlier: the newest events were deleted", last, head.Seq)
		return v.rep, nil
	}
	v.rep.OK = true
	return v.rep, nil
}

// verifier holds the walk's state: the last two events checked.
type verifier struct {
	cur            cursor
	head           Anchor
	prev, prevPrev *lanyard.AuditEvent
	rep            Report
}

// check records in v.rep the first problem at e, if any. The order of the
// tests matters: each one assumes the earlier ones passed, which is what
// lets it name the first broken event.
func (v *verifier) check(e *lanyard.AuditEvent) error {
	r := &v.rep
	if v.prev == nil {
		return v.checkFirst(e)
	}
	p := v.prev
	switch {
	case e.Seq == p.Seq:
		r.fail(ProblemInserted, e.Seq, "two events have sequence number %d", e.Seq)
		return nil
	case e.Seq < p.Seq:
		r.fail(ProblemReordered, e.Seq, "event %d comes after event %d", e.Seq, p.Seq)
		return nil
	case e.Seq > p.Seq+1:
		r.fail(ProblemDeleted, p.Seq+1, "%s missing", span(p.Seq+1, e.Seq-1))
		return nil
	}
	selfOK := intact(e)
	linked := bytes.Equal(e.PrevHash, p.Hash)
	if selfOK && linked {
		v.checkAnchor(e)
		return nil
	}
	// The break is at e or at p. Find the most specific explanation.
	if found, err := v.reordered(e); found || err != nil {
		return err
	}
	if v.prevPrev != nil && bytes.Equal(e.PrevHash, v.prevPrev.Hash) {
		// e links past p: p was put in between and e renumbered.
		r.fail(ProblemInserted, p.Seq, "event %d links to event %d: event %d was inserted", e.Seq, v.prevPrev.Seq, p.Seq)
		r.Events--
		r.Last = Anchor{Seq: v.prevPrev.Seq, Hash: v.prevPrev.Hash}
		return nil
	}
	if !selfOK {
		r.fail(ProblemModified, e.Seq, "event %d was changed after it was written", e.Seq)
		return nil
	}
	r.fail(ProblemDeleted, e.Seq, "event %d does not link to event %d: events between them were deleted and the rest renumbered, or event %d was changed and rehashed", e.Seq, p.Seq, p.Seq)
	return nil
}

// checkFirst checks the event the chain starts with.
func (v *verifier) checkFirst(e *lanyard.AuditEvent) error {
	r := &v.rep
	switch {
	case e.Seq > 1:
		r.fail(ProblemHeadMissing, 1, "the chain starts at event %d: %s missing", e.Seq, span(1, e.Seq-1))
		return nil
	case e.Seq < 1:
		r.fail(ProblemModified, e.Seq, "the first event has sequence number %d; the chain starts at 1", e.Seq)
		return nil
	case intact(e) && len(e.PrevHash) == 0:
		v.checkAnchor(e)
		return nil
	}
	if found, err := v.reordered(e); found || err != nil {
		return err
	}
	if intact(e) {
		// Hashed as someone's successor, yet first: its predecessors were
		// deleted and the chain renumbered and rehashed.
		r.fail(ProblemHeadMissing, 1, "event 1 links to a previous event: the start of the chain was deleted")
		return nil
	}
	r.fail(ProblemModified, 1, "event 1 was changed after it was written")
	return nil
}

// reordered reports (and records) whether e links to an event that comes
// after it, which happens when events trade places.
func (v *verifier) reordered(e *lanyard.AuditEvent) (bool, error) {
	if len(e.PrevHash) == 0 {
		return false, nil
	}
	later, err := v.cur.ahead()
	if err != nil {
		return false, err
	}
	for _, l := range later {
		if bytes.Equal(e.PrevHash, l.Hash) {
			v.rep.fail(ProblemReordered, e.Seq, "event %d links to event %d, which comes after it", e.Seq, l.Seq)
			return true, nil
		}
	}
	return false, nil
}

// checkAnchor compares an intact, linked event with the anchor.
func (v *verifier) checkAnchor(e *lanyard.AuditEvent) {
	if e.Seq == v.head.Seq && len(v.head.Hash) != 0 && !bytes.Equal(e.Hash, v.head.Hash) {
		v.rep.fail(ProblemRewritten, e.Seq, "event %d is not the event recorded earlier: the chain was recomputed at or before it", e.Seq)
	}
}

// intact reports whether e's stored hash matches its contents.
func intact(e *lanyard.AuditEvent) bool {
	return bytes.Equal(e.Hash, e.CanonicalHash(e.PrevHash))
}

func (r *Report) fail(problem string, firstBad int64, format string, args ...any) {
	r.Problem, r.FirstBad, r.Detail = problem, firstBad, fmt.Sprintf(format, args...)
}

// span names the events from..to for a Detail.
func span(from, to int64) string {
	if from == to {
		return fmt.Sprintf("event %d is", from)
	}
	return fmt.Sprintf("events %d–%d are", from, to)
}
