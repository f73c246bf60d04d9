package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
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
	deleted string
}

// syncRun is one sync.
type syncRun struct {
	d        *Directory
	p        *lanyard.Principal
	src      *lanyard.DirectorySource
	dry      bool
	rep      *Report
	policies []*lanyard.Policy
}

// sync runs one sync of source id. Unless dry, it takes the source's
// lease first and reads the source under it, so that it starts from the
// state the last completed sync stored. due, when set (the periodic
// sync), says whether the source, as read under the lease, is still due:
// another replica may have synced it since the caller looked; then
// nothing runs (errBusy).
func (d *Directory) sync(ctx context.Context, p *lanyard.Principal, id int64, dry bool, due func(*lanyard.DirectorySource) bool) (*Report, error) {
	if !dry {
		if err := d.claim(ctx, id); err != nil {
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
			d.release(id)
		}
		return nil, err
	}
	r := &syncRun{d: d, p: p, src: src, dry: dry, rep: &Report{SourceID: id, Source: src.Name, DryRun: dry, StartedAt: start,
		Errors: []LineError{}, Changes: []Change{}}}
	rep, err := r.run(ctx)
	if err != nil && !dry {
		d.release(id)
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

// claim takes source id's lease; EConflict while another replica syncs.
func (d *Directory) claim(ctx context.Context, id int64) error {
	now := d.rec.Clock()
	err := d.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		_, err := tx.ClaimJob(JobName(id), d.cfg.Holder, now, now.Add(d.cfg.Lease))
		return err
	})
	if lanyard.IsCode(err, lanyard.EConflict) {
		return errBusy
	}
	return err
}

// errBusy is claim's answer while another sync of the source runs.
var errBusy = lanyard.Errorf(lanyard.EConflict, "the directory source is being synced (by this or another server); try again when it is done")

// release gives up the lease after a failed sync, so that the next one
// need not wait for it to run out. The lease's mark is not advanced.
func (d *Directory) release(id int64) {
	ctx := context.Background()
	_ = d.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		return tx.FinishJob(&lanyard.JobRun{Name: JobName(id), Holder: d.cfg.Holder, RunAt: d.rec.Clock()})
	})
}

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
		for _, e := range r.unique(delta.Changed, delta.Problems) {
			items = append(items, work{entry: e})
		}
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
		for _, e := range entries {
			items = append(items, work{entry: e})
		}
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
	return r.rep, r.finish(ctx, state)
}

