package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// storedAttrs is what lanyard.SCIMUser.Attributes holds: the SCIM
// attributes the account has no field for (storage format: never rename
// a tag).
type storedAttrs struct {
	Name    *scim.Name   `json:"name,omitempty"`
	Emails  []scim.Email `json:"emails,omitempty"`
	Manager string       `json:"manager,omitempty"` // the manager's SCIM id
}

// errUnchanged rolls back a write that would change nothing, so that no
// audit event records it; the caller answers with the resource as it is.
var errUnchanged = errors.New("unchanged")

// userChange is what one write did, for its audit event and the work
// after commit.
type userChange struct {
	action      string // scim.user.create, .update, .deactivate, .reactivate, .delete
	changed     []string
	rolesGone   lanyard.Roles // staff roles taken away (stripRoles)
	sessions    int
	tokens      int
	leaverAfter func(context.Context)
}

func (c *userChange) event(s *Provisioning, p *lanyard.Principal, u *lanyard.User) *lanyard.AuditEvent {
	d := map[string]any{"scim_id": u.ExternalID, "changed": c.changed}
	if c.sessions > 0 || c.tokens > 0 {
		d["sessions_ended"], d["tokens_revoked"] = c.sessions, c.tokens
	}
	if len(c.rolesGone) > 0 {
		d["roles_removed"] = c.rolesGone
	}
	return s.rec.Event(p, c.action, "user", u.Login, d)
}

// committed runs what waits for the commit.
func (s *Provisioning) committed(ctx context.Context, c *userChange) {
	if c.tokens > 0 {
		s.credsEnd()
	}
	if c.leaverAfter != nil {
		c.leaverAfter(ctx)
	}
}

// CreateUser creates the account a SCIM client posted (RFC 7644 section
// 3.3). A userName (or UPN) held by a local, directory or other account
// is 409 uniqueness: accounts from different sources are never merged.
// One the same client deleted before (kept, disabled) comes back only
// when the client sends the externalId it had (the same person in the
// client's directory); a new person given a freed userName would
// otherwise inherit the old account's cards, second factor and history,
// so that is 409 too.
func (s *Provisioning) CreateUser(ctx context.Context, p *lanyard.Principal, in *scim.User) (*scim.User, error) {
	var out *scim.User
	var u *lanyard.User
	c := &userChange{action: "scim.user.create"}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, u) }, func(tx lanyard.Tx) error {
		u = &lanyard.User{Source: lanyard.SourceSCIM, Roles: lanyard.Roles{lanyard.RoleUser}, Groups: []string{}}
		su := &lanyard.SCIMUser{Client: clientOf(p)}
		same, err := tx.UsersByLoginFold(strings.TrimSpace(in.UserName))
		if err != nil {
			return err
		}
		for _, o := range same {
			if o.Source != lanyard.SourceSCIM {
				continue
			}
			so, err := tx.SCIMUser(o.ID)
			switch {
			case err != nil && !lanyard.IsCode(err, lanyard.ENotFound):
				return err
			case err == nil && so.Deleted && so.Client == su.Client && so.ExternalID != "" && so.ExternalID == strings.TrimSpace(in.ExternalID):
				u, su = o, so // deleted before by this client: it comes back
			case err == nil && so.Deleted:
				return scim.Conflict("userName %q belonged to a deleted SCIM user with another externalId (or another client); the name stays with that account, whose cards and history name it: give the new person another userName", o.Login)
			}
		}
		if err := s.write(ctx, tx, p, u, su, in, c); err != nil && !errors.Is(err, errUnchanged) {
			return err
		}
		out, err = s.render(tx, u, su)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.committed(ctx, c)
	return out, nil
}

// load finds the SCIM account id of client (404 when unknown, deleted or
// another client's).
func load(tx lanyard.Tx, client, id string) (*lanyard.User, *lanyard.SCIMUser, error) {
	u, err := tx.UserByExternalID(lanyard.SourceSCIM, 0, id)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, scim.NotFound("User", id)
	}
	if err != nil {
		return nil, nil, err
	}
	su, err := tx.SCIMUser(u.ID)
	if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && (su.Deleted || su.Client != client) {
		return nil, nil, scim.NotFound("User", id)
	}
	return u, su, err
}

// GetUser returns the user id of p's client.
func (s *Provisioning) GetUser(ctx context.Context, p *lanyard.Principal, id string) (*scim.User, error) {
	var out *scim.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		u, su, err := load(tx, clientOf(p), id)
		if err != nil {
			return err
		}
		out, err = s.render(tx, u, su)
		return err
	})
	return out, err
}

