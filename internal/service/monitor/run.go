package monitor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// maxDigestLines bounds the operators' digest; the rest are counted.
const maxDigestLines = 100

// run is one RunOnce.
type run struct {
	m        *Monitor
	lease    *jobs.Lease
	now      time.Time
	res      *Result
	policies []*lanyard.Policy
	version  string
	seen     map[int64]bool
	users    map[int64]*lanyard.User
	digest   []string
	more     int
	queued   int
}

// load reads what every batch needs: the policies.
func (r *run) load(tx lanyard.Tx) (err error) {
	r.policies, err = tx.ListPolicies()
	r.version = policiesVersion(r.policies)
	return err
}

// operators are the addresses of the enabled operators, read only when
// a run has something to tell them (the role filter reads every user).
func operators(tx lanyard.Tx) ([]string, error) {
	ops, err := tx.ListUsers(lanyard.UserFilter{Role: lanyard.RoleOperator})
	var to []string
	for _, o := range ops {
		if !o.Disabled && o.Email != "" {
			to = append(to, o.Email)
		}
	}
	return to, err
}

// due looks at the cards whose next check time has come.
func (r *run) due(ctx context.Context) error {
	for {
		var ids []int64
		if err := r.m.rec.Store.View(ctx, func(tx lanyard.Tx) (err error) {
			ids, err = tx.DueCardContents(r.now, r.m.cfg.Batch)
			return err
		}); err != nil {
			return err
		}
		ids = r.unseen(ids)
		if len(ids) == 0 {
			return nil // every due card was looked at: its next check is after now
		}
		if err := r.batch(ctx, ids); err != nil {
			return err
		}
	}
}

// changed looks at the cards changed since since (zero: every card).
func (r *run) changed(ctx context.Context, since time.Time) error {
	var after int64
	for {
		var ids []int64
		if err := r.m.rec.Store.View(ctx, func(tx lanyard.Tx) (err error) {
			ids, err = tx.ChangedCards(since, after, r.m.cfg.Batch)
			return err
		}); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		after = ids[len(ids)-1]
		if ids = r.unseen(ids); len(ids) > 0 {
			if err := r.batch(ctx, ids); err != nil {
				return err
			}
		}
	}
}

