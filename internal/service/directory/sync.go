package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// JobName is the lease row of source id's sync in job_runs.
func JobName(id int64) string { return "directory_sync:" + strconv.FormatInt(id, 10) }

// Sync syncs source id now (administrators: Sync now in the console, the
// API and the CLI). The first sync of a source, and the first after its
// URL, base DN, filters or mapping changed, reads every entry (Full);
// the others read what changed since the state the last completed sync
// left (Incremental).
//
// The changes are applied in batches of Config.Batch entries, each in
// one transaction with one audit event directory.sync (its counts). The
// reader's new state is stored only in the last transaction, with the
// report (audit event directory.sync.done): a sync interrupted half-way
// (a crash, a cancelled context, a store error) leaves the batches before
// it applied and the state where it was, so the next sync reads the
// same changes again and applies the rest; applying an entry twice
// changes nothing the second time.
//
// A dry run reads the directory and works out the same report without
// writing anything: no user, no card, no state, not even the report
// (it is returned, not stored), and no lease is taken.
//
// One sync of a source runs at a time across replicas (the lease row
// JobName(id)): EConflict when another is running.
func (d *Directory) Sync(ctx context.Context, p *lanyard.Principal, id int64, dryRun bool) (*Report, error) {
	if err := admin(p, "syncs a directory source"); err != nil {
		return nil, err
	}
	return d.sync(ctx, p, id, dryRun, nil)
}

// work is one thing to apply: an entry read, or the external ID of a
// user deleted from the directory.
type work struct {
	entry   *Entry
	reject  string // why entry cannot be applied whole (found before any batch)
	deleted string
}

// syncRun is one sync.
type syncRun struct {
	d        *Directory
	p        *lanyard.Principal
	src      *lanyard.DirectorySource
	dry      bool
	lease    *jobs.Lease // nil on a dry run
	rep      *Report
	policies []*lanyard.Policy
	// retry is set when an entry with an external ID was not applied
	// whole (a field refused, a login or UPN held elsewhere): the sync
	// stores no incremental state then, so the next sync reads every
	// entry again (a full read) and retries it, instead of an
	// incremental read that would never see it unless it changes.
	retry bool
}

// sync runs one sync of source id. Unless dry, it takes the source's
// lease first and reads the source under it, so that it starts from the
// state the last completed sync stored. due, when set (the periodic
// sync), says whether the source, as read under the lease, is still due:
// another replica may have synced it since the caller looked; then
// nothing runs (errBusy).
func (d *Directory) sync(ctx context.Context, p *lanyard.Principal, id int64, dry bool, due func(*lanyard.DirectorySource) bool) (*Report, error) {
	var lease *jobs.Lease
	if !dry {
		var err error
		if lease, err = d.claim(ctx, id); err != nil {
			return nil, err
		}
	}
	start := d.rec.Clock()
	var src *lanyard.DirectorySource
	err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { src, err = tx.DirectorySourceByID(id); return })
	switch {
	case err != nil:
	case !dry && !src.Enabled:
		err = lanyard.Errorf(lanyard.EConflict, "directory source %s is turned off: enable it to sync (a dry run works while it is off)", src.Name)
	case due != nil && !due(src):
		err = errBusy
	}
	if err != nil {
		if !dry {
			lease.Release()
		}
		return nil, err
	}
	r := &syncRun{d: d, p: p, src: src, dry: dry, lease: lease, rep: &Report{SourceID: id, Source: src.Name, DryRun: dry, StartedAt: start,
		Errors: []LineError{}, Changes: []Change{}}}
	rep, err := r.run(ctx)
	if err != nil && !dry {
		lease.Release()
		d.failed(ctx, p, src, err)
	}
	return rep, err
}

// failed records why a sync of src failed (shown with the source until
// a sync completes), with its audit event directory.sync.failed. A
// failure to record it is logged: the sync's own error is what the
// caller gets.
func (d *Directory) failed(ctx context.Context, p *lanyard.Principal, src *lanyard.DirectorySource, cause error) {
	msg, now := lanyard.ErrorMessage(cause), d.rec.Clock()
	err := d.rec.Update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent {
		return d.rec.Event(p, "directory.sync.failed", "directory_source", strconv.FormatInt(src.ID, 10), map[string]any{"source": src.Name, "error": msg})
	}, func(tx lanyard.Tx) error { return tx.SetDirectorySyncError(src.ID, msg, now) })
	if err != nil {
		d.log.Error("recording a failed directory sync failed", "source", src.Name, "err", err)
	}
}