// ReplaceUser replaces the user id with in (PUT, RFC 7644 section
// 3.5.1): attributes left out are cleared; active left out is true.
func (s *Provisioning) ReplaceUser(ctx context.Context, p *lanyard.Principal, id string, in *scim.User) (*scim.User, error) {
	return s.modify(ctx, p, id, func(*scim.User) (*scim.User, error) { return in, nil })
}

// PatchUser applies a PATCH to the user id (RFC 7644 section 3.5.2).
func (s *Provisioning) PatchUser(ctx context.Context, p *lanyard.Principal, id string, ops []scim.PatchOp) (*scim.User, error) {
	return s.modify(ctx, p, id, func(cur *scim.User) (*scim.User, error) {
		m := scim.ToMap(cur)
		if err := scim.Users.Apply(m, ops); err != nil {
			return nil, err
		}
		var next scim.User
		if err := scim.Users.Decode(m, &next); err != nil {
			return nil, err
		}
		return &next, nil
	})
}

// modify reads the user id, lets change make the new resource from the
// current one and writes it, in one transaction.
func (s *Provisioning) modify(ctx context.Context, p *lanyard.Principal, id string, change func(*scim.User) (*scim.User, error)) (*scim.User, error) {
	var out *scim.User
	var u *lanyard.User
	c := &userChange{action: "scim.user.update"}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, u) }, func(tx lanyard.Tx) error {
		var su *lanyard.SCIMUser
		var err error
		if u, su, err = load(tx, clientOf(p), id); err != nil {
			return err
		}
		cur, err := s.render(tx, u, su)
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if err := s.write(ctx, tx, p, u, su, next, c); err != nil {
			return err
		}
		out, err = s.render(tx, u, su)
		return err
	})
	if errors.Is(err, errUnchanged) {
		return s.GetUser(ctx, p, id)
	}
	if err != nil {
		return nil, err
	}
	s.committed(ctx, c)
	return out, nil
}

