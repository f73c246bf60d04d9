package identity

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// UserInput creates or changes a user. On update, nil fields stay as they
// are.
type UserInput struct {
	Login        string
	DisplayName  *string
	Email        *string
	UPN          *string
	ManagerEmail *string
	Groups       *[]string
	Roles        *lanyard.Roles
	Disabled     *bool
	Password     *string // never stored or logged; hashed with argon2id
}

func validEmail(s string) bool {
	if s == "" {
		return true
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// validUPN reports whether upn is printable ASCII without spaces. A UPN
// names one user ignoring case, and both databases and Go must fold it the
// same way: SQLite's lower() folds ASCII letters only, PostgreSQL's
// follows the database locale, strings.EqualFold all of Unicode; on ASCII
// they agree with strings.ToLower.
func validUPN(upn string) bool {
	for i := 0; i < len(upn); i++ {
		if upn[i] <= ' ' || upn[i] > '~' {
			return false
		}
	}
	return true
}

// apply copies the set fields of in onto u and validates the result.
func (in *UserInput) apply(u *lanyard.User) error {
	if in.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*in.DisplayName)
	}
	if in.Email != nil {
		u.Email = strings.TrimSpace(*in.Email)
	}
	if in.UPN != nil {
		u.UPN = strings.TrimSpace(*in.UPN)
	}
	if in.ManagerEmail != nil {
		u.ManagerEmail = strings.TrimSpace(*in.ManagerEmail)
	}
	if in.Groups != nil {
		g := slices.Clone(*in.Groups)
		slices.Sort(g)
		u.Groups = slices.Compact(g)
	}
	if in.Roles != nil {
		rs, err := in.Roles.Normalize()
		if err != nil {
			return err
		}
		u.Roles = rs
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	switch {
	case !validEmail(u.Email):
		return lanyard.Errorf(lanyard.EInvalid, "e-mail %q is not a valid address", u.Email)
	case !validEmail(u.ManagerEmail):
		return lanyard.Errorf(lanyard.EInvalid, "manager e-mail %q is not a valid address", u.ManagerEmail)
	case len(u.DisplayName) > 256 || len(u.UPN) > 256:
		return lanyard.Errorf(lanyard.EInvalid, "display name and UPN are limited to 256 characters")
	case in.UPN != nil && !validUPN(u.UPN):
		return lanyard.Errorf(lanyard.EInvalid, "UPN %q: use printable ASCII letters, digits and punctuation, without spaces", u.UPN)
	case u.UPN != "" && !strings.Contains(u.UPN, "@"):
		return lanyard.Errorf(lanyard.EInvalid, "UPN %q must look like name@domain", u.UPN)
	}
	for _, g := range u.Groups {
		if g == "" || len(g) > 128 {
			return lanyard.Errorf(lanyard.EInvalid, "group names must be 1-128 characters")
		}
	}
	if u.Roles == nil {
		u.Roles = lanyard.Roles{}
	}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	return nil
}

// CreateUser adds a user. Without roles the user gets the user role;
// only administrators create staff accounts (CheckAccountChange).
func (s *Identity) CreateUser(ctx context.Context, p *lanyard.Principal, in UserInput) (*lanyard.User, error) {
	if !lanyard.ValidLogin(in.Login) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "login %q: use 1-128 letters, digits, '-', '_', '.' or '@'", in.Login)
	}
	if in.Roles == nil {
		in.Roles = &lanyard.Roles{lanyard.RoleUser}
	}
	now := s.rec.Clock()
	u := &lanyard.User{Login: in.Login, DisplayName: in.Login, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(u); err != nil {
		return nil, err
	}
	if err := CheckAccountChange(p.Roles, AccountChange{Login: u.Login, After: u.Roles, NewRoles: true, UPN: u.UPN != ""}); err != nil {
		return nil, err
	}
	if in.Password != nil {
		h, err := s.hashPassword(ctx, *in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "user.create", "user", u.Login, map[string]any{"roles": u.Roles, "groups": u.Groups, "password_set": u.PasswordHash != ""})
	}, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UpdateUser changes a user's attributes, roles or password, as
// CheckAccountChange allows. A password that someone else sets on a staff
// account ends that account's sessions and revokes its API tokens in the
// same transaction: whoever held them before the reset loses them. A UPN
// is not changed while certificates name it (upnChangeAllowed).
//
// Granting a role beyond user needs a new password in the same change
// (checkStaffGrant): the help desk may have set the account's password
// while it was a plain user's, and would otherwise sign in to the new
// staff account and enrol its second factor first.
func (s *Identity) UpdateUser(ctx context.Context, p *lanyard.Principal, login string, in UserInput) (*lanyard.User, error) {
	var pwHash string
	if in.Password != nil {
		h, err := s.hashPassword(ctx, *in.Password)
		if err != nil {
			return nil, err
		}
		pwHash = h
	}
	var u *lanyard.User
	revoked := 0
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		var err error
		if u, err = tx.UserByLogin(login); err != nil {
			return err
		}
		before, oldUPN := slices.Clone(u.Roles), u.UPN
		orig := *u
		if err := in.apply(u); err != nil {
			return err
		}
		if err := sourceOwned(&orig, u, pwHash != ""); err != nil {
			return err
		}
		change := AccountChange{Login: u.Login, Self: p.User != nil && p.User.ID == u.ID, Before: before, After: u.Roles,
			NewRoles: !slices.Equal(before, u.Roles), Profile: true, UPN: !strings.EqualFold(oldUPN, u.UPN)}
		if err := CheckAccountChange(p.Roles, change); err != nil {
			return err
		}
		// An account whose password lives at its source cannot be given
		// one here; its sessions end below instead, so that it signs in
		// again through the staff login and its second factor.
		if err := checkStaffGrant(change, pwHash != "" || orig.External()); err != nil {
			return err
		}
		if err := s.upnChangeAllowed(tx, u, oldUPN); err != nil {
			return err
		}
		details := map[string]any{"changed": in.changed(), "roles": u.Roles, "disabled": u.Disabled}
		if pwHash != "" && !change.Self {
			// Whoever sets someone's password can sign in as them: a
			// random PIN kept for the owner's first look (an issue by
			// staff) is not shown to that session.
			n, err := dropOwnerPINs(tx, u.ID)
			if err != nil {
				return err
			}
			if n > 0 {
				details["held_pins_erased"] = n
			}
		}
		if pwHash != "" {
			u.PasswordHash = pwHash
			if !change.Self && (holdsStaffRole(before) || holdsStaffRole(u.Roles)) {
				var ended int
				if ended, revoked, err = endCredentials(tx, u.ID); err != nil {
					return err
				}
				details["sessions_ended"], details["tokens_revoked"] = ended, revoked
			}
		}
		if orig.External() && !holdsStaffRole(before) && holdsStaffRole(u.Roles) {
			var ended int
			if ended, revoked, err = endCredentials(tx, u.ID); err != nil {
				return err
			}
			details["sessions_ended"], details["tokens_revoked"] = ended, revoked
		}
		if !holdsStaffRole(before) && holdsStaffRole(u.Roles) {
			// A plain account's authenticator app may be one the help desk
			// enrolled while it knew the password: a new staff member
			// enrols their own at the first staff login.
			err := tx.DeleteTOTPEnrollment(u.ID)
			if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
				return err
			}
			details["authenticator_reset"] = err == nil
		}
		u.UpdatedAt = s.rec.Clock()
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := notifyUserChanged(tx, u.ID); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "user.update", "user", u.Login, details))
	})
	if u != nil {
		// Cached principals carry the user's roles, state and tokens;
		// purged after commit (this user's only: the notice names it).
		s.tokenCache.PurgeTag(u.ID)
	}
	if err != nil {
		return nil, err
	}
	if revoked > 0 {
		s.tokensRevoked()
	}
	return u, nil
}