// unique drops the entries that cannot be applied before any batch: the
// reader's problems, entries without an identifier, and entries that
// share a login, a UPN or an external ID with another entry of the same
// read (a directory with a duplicate UPN): none of those is applied, so
// no user is silently merged with another.
func (r *syncRun) unique(entries []Entry, problems []Problem) []*Entry {
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
	var out []*Entry
	for i := range entries {
		e := &entries[i]
		switch {
		case e.ExternalID == "":
			r.rep.fail(e.DN, "the entry has no immutable identifier (objectGUID or entryUUID); it was not synced")
		case count["x:"+e.ExternalID] > 1:
			r.rep.fail(e.DN, fmt.Sprintf("the identifier %s appears on more than one entry; none of them was synced", e.ExternalID))
		case count["l:"+strings.ToLower(e.Login)] > 1:
			r.rep.fail(e.DN, fmt.Sprintf("the login %q appears on more than one entry; none of them was synced", e.Login))
		case e.UPN != "" && count["u:"+strings.ToLower(e.UPN)] > 1:
			r.rep.fail(e.DN, fmt.Sprintf("the UPN %q appears on more than one entry; none of them was synced", e.UPN))
		default:
			out = append(out, e)
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
				err = r.entry(ctx, tx, b, it.entry)
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
			now := d.rec.Clock()
			if _, err := tx.ClaimJob(JobName(r.src.ID), d.cfg.Holder, now, now.Add(d.cfg.Lease)); err != nil {
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
		return tx.FinishJob(&lanyard.JobRun{Name: JobName(r.src.ID), Holder: d.cfg.Holder, Mark: r.rep.StartedAt, RunAt: r.rep.FinishedAt})
	})
}

// lookup is the user id a store lookup found, nil for none.
func lookup(u *lanyard.User, err error) (*lanyard.User, error) {
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	return u, err
}

// owner describes the account that holds a login or UPN the entry wants.
func owner(u *lanyard.User) string {
	switch u.Source {
	case lanyard.SourceLocal:
		return "the local user " + u.Login
	case lanyard.SourceLDAP:
		return fmt.Sprintf("%s of another directory source (%d)", u.Login, u.SourceID)
	}
	return fmt.Sprintf("%s (%s)", u.Login, u.Source)
}

// entry applies one directory entry in tx.
func (r *syncRun) entry(ctx context.Context, tx lanyard.Tx, b *batchTx, e *Entry) error {
	if msg := checkEntry(e); msg != "" {
		r.rep.fail(e.DN, msg)
		return nil
	}
	u, err := lookup(tx.UserByExternalID(lanyard.SourceLDAP, r.src.ID, e.ExternalID))
	if err != nil {
		return err
	}
	// A login or UPN another account holds is never taken over: the
	// entry is not applied at all (no merge), and the report says why.
	other, err := lookup(tx.UserByLogin(e.Login))
	if err != nil {
		return err
	}
	if other != nil && (u == nil || other.ID != u.ID) {
		r.rep.fail(e.DN, fmt.Sprintf("the login %q belongs to %s; the entry was not synced (rename one of them)", e.Login, owner(other)))
		return nil
	}
	if e.UPN != "" {
		if other, err = lookup(tx.UserByUPN(e.UPN)); err != nil {
			return err
		}
		if other != nil && (u == nil || other.ID != u.ID) {
			r.rep.fail(e.DN, fmt.Sprintf("the UPN %q belongs to %s; the entry was not synced", e.UPN, owner(other)))
			return nil
		}
	}
	groups := normalizeGroups(e.Groups)
	now := r.d.rec.Clock()
	if u == nil {
		u = &lanyard.User{Login: e.Login, DisplayName: orLogin(e.DisplayName, e.Login), Email: e.Email, UPN: e.UPN, ManagerEmail: e.ManagerEmail,
			Groups: groups, Roles: lanyard.Roles{lanyard.RoleUser}, Disabled: e.Disabled, Source: lanyard.SourceLDAP, SourceID: r.src.ID,
			ExternalID: e.ExternalID, DN: e.DN, CreatedAt: now, UpdatedAt: now}
		if !r.dry {
			// The store reads before it writes: a UPN another account held
			// once (upn_history) is refused without spoiling tx.
			if err := tx.CreateUser(u); lanyard.IsCode(err, lanyard.EConflict) {
				r.rep.fail(e.DN, lanyard.ErrorMessage(err)+"; the entry was not synced")
				return nil
			} else if err != nil {
				return err
			}
			b.changed, b.logins = true, append(b.logins, u.Login)
		}
		r.rep.Created++
		b.counts["created"]++
		r.rep.add(Change{Action: "create", Login: u.Login, DN: u.DN})
		return nil
	}
	before := *u
	next := *u
	next.Login, next.DisplayName, next.Email, next.UPN, next.ManagerEmail = e.Login, orLogin(e.DisplayName, e.Login), e.Email, e.UPN, e.ManagerEmail
	next.Groups, next.DN, next.Disabled = groups, e.DN, e.Disabled
	fields := changedFields(&before, &next)
	if len(fields) == 0 {
		r.rep.Unchanged++
		return nil
	}
	c := Change{Action: "update", Login: next.Login, DN: next.DN, Fields: fields}
	switch {
	case next.Disabled && !before.Disabled:
		c.Action = "disable"
	case !next.Disabled && before.Disabled:
		c.Action = "enable"
	}
	if !next.Disabled && !before.Disabled && (slices.Contains(fields, "groups") || slices.Contains(fields, "dn")) {
		c.Moved = policyOf(&before, r.policies) != policyOf(&next, r.policies)
	}
	return r.change(ctx, tx, b, &before, &next, c)
}

// deleted handles an entry removed from the directory: its user is a
// leaver (kept, disabled: their cards and history stay in Lanyard).
func (r *syncRun) deleted(ctx context.Context, tx lanyard.Tx, b *batchTx, ext string) error {
	u, err := lookup(tx.UserByExternalID(lanyard.SourceLDAP, r.src.ID, ext))
	if err != nil || u == nil || u.Disabled {
		return err
	}
	next := *u
	next.Disabled = true
	return r.change(ctx, tx, b, u, &next, Change{Action: "disable", Login: u.Login, DN: u.DN, Fields: []string{"deleted"}})
}

// change writes next over before (not in a dry run) and does what the
// change means: a leaver's sessions, tokens and cards end; a mover's
// issued cards are marked for the Card Monitor and an update.
func (r *syncRun) change(ctx context.Context, tx lanyard.Tx, b *batchTx, before, next *lanyard.User, c Change) error {
	if !r.dry {
		next.UpdatedAt = r.d.rec.Clock()
		if err := tx.UpdateUser(next); lanyard.IsCode(err, lanyard.EConflict) {
			r.rep.fail(next.DN, lanyard.ErrorMessage(err)+"; the entry was not synced")
			return nil
		} else if err != nil {
			return err
		}
	}
	switch c.Action {
	case "disable":
		r.rep.Disabled++
		b.counts["disabled"]++
	case "enable":
		r.rep.Enabled++
		b.counts["enabled"]++
	default:
		r.rep.Updated++
		b.counts["updated"]++
	}
	if c.Moved {
		r.rep.Moved++
		b.counts["moved"]++
	}
	if r.dry {
		r.rep.add(c)
		return nil
	}
	b.changed, b.logins = true, append(b.logins, next.Login)
	switch {
	case c.Action == "disable":
		if err := r.leave(ctx, tx, b, next, &c); err != nil {
			return err
		}
	case c.Moved:
		n, err := r.markDue(tx, next)
		if err != nil {
			return err
		}
		r.rep.CardsDue += n
		b.counts["cards_due"] += n
	}
	r.rep.add(c)
	return nil
}

// leave ends a leaver's sessions (and pending second-factor steps) and
// API tokens, and hands their cards to the card workflows (LeaveTx) with
// the leaver action of their policy (as it was before they were
// disabled), else the source's, else disable.
func (r *syncRun) leave(ctx context.Context, tx lanyard.Tx, b *batchTx, u *lanyard.User, c *Change) error {
	if _, err := tx.DeleteUserLoginChallenges(u.ID); err != nil {
		return err
	}
	if _, err := tx.DeleteUserSessions(u.ID); err != nil {
		return err
	}
	if _, err := tx.RevokeUserTokens(u.ID); err != nil {
		return err
	}
	if r.d.cfg.Cards == nil {
		return nil
	}
	enabled := *u
	enabled.Disabled = false // Effective gives a disabled user no policy
	action := r.src.LeaverAction
	if pol, ok := policy.Effective(&enabled, r.policies); ok && pol.Settings.Workflow.LeaverAction != "" {
		action = pol.Settings.Workflow.LeaverAction
	}
	serials, after, err := r.d.cfg.Cards.LeaveTx(ctx, tx, r.p, u, action.Or(lanyard.LeaverDisable))
	if err != nil {
		return err
	}
	c.Cards = serials
	r.rep.CardsChanged += len(serials)
	b.counts["cards_changed"] += len(serials)
	if after != nil {
		b.after = append(b.after, after)
	}
	return nil
}

// markDue marks u's issued cards for the Card Monitor's next run (their
// record's next check set to now) after a move changed u's effective
// policy: whether an update is due, and what it changes, follows from
// the records under the new policy (issuance.UpdateDue, shown on the
// card and in Self-Service); the update itself is Update card contents.
func (r *syncRun) markDue(tx lanyard.Tx, u *lanyard.User) (int, error) {
	cards, err := tx.ListCards(lanyard.CardFilter{OwnerID: u.ID, State: lanyard.CardIssued})
	if err != nil || len(cards) == 0 {
		return 0, err
	}
	ids := make([]int64, len(cards))
	for i, c := range cards {
		ids[i] = c.ID
	}
	prev, err := tx.CardContents(ids)
	if err != nil {
		return 0, err
	}
	now := r.d.rec.Clock()
	put := make([]*lanyard.CardContent, 0, len(ids))
	for _, id := range ids {
		rec := prev[id]
		if rec == nil {
			rec = &lanyard.CardContent{CardID: id, Status: lanyard.ContentNone}
		}
		rec.NextCheckAt, rec.UpdatedAt = now, now
		put = append(put, rec)
	}
	return len(put), tx.PutCardContents(put)
}

// policyOf names u's effective policy ("" none).
func policyOf(u *lanyard.User, ps []*lanyard.Policy) string {
	if p, ok := policy.Effective(u, ps); ok {
		return p.Name
	}
	return ""
}

// changedFields names the directory-owned fields that differ.
func changedFields(a, b *lanyard.User) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("login", a.Login != b.Login)
	add("display_name", a.DisplayName != b.DisplayName)
	add("email", a.Email != b.Email)
	add("upn", a.UPN != b.UPN)
	add("manager_email", a.ManagerEmail != b.ManagerEmail)
	add("groups", !slices.Equal(a.Groups, b.Groups))
	add("dn", a.DN != b.DN)
	add("disabled", a.Disabled != b.Disabled)
	return out
}

