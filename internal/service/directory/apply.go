package directory

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Applying one entry, or one deletion, inside a batch's transaction:
// collisions, the user's fields, leavers and movers.

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
		if u.SourceID < 0 {
			return fmt.Sprintf("%s of a deleted directory source (%d)", u.Login, -u.SourceID)
		}
		return fmt.Sprintf("%s of another directory source (%d)", u.Login, u.SourceID)
	}
	return fmt.Sprintf("%s (%s)", u.Login, u.Source)
}

// entry applies one directory entry in tx. reject, when set, is why the
// entry cannot be applied whole, found before the batch (unique).
//
// An entry that cannot be applied whole (reject, a field Lanyard
// refuses, a login or UPN another account holds) is not applied: no
// merge, and the report says why. But when it is the entry of an
// existing user and it is disabled, the user is disabled all the same
// and handled as a leaver: a leaver must never stay enabled because,
// say, their manager's address is invalid. Either way the sync retries
// the entry at the next sync (syncRun.retry).
func (r *syncRun) entry(ctx context.Context, tx lanyard.Tx, b *batchTx, e *Entry, reject string) error {
	u, err := lookup(tx.UserByExternalID(lanyard.SourceLDAP, r.src.ID, e.ExternalID))
	if err != nil {
		return err
	}
	var why []string
	if reject != "" {
		why = append(why, reject)
	}
	if msg := checkEntry(e); msg != "" {
		why = append(why, msg)
	}
	r.keepValidMail(e, u)
	// A login or UPN another account holds is never taken over.
	if lanyard.ValidLogin(e.Login) {
		other, err := lookup(tx.UserByLogin(e.Login))
		if err != nil {
			return err
		}
		if other != nil && (u == nil || other.ID != u.ID) {
			why = append(why, fmt.Sprintf("the login %q belongs to %s; the entry was not synced (rename one of them)", e.Login, owner(other)))
		}
	}
	if e.UPN != "" {
		other, err := lookup(tx.UserByUPN(e.UPN))
		if err != nil {
			return err
		}
		if other != nil && (u == nil || other.ID != u.ID) {
			why = append(why, fmt.Sprintf("the UPN %q belongs to %s; the entry was not synced", e.UPN, owner(other)))
		}
	}
	if len(why) > 0 {
		return r.refused(ctx, tx, b, e, u, why)
	}
	groups := normalizeGroups(e.Groups)
	// The DN is kept normalized, as policies' containers and groups are,
	// so that policy.Effective compares like with like.
	dn := NormalizeDN(e.DN)
	now := r.d.rec.Clock()
	if u == nil {
		u = &lanyard.User{Login: e.Login, DisplayName: orLogin(e.DisplayName, e.Login), Email: e.Email, UPN: e.UPN, ManagerEmail: e.ManagerEmail,
			Groups: groups, Roles: lanyard.Roles{lanyard.RoleUser}, Disabled: e.Disabled, Source: lanyard.SourceLDAP, SourceID: r.src.ID,
			ExternalID: e.ExternalID, DN: dn, CreatedAt: now, UpdatedAt: now}
		if e.Disabled {
			u.DisabledBy = lanyard.DisabledBySource
		}
		if !r.dry {
			// The store reads before it writes: a UPN another account held
			// once (upn_history) is refused without spoiling tx.
			if err := tx.CreateUser(u); lanyard.IsCode(err, lanyard.EConflict) {
				r.retry = true
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
	next.Groups, next.DN = groups, dn
	sourceDisable(&next, e.Disabled)
	fields := changedFields(&before, &next)
	if len(fields) == 0 {
		r.rep.Unchanged++
		return nil
	}
	c := Change{Action: "update", Login: next.Login, DN: next.DN, Fields: fields}
	switch {
	case next.Disabled && (!before.Disabled || before.DisabledBy == lanyard.DisabledByAdmin && next.DisabledBy == lanyard.DisabledBySource):
		c.Action = "disable"
	case !next.Disabled && before.Disabled:
		c.Action = "enable"
	}
	if !next.Disabled && !before.Disabled && (slices.Contains(fields, "groups") || slices.Contains(fields, "dn")) {
		c.Moved = policyOf(&before, r.policies) != policyOf(&next, r.policies)
	}
	return r.change(ctx, tx, b, &before, &next, c)
}

// refused reports why e was not applied (why) and marks the sync for a
// retry; when e is the entry of an existing user u that is disabled, u
// is disabled all the same (only that field changes) and handled as a
// leaver.
func (r *syncRun) refused(ctx context.Context, tx lanyard.Tx, b *batchTx, e *Entry, u *lanyard.User, why []string) error {
	r.retry = true
	for _, msg := range why {
		r.rep.fail(e.DN, msg)
	}
	if u == nil || !e.Disabled || u.Disabled && u.DisabledBy != lanyard.DisabledByAdmin {
		return nil
	}
	next := *u
	sourceDisable(&next, true)
	return r.change(ctx, tx, b, u, &next, Change{Action: "disable", Login: u.Login, DN: u.DN, Fields: []string{"disabled"}})
}

// deleted handles an entry removed from the directory: its user is a
// leaver (kept, disabled: their cards and history stay in Lanyard).
func (r *syncRun) deleted(ctx context.Context, tx lanyard.Tx, b *batchTx, ext string) error {
	u, err := lookup(tx.UserByExternalID(lanyard.SourceLDAP, r.src.ID, ext))
	if err != nil || u == nil || u.Disabled && u.DisabledBy != lanyard.DisabledByAdmin {
		return err
	}
	next := *u
	sourceDisable(&next, true)
	return r.change(ctx, tx, b, u, &next, Change{Action: "disable", Login: u.Login, DN: u.DN, Fields: []string{"deleted"}})
}

// sourceDisable sets u's state to what its directory says (disabled),
// keeping a disable by staff in Lanyard (lanyard.DisabledByAdmin) when
// the directory says enabled: staff stopped the account, and only staff
// enable it. A directory that disables an account staff had disabled
// takes it over (DisabledBySource), and the leaver handling runs then.
func sourceDisable(u *lanyard.User, disabled bool) {
	switch {
	case disabled:
		u.Disabled, u.DisabledBy = true, lanyard.DisabledBySource
	case u.Disabled && u.DisabledBy == lanyard.DisabledByAdmin:
		// stays disabled by staff
	default:
		u.Disabled, u.DisabledBy = false, ""
	}
}

// change writes next over before (not in a dry run) and does what the
// change means: a leaver's sessions, tokens and cards end; a mover's
// issued cards are marked for the Card Monitor and an update.
func (r *syncRun) change(ctx context.Context, tx lanyard.Tx, b *batchTx, before, next *lanyard.User, c Change) error {
	if !r.dry {
		next.UpdatedAt = r.d.rec.Clock()
		if err := tx.UpdateUser(next); lanyard.IsCode(err, lanyard.EConflict) {
			r.retry = true
			r.rep.fail(next.DN, lanyard.ErrorMessage(err)+"; the entry was not synced")
			if next.Disabled && (!before.Disabled || before.DisabledBy != next.DisabledBy) && !slices.Equal(c.Fields, []string{"disabled"}) {
				// A leaver is disabled all the same (entry).
				only := *before
				sourceDisable(&only, true)
				return r.change(ctx, tx, b, before, &only, Change{Action: "disable", Login: before.Login, DN: before.DN, Fields: []string{"disabled"}})
			}
			return nil
		} else if err != nil {
			return err
		}
		// Every replica's token cache holds the user's roles and state
		// (docs/architecture.md, "Change notices").
		if err := tx.Notify(lanyard.NoticeUser, strconv.FormatInt(next.ID, 10)); err != nil {
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
	upn := before.UPN != "" && !strings.EqualFold(before.UPN, next.UPN)
	if upn {
		live, err := liveCerts(tx, before.ID, r.d.rec.Clock())
		if err != nil {
			return err
		}
		if live > 0 {
			c.Warning = fmt.Sprintf("the UPN changed from %s to %s while %d live certificates issued by Lanyard still name %s: "+
				"smart card logon maps them by the old UPN; update the cards or revoke the certificates", before.UPN, next.UPN, live, before.UPN)
		}
	}
	if r.dry {
		r.rep.add(c)
		return nil
	}
	b.changed, b.logins = true, append(b.logins, next.Login)
	switch {
	case c.Action == "disable":
		if err := r.leave(ctx, tx, b, before, next, &c); err != nil {
			return err
		}
	case c.Moved || upn:
		// A mover's cards, and the cards of a user whose UPN changed
		// (their certificates name the old one), are checked and
		// updated (the Card Monitor, Update card contents).
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
// the leaver action of their policy, else the source's, else disable.
// The policy is before's, the user as stored before this change, enabled:
// a leaver disabled, taken out of their groups and moved to a leavers'
// OU in one change keeps the leaver action of the policy they had.
func (r *syncRun) leave(ctx context.Context, tx lanyard.Tx, b *batchTx, before, u *lanyard.User, c *Change) error {
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
	enabled := *before
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

// liveCerts counts the certificates Lanyard issued to user id that may
// still be used or issued at now (as identity's UPN change rule counts
// them): waiting for approval or issue, or valid and not expired.
func liveCerts(tx lanyard.Tx, id int64, now time.Time) (int, error) {
	certs, err := tx.ListCertificates(lanyard.CertFilter{UserID: id})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range certs {
		if c.Source != lanyard.SourceManaged {
			continue
		}
		switch c.Status {
		case lanyard.CertPending, lanyard.CertApproved:
			n++
		case lanyard.CertValid, lanyard.CertWritten:
			if now.Before(c.NotAfter) {
				n++
			}
		}
	}
	return n, nil
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
	add("disabled", a.Disabled != b.Disabled || a.DisabledBy != b.DisabledBy)
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
	if !lanyard.ValidLogin(e.Login) {
		return fmt.Sprintf("the login %q is not usable in Lanyard (1-128 letters, digits, '-', '_', '.' or '@'); the entry was not synced", e.Login)
	}
	for i := 0; i < len(e.UPN); i++ {
		if e.UPN[i] <= ' ' || e.UPN[i] > '~' {
			return fmt.Sprintf("the UPN %q is not printable ASCII; the entry was not synced", e.UPN)
		}
	}
	return ""
}

// keepValidMail replaces an invalid e-mail or manager e-mail of e by what
// the user u has (nothing for a new user) and reports it. Addresses are
// not what identifies a person: refusing the whole entry for one would
// freeze the user's groups, DN and policy at their last good state — and
// where people may write their own mail attribute (OpenLDAP's common
// "by self write"), a user taken out of a group could keep its policy by
// spoiling their address. The rest of the entry applies.
func (r *syncRun) keepValidMail(e *Entry, u *lanyard.User) {
	fix := func(a *string, keep, what string) {
		if *a == "" || validMail(*a) {
			return
		}
		r.rep.fail(e.DN, fmt.Sprintf("the %s %q is not valid; %s", what, *a, map[bool]string{true: "the address Lanyard had is kept", false: "none is kept"}[keep != ""]))
		*a = keep
	}
	var mailKept, managerKept string
	if u != nil {
		mailKept, managerKept = u.Email, u.ManagerEmail
	}
	fix(&e.Email, mailKept, "e-mail address")
	fix(&e.ManagerEmail, managerKept, "manager's e-mail address")
}

func validMail(a string) bool {
	m, err := mail.ParseAddress(a)
	return err == nil && m.Address == a
}