// sourceOwned refuses a change to what an account's source owns: the
// profile (names, e-mail, UPN, manager, groups) of an account that a
// directory sync or a SCIM client keeps, and its password (such accounts
// sign in at their source: LDAP bind, single sign-on or a card). The next
// sync or push would silently undo such an edit, and a UPN or group set
// here would decide certificates and policies behind the directory's
// back. Lanyard's own fields (roles) stay editable. Values sent unchanged
// pass, so a form that sends the whole account still saves a role change.
//
// Disabling is allowed (after.DisabledBy becomes DisabledByAdmin, which a
// later sync or push respects); enabling only undoes such a disable: an
// account its source disabled is enabled at the source.
func sourceOwned(before, after *lanyard.User, newPassword bool) error {
	if !before.External() {
		return nil
	}
	var owned []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"display name", before.DisplayName != after.DisplayName},
		{"e-mail", before.Email != after.Email},
		{"UPN", before.UPN != after.UPN},
		{"manager e-mail", before.ManagerEmail != after.ManagerEmail},
		{"groups", !slices.Equal(before.Groups, after.Groups)},
		{"password", newPassword},
	} {
		if f.changed {
			owned = append(owned, f.name)
		}
	}
	where := "its directory"
	if before.Source == lanyard.SourceSCIM {
		where = "the identity provider that provisions it (SCIM)"
	}
	if len(owned) > 0 {
		return lanyard.Errorf(lanyard.EInvalid, "%s comes from %s: change %s there; only roles and an administrative disable are kept in Lanyard",
			before.Login, where, strings.Join(owned, ", "))
	}
	switch {
	case after.Disabled && !before.Disabled:
		// Staff stop the account at once, whatever the source says
		// (a compromised account, one whose source is gone): the next
		// sync or push leaves it disabled.
		after.DisabledBy = lanyard.DisabledByAdmin
	case !after.Disabled && before.Disabled && before.DisabledBy != lanyard.DisabledByAdmin && !sourceGone(before):
		return lanyard.Errorf(lanyard.EInvalid, "%s was disabled by %s: enable it there", before.Login, where)
	case !after.Disabled && before.Disabled:
		after.DisabledBy = ""
	}
	return nil
}