// DeleteUser deletes the user id as SCIM sees it (RFC 7644 section
// 3.6): the account stays, since cards, certificates and audit events
// refer to it, but it is disabled as a leaver, leaves its SCIM groups,
// and the endpoint answers 404 for it from now on.
func (s *Provisioning) DeleteUser(ctx context.Context, p *lanyard.Principal, id string) error {
	var u *lanyard.User
	c := &userChange{action: "scim.user.delete"}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, u) }, func(tx lanyard.Tx) error {
		var su *lanyard.SCIMUser
		var err error
		if u, su, err = load(tx, clientOf(p), id); err != nil {
			return err
		}
		gs, err := tx.SCIMGroupsOfUser(u.ID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if err := tx.RemoveSCIMGroupMember(g.ID, u.ID); err != nil {
				return err
			}
		}
		before := *u
		// Handled as a leaver unless its client had deactivated it
		// already (an account staff disabled is handed over now).
		wasDisabled := u.Disabled && u.DisabledBy != lanyard.DisabledByAdmin
		u.Disabled, u.DisabledBy, u.Groups, u.UpdatedAt = true, lanyard.DisabledBySource, []string{}, s.rec.Clock()
		c.strip(u)
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		if err := lanyard.NotifyIDs(tx, lanyard.NoticeUser, u.ID); err != nil {
			return err
		}
		su.Deleted = true
		if err := tx.PutSCIMUser(su); err != nil {
			return err
		}
		c.changed = []string{"deleted"}
		if len(c.rolesGone) > 0 {
			c.changed = append(c.changed, "roles")
		}
		if !wasDisabled {
			return s.leave(ctx, tx, p, u, &before, c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.committed(ctx, c)
	return nil
}

// leave ends a deactivated user's sessions and API tokens and hands
// their cards to the leaver handling, in tx; before is the account as it
// was before the change (for its policy).
func (s *Provisioning) leave(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u, before *lanyard.User, c *userChange) error {
	var err error
	if c.sessions, c.tokens, err = identity.EndCredentials(tx, u.ID); err != nil {
		return err
	}
	if s.leavers == nil {
		return nil
	}
	c.leaverAfter, err = s.leavers.LeaveTx(ctx, tx, p, u, before)
	return err
}

// write makes u (ID 0: a new account) and su hold the resource in, after
// checking it; c says what changed. errUnchanged: nothing did.
func (s *Provisioning) write(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u *lanyard.User, su *lanyard.SCIMUser, in *scim.User, c *userChange) error {
	old := *u
	oldSU := *su
	attrs, err := s.fromResource(tx, su.Client, in, u)
	if err != nil {
		return err
	}
	switch {
	case in.Active != nil && !*in.Active:
		u.Disabled, u.DisabledBy = true, lanyard.DisabledBySource
	case old.Disabled && old.DisabledBy == lanyard.DisabledByAdmin:
		// Staff disabled it in Lanyard: "active" from the client does not
		// undo that; only staff enable it (lanyard.User.DisabledBy).
	default:
		u.Disabled, u.DisabledBy = false, ""
	}
	if err := checkUnique(tx, u); err != nil {
		return err
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		return err
	}
	su.ExternalID, su.Attributes, su.Deleted = strings.TrimSpace(in.ExternalID), b, false
	now := s.rec.Clock()
	if u.ID == 0 {
		if u.ExternalID, err = newID(s.rand); err != nil {
			return err
		}
		u.CreatedAt, u.UpdatedAt = now, now
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		c.changed = []string{"created"}
	} else {
		if old.Disabled != u.Disabled || oldSU.Deleted {
			c.strip(u)
		}
		c.changed = changedFields(&old, u, &oldSU, su)
		if len(c.changed) == 0 {
			return errUnchanged
		}
		if oldSU.Deleted {
			c.action = "scim.user.create" // it came back
		}
		if err := identity.UPNChangeAllowed(tx, u, old.UPN, now); err != nil {
			return err
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		// Every replica's token cache holds the user's roles and state
		// (docs/architecture.md, "Change notices").
		if err := lanyard.NotifyIDs(tx, lanyard.NoticeUser, u.ID); err != nil {
			return err
		}
	}
	su.UserID = u.ID
	if err := tx.PutSCIMUser(su); err != nil {
		return err
	}
	switch {
	case u.Disabled && (old.ID == 0 || !old.Disabled || old.DisabledBy == lanyard.DisabledByAdmin && u.DisabledBy == lanyard.DisabledBySource):
		if old.ID != 0 {
			c.action = "scim.user.deactivate"
			return s.leave(ctx, tx, p, u, &old, c)
		}
	case !u.Disabled && old.ID != 0 && old.Disabled && c.action != "scim.user.create":
		c.action = "scim.user.reactivate" // its cards stay as the leaver handling left them
	}
	return nil
}

// strip takes u's staff roles away (it keeps user) when its account is
// deactivated, deleted, reactivated or revived by a SCIM client: the
// client may only grant user, so an account that comes back never
// brings staff powers with it; an administrator gives them again. The
// roles taken go in the audit event.
func (c *userChange) strip(u *lanyard.User) {
	var keep lanyard.Roles
	for _, r := range u.Roles {
		if r == lanyard.RoleUser {
			keep = append(keep, r)
		} else {
			c.rolesGone = append(c.rolesGone, r)
		}
	}
	if len(c.rolesGone) > 0 {
		u.Roles = append(lanyard.Roles{}, keep...)
		if len(u.Roles) == 0 {
			u.Roles = lanyard.Roles{lanyard.RoleUser}
		}
	}
}

func changedFields(a, b *lanyard.User, sa, sb *lanyard.SCIMUser) []string {
	out := []string{}
	for _, f := range []struct {
		name string
		same bool
	}{
		{"login", a.Login == b.Login}, {"display_name", a.DisplayName == b.DisplayName}, {"email", a.Email == b.Email},
		{"upn", a.UPN == b.UPN}, {"manager_email", a.ManagerEmail == b.ManagerEmail}, {"disabled", a.Disabled == b.Disabled && a.DisabledBy == b.DisabledBy},
		{"external_id", sa.ExternalID == sb.ExternalID}, {"attributes", string(sa.Attributes) == string(sb.Attributes)},
		{"deleted", sa.Deleted == sb.Deleted}, {"roles", slices.Equal(a.Roles, b.Roles)},
	} {
		if !f.same {
			out = append(out, f.name)
		}
	}
	return out
}

// fromResource sets u's directory-owned fields from in and returns the
// attributes kept beside them. userName becomes the login as written
// (identity's login rules: letters, digits, - _ . @), and the UPN too
// when it looks like one (name@suffix): Entra ID sends the UPN as
// userName. The e-mail is the primary one, else the work one, else the
// first. The manager's e-mail is that of the SCIM user the enterprise
// extension's manager names, when Lanyard has one.
func (s *Provisioning) fromResource(tx lanyard.Tx, client string, in *scim.User, u *lanyard.User) (storedAttrs, error) {
	login := strings.TrimSpace(in.UserName)
	if login == "" {
		return storedAttrs{}, scim.Errorf(scim.TypeInvalidValue, "userName is required")
	}
	if !identity.ValidLogin(login) {
		return storedAttrs{}, scim.Errorf(scim.TypeInvalidValue, "userName %q is not a login Lanyard accepts: 1 to 128 ASCII letters, digits and - _ . @", login)
	}
	email := strings.TrimSpace(in.PrimaryEmail())
	if !identity.ValidEmail(email) {
		return storedAttrs{}, scim.Errorf(scim.TypeInvalidValue, "e-mail %q is not a plain address", email)
	}
	attrs := storedAttrs{Emails: in.Emails}
	if in.Name != nil && *in.Name != (scim.Name{}) {
		attrs.Name = in.Name
	}
	display := strings.TrimSpace(in.DisplayName)
	if display == "" && attrs.Name != nil {
		display = strings.TrimSpace(attrs.Name.Formatted)
		if display == "" {
			display = strings.TrimSpace(attrs.Name.GivenName + " " + attrs.Name.FamilyName)
		}
	}
	if len(display) > 256 {
		return storedAttrs{}, scim.Errorf(scim.TypeInvalidValue, "displayName is longer than 256 characters")
	}
	u.Login, u.Email, u.DisplayName, u.UPN, u.ManagerEmail = login, email, display, "", ""
	if looksLikeUPN(login) {
		u.UPN = login
	}
	if in.Enterprise != nil && in.Enterprise.Manager != nil {
		attrs.Manager = strings.TrimSpace(in.Enterprise.Manager.Value)
	}
	if attrs.Manager != "" {
		m, _, err := load(tx, client, attrs.Manager)
		switch {
		case err == nil:
			u.ManagerEmail = m.Email
		case !isSCIMError(err):
			return storedAttrs{}, err
		}
	}
	return attrs, nil
}

// looksLikeUPN reports whether login has the form of a user principal
// name: one @ with a name before it and a suffix after it.
func looksLikeUPN(login string) bool {
	name, suffix, ok := strings.Cut(login, "@")
	return ok && name != "" && suffix != "" && !strings.Contains(suffix, "@") && identity.ValidUPN(login)
}

// checkUnique refuses u's login or UPN when another account holds it,
// the login ignoring ASCII case (SCIM's userName is case-insensitive,
// RFC 7643 section 4.1.1: "Admin" must not sit beside "admin"): 409
// uniqueness, never a merge.
func checkUnique(tx lanyard.Tx, u *lanyard.User) error {
	same, err := tx.UsersByLoginFold(u.Login)
	if err != nil {
		return err
	}
	for _, o := range same {
		if o.ID != u.ID {
			return taken("userName", u.Login, o)
		}
	}
	if u.UPN == "" {
		return nil
	}
	o, err := tx.UserByUPN(u.UPN)
	switch {
	case err == nil && o.ID != u.ID:
		return taken("UPN", u.UPN, o)
	case err != nil && !lanyard.IsCode(err, lanyard.ENotFound):
		return err
	}
	return nil
}

func taken(what, v string, o *lanyard.User) error {
	if o.Source == lanyard.SourceSCIM {
		return scim.Conflict("%s %q is taken by another SCIM user", what, v)
	}
	return scim.Conflict("%s %q belongs to an account this SCIM client did not create (local or from a directory); Lanyard does not merge accounts", what, v)
}

// render builds the resource of u.
func (s *Provisioning) render(tx lanyard.SCIMStore, u *lanyard.User, su *lanyard.SCIMUser) (*scim.User, error) {
	var attrs storedAttrs
	if err := json.Unmarshal(su.Attributes, &attrs); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "stored SCIM attributes")
	}
	active := !u.Disabled
	out := &scim.User{
		Schemas: []string{scim.UserSchema}, ID: u.ExternalID, ExternalID: su.ExternalID, UserName: u.Login,
		Name: attrs.Name, DisplayName: u.DisplayName, Active: &active, Emails: attrs.Emails,
		Meta: &scim.Meta{ResourceType: "User", Created: stamp(u.CreatedAt), LastModified: stamp(u.UpdatedAt), Location: s.base + "/Users/" + u.ExternalID},
	}
	if attrs.Manager != "" {
		out.Schemas = append(out.Schemas, scim.EnterpriseUserSchema)
		out.Enterprise = &scim.Enterprise{Manager: &scim.Manager{Value: attrs.Manager, Ref: s.base + "/Users/" + attrs.Manager}}
	}
	gs, err := tx.SCIMGroupsOfUser(u.ID)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		out.Groups = append(out.Groups, scim.Ref{Value: g.ResourceID, Ref: s.base + "/Groups/" + g.ResourceID, Display: g.DisplayName, Type: "direct"})
	}
	return out, nil
}

