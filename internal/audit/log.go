package audit

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// settingAuditAnchor holds the newest event of the last intact
// verification. Deleting the newest events leaves a chain that is intact
// in itself; comparing with the anchor makes that truncation visible.
const settingAuditAnchor = "audit/anchor"

// Log is the audit log's operations over a store: reading it, verifying
// its hash chain and recording checkpoints (the service embeds it).
type Log struct {
	rec lanyard.Recorder // store, clock and audit events
}

// NewLog returns the audit log of store; now is the clock of its
// checkpoint events.
func NewLog(store lanyard.Store, now func() time.Time) *Log {
	return &Log{rec: lanyard.Recorder{Store: store, Now: now}}
}

// ListAudit reads the audit log.
func (s *Log) ListAudit(ctx context.Context, f lanyard.AuditFilter) ([]*lanyard.AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*lanyard.AuditEvent
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListAudit(f); return })
	return out, err
}

// VerifyAudit walks the whole hash chain and reports the first modified,
// deleted or inserted event, and truncation behind the last checkpoint.
func (s *Log) VerifyAudit(ctx context.Context) (Report, error) {
	var anchor Anchor
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		v, err := tx.Setting(settingAuditAnchor)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return anchor.UnmarshalText(v)
	})
	if err != nil {
		return Report{}, err
	}
	return Verify(ctx, func(ctx context.Context, after int64, limit int) ([]*lanyard.AuditEvent, error) {
		var out []*lanyard.AuditEvent
		err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
			out, err = tx.ListAudit(lanyard.AuditFilter{AfterSeq: after, Limit: limit})
			return
		})
		return out, err
	}, anchor)
}

// CheckpointAudit verifies the chain and, when intact, records its newest
// event as the anchor for later verifications (a periodic job).
func (s *Log) CheckpointAudit(ctx context.Context) (Report, error) {
	rep, err := s.VerifyAudit(ctx)
	if err != nil || !rep.OK || rep.Last.IsZero() {
		return rep, err
	}
	text, err := rep.Last.MarshalText()
	if err != nil {
		return rep, err
	}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, "audit.checkpoint", "audit", "chain", map[string]any{"seq": rep.Last.Seq})
	}, func(tx lanyard.Tx) error { return tx.PutSetting(settingAuditAnchor, text) })
	return rep, err
}