// sourceGone reports whether u's directory source was deleted (its users
// keep the deleted source's ID negated, internal/service/directory): no
// source will ever enable them again, so staff may.
func sourceGone(u *lanyard.User) bool { return u.Source == lanyard.SourceLDAP && u.SourceID < 0 }

// checkStaffGrant refuses to grant a role beyond user to an existing
// account without setting a new password in the same change (UpdateUser
// then ends the account's sessions, login challenges and tokens, and the
// authenticator app of an account that becomes staff).
func checkStaffGrant(c AccountChange, newPassword bool) error {
	for _, r := range c.After {
		if r != lanyard.RoleUser && !c.Before.Has(r) && !newPassword {
			return lanyard.Errorf(lanyard.EInvalid, "%s: set a new password when granting a staff role, and hand it to the person", c.Login)
		}
	}
	return nil
}

// changed names the fields in sets, sorted, for the audit event.
func (in *UserInput) changed() []string {
	changed := []string{}
	for name, set := range map[string]bool{"display_name": in.DisplayName != nil, "email": in.Email != nil, "upn": in.UPN != nil,
		"manager_email": in.ManagerEmail != nil, "groups": in.Groups != nil, "roles": in.Roles != nil, "disabled": in.Disabled != nil, "password": in.Password != nil} {
		if set {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	return changed
}

// endCredentials ends userID's browser sessions and pending logins
// (between password and second factor: the password they checked may be
// the one being replaced) and revokes its API tokens, and says how many
// sessions and tokens it ended.
func endCredentials(tx interface {
	lanyard.SessionStore
	lanyard.TokenStore
	lanyard.NoticeStore
}, userID int64) (sessions, tokens int, err error) {
	if sessions, err = endSessions(tx, userID); err != nil {
		return 0, 0, err
	}
	if tokens, err = tx.RevokeUserTokens(userID); err != nil {
		return 0, 0, err
	}
	return sessions, tokens, notifyUserChanged(tx, userID)
}

// upnChangeAllowed refuses to change the UPN of u (from old) while
// certificates Lanyard issued still name the old one: not revoked and not
// expired, or requested and waiting for approval. Smart card logon maps a
// certificate's UPN to an account, so freeing a UPN that live
// certificates carry would let the next holder's account be reached with
// them. Changing only the case keeps the same UPN (it is unique ignoring
// case) and is allowed.
func (s *Identity) upnChangeAllowed(tx interface {
	lanyard.CertificateStore
	lanyard.RequestStore
}, u *lanyard.User, old string) error {
	if old == "" || strings.EqualFold(old, u.UPN) {
		return nil
	}
	certs, err := tx.ListCertificates(lanyard.CertFilter{UserID: u.ID})
	if err != nil {
		return err
	}
	now, live := s.rec.Clock(), 0
	for _, c := range certs {
		if c.Source == lanyard.SourceManaged && certNamesUser(c, now) {
			live++
		}
	}
	reqs, err := tx.ListRequests(lanyard.RequestPending)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if r.UserID == u.ID {
			live++
		}
	}
	if live > 0 {
		return lanyard.Errorf(lanyard.EConflict, "%s holds %d certificates or pending requests that name the UPN %s; revoke them (or reject the requests) before changing the UPN", u.Login, live, old)
	}
	return nil
}

// certNamesUser reports whether c may still be used or issued at now:
// waiting for approval or issue, or valid and not expired.
func certNamesUser(c *lanyard.Certificate, now time.Time) bool {
	switch c.Status {
	case lanyard.CertPending, lanyard.CertApproved:
		return true
	case lanyard.CertValid, lanyard.CertWritten:
		return now.Before(c.NotAfter)
	}
	return false
}

func (s *Identity) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := auth.CheckPassword(pw); err != nil {
		return "", err
	}
	return auth.HashPassword(ctx, pw, s.rand)
}

