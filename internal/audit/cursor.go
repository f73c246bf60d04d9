package audit

import (
	"context"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PageFunc returns up to limit events with Seq greater than afterSeq, in
// ascending Seq order, and an empty slice after the last event. A store
// implements it with ListAudit(AuditFilter{AfterSeq: afterSeq, Limit: limit})
// inside a read transaction.
type PageFunc func(ctx context.Context, afterSeq int64, limit int) ([]*lanyard.AuditEvent, error)

// PageSize is how many events Verify asks for at a time: large enough that
// round trips do not dominate, small enough to keep memory flat.
const PageSize = 1000

// cursor walks a chain page by page.
type cursor struct {
	ctx   context.Context
	page  PageFunc
	buf   []*lanyard.AuditEvent
	after int64 // Seq of the last event fetched
	end   bool  // an empty page was returned
}

// next returns the next event, or nil after the last one.
func (c *cursor) next() (*lanyard.AuditEvent, error) {
	if len(c.buf) == 0 {
		if err := c.fetch(); err != nil {
			return nil, err
		}
		if len(c.buf) == 0 {
			return nil, nil
		}
	}
	e := c.buf[0]
	c.buf = c.buf[1:]
	return e, nil
}

// ahead returns the events after the one next returned last, fetching
// one more page if none is buffered. It serves diagnosis only, after a
// break was found.
func (c *cursor) ahead() ([]*lanyard.AuditEvent, error) {
	if len(c.buf) == 0 {
		if err := c.fetch(); err != nil {
			return nil, err
		}
	}
	return c.buf, nil
}

func (c *cursor) fetch() error {
	if c.end {
		return nil
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	events, err := c.page(c.ctx, c.after, PageSize)
	if err != nil {
		return err
	}
	for _, e := range events {
		if e == nil {
			return errors.New("audit: page returned a nil event")
		}
	}
	if len(events) == 0 {
		c.end = true
		return nil
	}
	c.buf = events
	// A page out of order is reported as a problem by Verify, which stops
	// there, so the last event's Seq is a safe place to continue from.
	c.after = events[len(events)-1].Seq
	return nil
}