// claim takes source id's lease; errBusy while another sync of it runs
// (on this replica or another: each claim holds the lease under its own
// name).
func (d *Directory) claim(ctx context.Context, id int64) (*jobs.Lease, error) {
	lease, err := d.jobs.Claim(ctx, JobName(id), 0)
	if lanyard.IsCode(err, lanyard.EConflict) {
		return nil, errBusy
	}
	return lease, err
}

// errBusy is claim's answer while another sync of the source runs.
var errBusy = lanyard.Errorf(lanyard.EConflict, "the directory source is being synced (by this or another server); try again when it is done")

func (r *syncRun) run(ctx context.Context) (*Report, error) {
	d, src := r.d, r.src
	pw, err := d.password(src)
	if err != nil {
		return nil, err
	}
	var items []work
	var state string
	if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { r.policies, err = tx.ListPolicies(); return }); err != nil {
		return nil, err
	}
	var delta *Delta
	if src.SyncState != "" {
		delta, err = d.cfg.Reader.Incremental(ctx, src, pw, src.SyncState)
		if err != nil && !errors.Is(err, ErrFullNeeded) {
			return nil, err
		}
	}
	if delta != nil {
		r.rep.Read = len(delta.Changed)
		items = append(items, r.unique(delta.Changed, delta.Problems)...)
		for _, ext := range delta.Deleted {
			items = append(items, work{deleted: ext})
		}
		state = delta.State
	} else {
		// The first sync, the first after the settings changed what is
		// read, or a state the reader no longer accepts.
		r.rep.Full = true
		snap, err := d.cfg.Reader.Full(ctx, src, pw)
		if err != nil {
			return nil, err
		}
		// The source's users (read after the directory: a user a sync of
		// this source creates meanwhile cannot be, as it holds the lease).
		var existing map[string]int64
		if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { existing, err = tx.DirectoryUsers(src.ID); return }); err != nil {
			return nil, err
		}
		entries := r.unique(snap.Entries, snap.Problems)
		r.rep.Read = len(snap.Entries)
		// A full read that finds nobody while the source has users is
		// far more likely a wrong base DN or filter than everyone
		// leaving at once: refused, nobody is disabled.
		if len(snap.Entries) == 0 && len(existing) > 0 {
			return nil, lanyard.Errorf(lanyard.EConflict, "directory source %s returned no users, but %d were synced from it: check its base DN and filter; nobody was disabled", src.Name, len(existing))
		}
		seen := map[string]bool{}
		for i := range snap.Entries {
			seen[snap.Entries[i].ExternalID] = true
		}
		items = append(items, entries...)
		gone := make([]string, 0)
		for ext := range existing {
			if !seen[ext] {
				gone = append(gone, ext)
			}
		}
		slices.Sort(gone)
		for _, ext := range gone {
			items = append(items, work{deleted: ext})
		}
		state = snap.State
	}
	for i := 0; i < len(items); i += d.cfg.Batch {
		if err := ctx.Err(); err != nil {
			return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the sync of "+src.Name+" was interrupted; the next sync applies the rest")
		}
		if err := r.batch(ctx, items[i:min(i+d.cfg.Batch, len(items))]); err != nil {
			return nil, err
		}
		if d.batchDone != nil {
			d.batchDone(i/d.cfg.Batch + 1)
		}
	}
	r.rep.FinishedAt = d.rec.Clock()
	if r.dry {
		return r.rep, nil
	}
	if r.retry {
		// An entry failed: the next sync is a full read, so that it is
		// retried even if it does not change in the directory
		// (docs/directory.md, "Entries that fail").
		state = ""
	}
	return r.rep, r.finish(ctx, state)
}