// GetUser returns a user. Users without staff roles may read only
// themselves.
func (s *Identity) GetUser(ctx context.Context, p *lanyard.Principal, login string) (*lanyard.User, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor, lanyard.RoleDocumentOfficer, lanyard.RoleCAManager) && p.User.Login != login {
		return nil, lanyard.Errorf(lanyard.ENotFound, "user %q not found", login)
	}
	var u *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	return u, err
}

// ListUsers lists users matching f.
func (s *Identity) ListUsers(ctx context.Context, f lanyard.UserFilter) ([]*lanyard.User, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListUsers(f); return })
	return out, err
}

// UserLogins maps user IDs to logins, for views that show who owns
// something; unknown IDs are left out.
func (s *Identity) UserLogins(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		for _, id := range ids {
			if _, ok := out[id]; ok {
				continue
			}
			u, err := tx.UserByID(id)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out[id] = u.Login
		}
		return nil
	})
	return out, err
}

// dropOwnerPINs erases, in tx, every random PIN kept for userID's first
// look (lanyard.HeldPINOwner: a PIN set while staff issued the user's
// card) and says how many.
func dropOwnerPINs(tx lanyard.HeldPINStore, userID int64) (int, error) {
	held, err := tx.HeldPINsOf(userID, lanyard.HeldPINOwner)
	if err != nil {
		return 0, err
	}
	for _, h := range held {
		if err := tx.DeleteHeldPIN(h.OperationID, h.Purpose); err != nil {
			return 0, err
		}
	}
	return len(held), nil
}