// unseen drops the cards this run looked at already and marks the rest.
func (r *run) unseen(ids []int64) []int64 {
	out := ids[:0]
	for _, id := range ids {
		if !r.seen[id] {
			r.seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// batch looks at cards ids in one transaction, renewing the lease first
// so that no other replica starts meanwhile: a few statements whatever
// the batch's size (its cards, owners, certificates and records read,
// the changed records written, each in one).
func (r *run) batch(ctx context.Context, ids []int64) error {
	return r.m.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := r.lease.Renew(tx); err != nil {
			return err
		}
		cards, err := tx.CardsByIDs(ids)
		if err != nil {
			return err
		}
		if err := r.loadOwners(tx, cards); err != nil {
			return err
		}
		certs, err := tx.CardCerts(ids)
		if err != nil {
			return err
		}
		byCard := map[int64][]lanyard.CardCert{}
		for _, c := range certs {
			byCard[c.CardID] = append(byCard[c.CardID], c)
		}
		prev, err := tx.CardContents(ids)
		if err != nil {
			return err
		}
		var put []*lanyard.CardContent
		for _, card := range cards {
			if rec := r.card(tx, card, byCard[card.ID], prev[card.ID]); rec != nil {
				put = append(put, rec)
			}
		}
		r.res.Looked += len(cards)
		r.res.Changed += len(put)
		return tx.PutCardContents(put)
	})
}

// loadOwners reads the owners of cards this run has not read yet.
func (r *run) loadOwners(tx lanyard.Tx, cards []*lanyard.Card) error {
	var want []int64
	for _, c := range cards {
		if _, ok := r.users[c.OwnerID]; !ok && c.OwnerID != 0 {
			want = append(want, c.OwnerID)
			r.users[c.OwnerID] = nil // asked once, even when it no longer exists
		}
	}
	users, err := tx.UsersByIDs(want)
	for _, u := range users {
		r.users[u.ID] = u
	}
	return err
}

// card works out card's record from its certificates and queues its
// notices; nil when the record does not change.
func (r *run) card(tx lanyard.Tx, card *lanyard.Card, certs []lanyard.CardCert, prev *lanyard.CardContent) *lanyard.CardContent {
	owner := r.users[card.OwnerID]
	settings, pol := r.settings(owner)
	if card.State == lanyard.CardRevoked {
		certs = nil // a revoked card's certificates are nobody's to renew
	}
	st, expires, next := Evaluate(certs, settings.WarningPeriod(), r.now)
	if prev == nil {
		prev = &lanyard.CardContent{CardID: card.ID, Status: lanyard.ContentNone}
	}
	rec := *prev
	rec.Status, rec.NextCheckAt = st, next
	switch {
	case st == lanyard.ContentNone:
		rec.NotifiedStatus, rec.NotifiedAt = "", time.Time{}
	case quiet(card, owner):
		// The status stands; nobody is told, and no re-send is scheduled:
		// enabling the card (a change) or the owner (the next due check)
		// brings the notices back.
	default:
		resend := settings.ResendPeriod()
		if st != prev.NotifiedStatus || !r.now.Before(prev.NotifiedAt.Add(resend)) {
			r.notify(tx, card, owner, pol, st, expires)
			rec.NotifiedStatus, rec.NotifiedAt = st, r.now
		}
		if again := rec.NotifiedAt.Add(resend); rec.NextCheckAt.IsZero() || again.Before(rec.NextCheckAt) {
			rec.NextCheckAt = again
		}
	}
	if rec.Status == prev.Status && rec.NextCheckAt.Equal(prev.NextCheckAt) && rec.NotifiedStatus == prev.NotifiedStatus &&
		rec.NotifiedAt.Equal(prev.NotifiedAt) {
		return nil // nothing to write (a card without certificates never gets a record)
	}
	if st != prev.Status {
		r.res.Entered[st]++
	}
	rec.UpdatedAt = r.now
	return &rec
}

// quiet reports whether card's notices are held back: a disabled card
// (its certificates are on hold; nobody is to renew it until it is
// enabled), or one whose owner is disabled or gone (a leaver, who should
// not be mailed forever; their cards are for the operators to revoke). A
// revoked card needs no rule: it has no status.
func quiet(card *lanyard.Card, owner *lanyard.User) bool {
	return card.State == lanyard.CardDisabled || card.OwnerID != 0 && (owner == nil || owner.Disabled)
}

// Evaluate returns the content status of a card holding certs at now
// under warning period warn (lanyard.ContentStatus gives the precedence),
// when the certificate that set it expires, and when the status can next
// change by time alone (zero: never).
func Evaluate(certs []lanyard.CardCert, warn time.Duration, now time.Time) (st lanyard.ContentStatus, expires, next time.Time) {
	st = lanyard.ContentNone
	for _, c := range certs {
		var s lanyard.ContentStatus
		var change time.Time
		switch warnAt := c.NotAfter.Add(-warn); {
		case !now.Before(c.NotAfter):
			s = expiredStatus(c.Source)
		case !now.Before(warnAt):
			s, change = expiringStatus(c.Source), c.NotAfter
		default:
			change = warnAt
		}
		if !change.IsZero() && (next.IsZero() || change.Before(next)) {
			next = change
		}
		if s != "" && (s.Outranks(st) || s == st && c.NotAfter.Before(expires)) {
			st, expires = s, c.NotAfter
		}
	}
	return st, expires, next
}

func expiredStatus(src lanyard.CertSource) lanyard.ContentStatus {
	if src == lanyard.SourceTracked {
		return lanyard.ContentTrackedExpired
	}
	return lanyard.ContentManagedExpired
}

func expiringStatus(src lanyard.CertSource) lanyard.ContentStatus {
	if src == lanyard.SourceTracked {
		return lanyard.ContentTrackedExpiring
	}
	return lanyard.ContentManagedExpiring
}

// notify queues the owner's notice (their manager in copy per pol) and
// adds the card to the operators' digest. A notice that cannot be queued
// is logged: the status stands, and it is not tried again before the
// re-send period.
func (r *run) notify(tx lanyard.Tx, card *lanyard.Card, owner *lanyard.User, pol *lanyard.Policy, st lanyard.ContentStatus, expires time.Time) {
	who := "no owner"
	if owner != nil {
		who = owner.Login
	}
	line := fmt.Sprintf("card %s (%s) of %s: %s, %s", card.Serial, card.CardType, who, st.Label(), expires.Format(time.DateOnly))
	if len(r.digest) < maxDigestLines {
		r.digest = append(r.digest, line)
	} else {
		r.more++
	}
	to := ownerRecipients(owner, pol)
	if r.m.cfg.Notifier == nil || len(to) == 0 {
		return
	}
	kind := "expiring"
	if st == lanyard.ContentManagedExpired || st == lanyard.ContentTrackedExpired {
		kind = "expired"
	}
	if _, err := r.m.cfg.Notifier.QueueCardContent(tx, to, Notice{Kind: kind, User: owner, Card: card, Status: st, Expires: expires}); err != nil {
		r.m.log.Warn("card monitor: the notice was not queued", "card", card.ID, "err", err)
		return
	}
	r.queued++
	r.res.Notified++
}

// ownerRecipients are the owner's address when the policy asks to notify
// the user and the manager's in copy when it asks for that.
func ownerRecipients(owner *lanyard.User, pol *lanyard.Policy) []string {
	if owner == nil || pol == nil {
		return nil
	}
	var to []string
	if n := pol.Settings.Notifications; n.NotifyUser && owner.Email != "" {
		to = append(to, owner.Email)
	}
	if n := pol.Settings.Notifications; n.NotifyManager && owner.ManagerEmail != "" {
		to = append(to, owner.ManagerEmail)
	}
	return to
}

// finish queues the operators' digest, records the run (its mark and
// the policies' version) and releases the lease, with the run's one
// audit event, in one transaction.
func (r *run) finish(ctx context.Context, start time.Time) error {
	ev := func() *lanyard.AuditEvent {
		entered := map[string]int{}
		for s, n := range r.res.Entered {
			entered[string(s)] = n
		}
		return r.m.rec.Event(nil, "card_monitor.run", "job", JobName, map[string]any{"full": r.res.Full, "looked": r.res.Looked,
			"changed": r.res.Changed, "notified": r.res.Notified, "entered": entered})
	}
	return r.m.rec.Update(ctx, ev, func(tx lanyard.Tx) error {
		if err := r.queueDigest(tx); err != nil {
			return err
		}
		return r.lease.Finish(tx, start, r.version)
	})
}

// queueDigest queues the operators' digest of the cards notified in this
// run, if any were and anyone is to be told.
func (r *run) queueDigest(tx lanyard.Tx) error {
	if len(r.digest) == 0 || r.m.cfg.Notifier == nil {
		return nil
	}
	to, err := operators(tx)
	if err != nil || len(to) == 0 {
		return err
	}
	summary := strings.Join(r.digest, "\n")
	if r.more > 0 {
		summary += fmt.Sprintf("\nand %d more", r.more)
	}
	if _, err := r.m.cfg.Notifier.QueueCardContent(tx, to, Notice{Kind: "operators", Summary: summary}); err != nil {
		r.m.log.Warn("card monitor: the operators' digest was not queued", "err", err)
		return nil
	}
	r.queued++
	return nil
}
