package archive

import (
	"context"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DefaultRecoveryTTL is how long a key recovery request waits for its
// decision: a request nobody decided in a week is stale (the reason for
// it may be gone), and an approval long after the owner's notice would
// catch them off guard.
const DefaultRecoveryTTL = 7 * 24 * time.Hour

// expiresAt is when a request made at now expires undecided.
func (a *Archive) expiresAt(now time.Time) time.Time { return now.Add(a.recoveryTTL) }

// expired reports whether pending request r is past its expiry at now
// (a request of before expiry was recorded has none).
func expired(r *lanyard.KeyRecoveryRequest, now time.Time) bool {
	return r.State == lanyard.KeyRecoveryPending && !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// expireDue moves the pending requests past their expiry to expired, in
// one transaction with a key.recovery.expire event each (by the system).
// It runs before a decision and a listing, so that an expired request is
// shown as such and never approved; a conflict (someone decided one
// meanwhile) is left to the caller's own checks.
func (a *Archive) expireDue(ctx context.Context) error {
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		pending, err := tx.ListKeyRecoveryRequests(lanyard.KeyRecoveryPending)
		if err != nil {
			return err
		}
		now := a.rec.Clock()
		for _, r := range pending {
			if !expired(r, now) {
				continue
			}
			r.State, r.UpdatedAt = lanyard.KeyRecoveryExpired, now
			if err := tx.UpdateKeyRecoveryRequest(r, lanyard.KeyRecoveryPending); err != nil {
				return err
			}
			if err := tx.AppendAudit(a.rec.Event(lanyard.SystemPrincipal, "key.recovery.expire", "key_recovery_request", strconv.FormatInt(r.ID, 10),
				map[string]any{"archived_key": r.ArchivedKeyID, "requested_by": r.RequestedBy, "expires_at": r.ExpiresAt})); err != nil {
				return err
			}
		}
		return nil
	})
	if lanyard.IsCode(err, lanyard.EConflict) {
		return nil
	}
	return err
}