// unique sorts out, before any batch, the entries that cannot be
// applied whole: the reader's problems are reported; entries without an
// identifier, or sharing one, are dropped (they match no user for sure);
// entries that share a login or a UPN with another entry of the same
// read (a directory with a duplicate UPN) come with the reason as their
// reject: none of them is created or updated, so no user is silently
// merged with another, but an existing user's entry that is disabled
// still disables them (entry).
func (r *syncRun) unique(entries []Entry, problems []Problem) []work {
	for _, p := range problems {
		r.rep.fail(p.DN, p.Message)
	}
	count := map[string]int{}
	for i := range entries {
		e := &entries[i]
		count["x:"+e.ExternalID]++
		count["l:"+strings.ToLower(e.Login)]++
		if e.UPN != "" {
			count["u:"+strings.ToLower(e.UPN)]++
		}
	}
	var out []work
	for i := range entries {
		e := &entries[i]
		switch {
		case e.ExternalID == "":
			r.rep.fail(e.DN, "the entry has no immutable identifier (objectGUID or entryUUID); it was not synced")
		case count["x:"+e.ExternalID] > 1:
			r.retry = true
			r.rep.fail(e.DN, fmt.Sprintf("the identifier %s appears on more than one entry; none of them was synced", e.ExternalID))
		case count["l:"+strings.ToLower(e.Login)] > 1:
			out = append(out, work{entry: e, reject: fmt.Sprintf("the login %q appears on more than one entry; none of them was synced", e.Login)})
		case e.UPN != "" && count["u:"+strings.ToLower(e.UPN)] > 1:
			out = append(out, work{entry: e, reject: fmt.Sprintf("the UPN %q appears on more than one entry; none of them was synced", e.UPN)})
		default:
			out = append(out, work{entry: e})
		}
	}
	return out
}

// batchTx is one batch's counts and what to do after it commits.
type batchTx struct {
	counts  map[string]int
	logins  []string
	after   []func()
	changed bool
}

// batch applies items in one transaction (a read-only one for a dry
// run) with one audit event directory.sync when it changed anything; it
// renews the lease first, so that no other replica starts meanwhile.
func (r *syncRun) batch(ctx context.Context, items []work) error {
	d := r.d
	var b *batchTx
	var lines []LineError
	var changes []Change
	apply := func(tx lanyard.Tx) error {
		// Counts and lists are kept aside until the batch commits: a
		// batch rolled back leaves no line in the report.
		saved := *r.rep
		saved.Errors, saved.Changes = slices.Clone(r.rep.Errors), slices.Clone(r.rep.Changes)
		b = &batchTx{counts: map[string]int{}}
		for _, it := range items {
			var err error
			if it.entry != nil {
				err = r.entry(ctx, tx, b, it.entry, it.reject)
			} else {
				err = r.deleted(ctx, tx, b, it.deleted)
			}
			if err != nil {
				*r.rep = saved
				return err
			}
		}
		lines, changes = r.rep.Errors, r.rep.Changes
		if r.dry || !b.changed {
			return nil
		}
		details := map[string]any{"source": r.src.Name, "full": r.rep.Full, "logins": b.logins}
		for k, v := range b.counts {
			details[k] = v
		}
		return tx.AppendAudit(d.rec.Event(r.p, "directory.sync", "directory_source", strconv.FormatInt(r.src.ID, 10), details))
	}
	var err error
	if r.dry {
		err = d.rec.View(ctx, apply)
	} else {
		err = d.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
			if err := r.lease.Renew(tx); err != nil {
				return err
			}
			return apply(tx)
		})
	}
	if err != nil {
		return err
	}
	r.rep.Errors, r.rep.Changes = lines, changes
	for _, f := range b.after {
		f()
	}
	return nil
}

// finish stores the reader's new state and the report, and releases
// the lease, in the sync's last transaction.
func (r *syncRun) finish(ctx context.Context, state string) error {
	d := r.d
	raw, err := json.Marshal(r.rep)
	if err != nil {
		return err
	}
	return d.rec.Update(ctx, func() *lanyard.AuditEvent {
		return d.rec.Event(r.p, "directory.sync.done", "directory_source", strconv.FormatInt(r.src.ID, 10), map[string]any{
			"source": r.src.Name, "full": r.rep.Full, "read": r.rep.Read, "created": r.rep.Created, "updated": r.rep.Updated,
			"disabled": r.rep.Disabled, "enabled": r.rep.Enabled, "moved": r.rep.Moved, "unchanged": r.rep.Unchanged, "errors": len(r.rep.Errors)})
	}, func(tx lanyard.Tx) error {
		if err := tx.SetDirectorySync(r.src.ID, state, string(raw), r.rep.FinishedAt); err != nil {
			return err
		}
		return r.lease.Finish(tx, r.rep.StartedAt, "")
	})
}