func isSCIMError(err error) bool {
	var se *scim.Error
	return errors.As(err, &se)
}

// ListUsers answers a query (RFC 7644 section 3.4.2): filter ("" for
// all), startIndex (1-based) and count (at most scim.MaxResults).
// userName, externalId and id equality, the filters Entra ID and Okta
// send before creating a user, are looked up by index; any other filter
// is evaluated over all SCIM users. Only p's client's users are seen.
func (s *Provisioning) ListUsers(ctx context.Context, p *lanyard.Principal, filter string, startIndex, count int) (*scim.ListResponse, error) {
	client := clientOf(p)
	f, err := parseFilter(filter)
	if err != nil {
		return nil, err
	}
	startIndex, count = max(startIndex, 1), min(count, scim.MaxResults)
	var out *scim.ListResponse
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		if f == nil {
			total, err := tx.CountSCIMUsers(client)
			if err != nil {
				return err
			}
			us, sus, err := tx.ListSCIMUsers(client, startIndex-1, max(count, 0))
			if err != nil {
				return err
			}
			out = &scim.ListResponse{Schemas: []string{scim.ListResponseSchema}, TotalResults: total, StartIndex: startIndex, Resources: []any{}}
			if count <= 0 {
				return nil
			}
			for i, u := range us {
				r, err := s.render(tx, u, sus[i])
				if err != nil {
					return err
				}
				out.Resources = append(out.Resources, r)
			}
			out.ItemsPerPage = len(out.Resources)
			return nil
		}
		us, sus, err := s.candidates(tx, client, f)
		if err != nil {
			return err
		}
		var match []*scim.User
		for i, u := range us {
			r, err := s.render(tx, u, sus[i])
			if err != nil {
				return err
			}
			if scim.Users.Match(f, scim.ToMap(r)) {
				match = append(match, r)
			}
		}
		out = scim.NewListResponse(match, startIndex, count)
		return nil
	})
	return out, err
}