func orLogin(display, login string) string {
	if s := strings.TrimSpace(display); s != "" {
		return s
	}
	return login
}

// normalizeGroups sorts and deduplicates the group DNs, normalized as
// docs/directory.md says (lowercase, no spaces around the commas between
// RDNs), so that they compare with the DNs policies are linked to.
func normalizeGroups(gs []string) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		if n := NormalizeDN(g); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkEntry says why e cannot be a Lanyard account ("" when it can):
// Lanyard's rules for logins, e-mail addresses and UPNs apply to
// directory users too.
func checkEntry(e *Entry) string {
	if !validLogin(e.Login) {
		return fmt.Sprintf("the login %q is not usable in Lanyard (1-128 letters, digits, '-', '_', '.' or '@'); the entry was not synced", e.Login)
	}
	for _, a := range []string{e.Email, e.ManagerEmail} {
		if a != "" {
			if m, err := mail.ParseAddress(a); err != nil || m.Address != a {
				return fmt.Sprintf("the e-mail address %q is not valid; the entry was not synced", a)
			}
		}
	}
	for i := 0; i < len(e.UPN); i++ {
		if e.UPN[i] <= ' ' || e.UPN[i] > '~' {
			return fmt.Sprintf("the UPN %q is not printable ASCII; the entry was not synced", e.UPN)
		}
	}
	return ""
}

func validLogin(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.@", c) >= 0) {
			return false
		}
	}
	return true
}