func parseFilter(s string) (scim.Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return scim.ParseFilter(s)
}

// eqString recognizes name eq "value" on a core attribute.
func eqString(f scim.Filter, core string) (name, value string, ok bool) {
	c, isCmp := f.(*scim.Compare)
	if !isCmp || c.Op != "eq" || c.Path.Sub != "" || c.Path.URN != "" && !strings.EqualFold(c.Path.URN, core) {
		return "", "", false
	}
	v, isStr := c.Value.(string)
	return strings.ToLower(c.Path.Name), v, isStr
}

// candidates are the users f may match: found by index for the
// equality filters clients send, all the client's SCIM users otherwise
// (at most FilterScanLimit, else 400 tooMany).
func (s *Provisioning) candidates(tx lanyard.Tx, client string, f scim.Filter) ([]*lanyard.User, []*lanyard.SCIMUser, error) {
	name, v, ok := eqString(f, scim.UserSchema)
	if !ok || name != "username" && name != "externalid" && name != "id" {
		n, err := tx.CountSCIMUsers(client)
		if err != nil {
			return nil, nil, err
		}
		if err := s.tooMany(n, "users"); err != nil {
			return nil, nil, err
		}
		return tx.ListSCIMUsers(client, 0, 0)
	}
	var us []*lanyard.User
	switch name {
	case "username":
		// userName compares ignoring case (RFC 7643 section 4.1.1).
		same, err := tx.UsersByLoginFold(v)
		if err != nil {
			return nil, nil, err
		}
		us = same
	case "id":
		if u, err := tx.UserByExternalID(lanyard.SourceSCIM, 0, v); err == nil {
			us = append(us, u)
		}
	case "externalid":
		ids, err := tx.SCIMUserIDsByExternalID(client, v)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range ids {
			u, err := tx.UserByID(id)
			if err != nil {
				return nil, nil, err
			}
			us = append(us, u)
		}
	}
	var outU []*lanyard.User
	var outS []*lanyard.SCIMUser
	for _, u := range us {
		if u.Source != lanyard.SourceSCIM {
			continue
		}
		su, err := tx.SCIMUser(u.ID)
		if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && (su.Deleted || su.Client != client) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		outU, outS = append(outU, u), append(outS, su)
	}
	return outU, outS, nil
}

// groupNames is the sorted names of gs.
func groupNames(gs []*lanyard.SCIMGroup) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.DisplayName
	}
	slices.Sort(out)
	return out
}
