package provisioning

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
)

// groupChange is what one group write did, for its audit event.
type groupChange struct {
	action         string
	renamed        bool
	added, removed []string // members' logins
	usersRegrouped int
}

func (c *groupChange) event(s *Provisioning, p *lanyard.Principal, g *lanyard.SCIMGroup) *lanyard.AuditEvent {
	d := map[string]any{"scim_id": g.ResourceID, "users_regrouped": c.usersRegrouped}
	if len(c.added) > 0 {
		d["members_added"] = c.added
	}
	if len(c.removed) > 0 {
		d["members_removed"] = c.removed
	}
	if c.renamed {
		d["renamed"] = true
	}
	return s.rec.Event(p, c.action, "scim_group", g.DisplayName, d)
}

// CreateGroup creates a group (RFC 7644 section 3.3). A display name
// another SCIM group has (ignoring case) is 409 uniqueness.
func (s *Provisioning) CreateGroup(ctx context.Context, p *lanyard.Principal, in *scim.Group) (*scim.Group, error) {
	var out *scim.Group
	g := &lanyard.SCIMGroup{Client: clientOf(p)}
	c := &groupChange{action: "scim.group.create"}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, g) }, func(tx lanyard.Tx) error {
		if err := s.writeGroup(tx, g, nil, in, c); err != nil {
			return err
		}
		var err error
		out, err = s.renderGroup(tx, g, true)
		return err
	})
	return out, err
}

// loadGroup finds the group id of client (404 when unknown or another
// client's).
func loadGroup(tx lanyard.SCIMStore, client, id string) (*lanyard.SCIMGroup, error) {
	g, err := tx.SCIMGroupByResourceID(id)
	if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && g.Client != client {
		return nil, scim.NotFound("Group", id)
	}
	return g, err
}

// GetGroup returns the group id, with its members unless members is
// false (excludedAttributes=members, as Entra ID asks for large groups).
func (s *Provisioning) GetGroup(ctx context.Context, p *lanyard.Principal, id string, members bool) (*scim.Group, error) {
	var out *scim.Group
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		g, err := loadGroup(tx, clientOf(p), id)
		if err != nil {
			return err
		}
		out, err = s.renderGroup(tx, g, members)
		return err
	})
	return out, err
}

// ReplaceGroup replaces the group id (PUT): members left out are removed.
func (s *Provisioning) ReplaceGroup(ctx context.Context, p *lanyard.Principal, id string, in *scim.Group) (*scim.Group, error) {
	return s.modifyGroup(ctx, p, id, func(*scim.Group) (*scim.Group, error) { return in, nil })
}

// PatchGroup applies a PATCH to the group id: members added and removed
// (with a path filter or, as Entra ID does, listed in the value), the
// display name replaced.
func (s *Provisioning) PatchGroup(ctx context.Context, p *lanyard.Principal, id string, ops []scim.PatchOp) (*scim.Group, error) {
	return s.modifyGroup(ctx, p, id, func(cur *scim.Group) (*scim.Group, error) {
		m := scim.ToMap(cur)
		if err := scim.Groups.Apply(m, ops); err != nil {
			return nil, err
		}
		var next scim.Group
		if err := scim.Groups.Decode(m, &next); err != nil {
			return nil, err
		}
		return &next, nil
	})
}

func (s *Provisioning) modifyGroup(ctx context.Context, p *lanyard.Principal, id string, change func(*scim.Group) (*scim.Group, error)) (*scim.Group, error) {
	var out *scim.Group
	var g *lanyard.SCIMGroup
	c := &groupChange{action: "scim.group.update"}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, g) }, func(tx lanyard.Tx) error {
		var err error
		if g, err = loadGroup(tx, clientOf(p), id); err != nil {
			return err
		}
		members, err := tx.SCIMGroupMembers(g.ID)
		if err != nil {
			return err
		}
		cur, err := s.renderGroupWith(tx, g, members)
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		if err := s.writeGroup(tx, g, members, next, c); err != nil {
			return err
		}
		out, err = s.renderGroup(tx, g, true)
		return err
	})
	if errors.Is(err, errUnchanged) {
		return s.GetGroup(ctx, p, id, true)
	}
	return out, err
}

// DeleteGroup deletes the group id; its members lose its name.
func (s *Provisioning) DeleteGroup(ctx context.Context, p *lanyard.Principal, id string) error {
	var g *lanyard.SCIMGroup
	c := &groupChange{action: "scim.group.delete"}
	return s.rec.Update(ctx, func() *lanyard.AuditEvent { return c.event(s, p, g) }, func(tx lanyard.Tx) error {
		var err error
		if g, err = loadGroup(tx, clientOf(p), id); err != nil {
			return err
		}
		members, err := tx.SCIMGroupMembers(g.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteSCIMGroup(g.ID); err != nil {
			return err
		}
		for _, u := range members {
			c.removed = append(c.removed, u.Login)
			if err := s.regroup(tx, u, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeGroup makes g (ID 0: new) hold in, with old its members before.
// Members must be users this endpoint provisioned (not deleted); a
// group as a member (nesting) is refused.
func (s *Provisioning) writeGroup(tx lanyard.Tx, g *lanyard.SCIMGroup, old []*lanyard.User, in *scim.Group, c *groupChange) error {
	name := strings.TrimSpace(in.DisplayName)
	if name == "" {
		return scim.Errorf(scim.TypeInvalidValue, "displayName is required")
	}
	if len(name) > 256 || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return scim.Errorf(scim.TypeInvalidValue, "displayName: at most 256 printable characters")
	}
	// User.Groups is one namespace for SCIM group names and directory
	// group DNs (RFC 4514: "CN=Staff,OU=…"); a name with '=' could make
	// a SCIM client's members match a policy linked to a directory group.
	if strings.Contains(name, "=") {
		return scim.Errorf(scim.TypeInvalidValue, "displayName %q: '=' is not allowed (it would read as a directory group's DN)", name)
	}
	o, err := tx.SCIMGroupByName(name)
	switch {
	case err == nil && o.ID != g.ID && o.Client != g.Client:
		return scim.Conflict("a group named %q exists, pushed by another SCIM client (group names are one namespace: policies link to them by name)", name)
	case err == nil && o.ID != g.ID:
		return scim.Conflict("a group named %q exists", o.DisplayName)
	case err != nil && !lanyard.IsCode(err, lanyard.ENotFound):
		return err
	}
	want := map[int64]*lanyard.User{}
	// Members already in need no look-up: a PATCH adding one member to a
	// large group reads only that one.
	current := make(map[string]*lanyard.User, len(old))
	for _, u := range old {
		current[u.ExternalID] = u
	}
	for _, m := range in.Members {
		if m.Type != "" && !strings.EqualFold(m.Type, "User") {
			return scim.Errorf(scim.TypeInvalidValue, "member %q: only users can be members (no nested groups)", m.Value)
		}
		if u := current[m.Value]; u != nil {
			want[u.ID] = u
			continue
		}
		u, _, err := load(tx, g.Client, m.Value)
		if err != nil {
			if _, ok := err.(*scim.Error); ok {
				return scim.Errorf(scim.TypeInvalidValue, "member %q is not a user of this SCIM endpoint", m.Value)
			}
			return err
		}
		want[u.ID] = u
	}
	now := s.rec.Clock()
	c.renamed = g.ID != 0 && g.DisplayName != name
	if g.ID != 0 && !c.renamed && g.ExternalID == strings.TrimSpace(in.ExternalID) && sameMembers(old, want) {
		return errUnchanged // an add of a member already in, say
	}
	g.DisplayName, g.ExternalID, g.UpdatedAt = name, strings.TrimSpace(in.ExternalID), now
	if g.ID == 0 {
		if g.ResourceID, err = newID(s.rand); err != nil {
			return err
		}
		g.CreatedAt = now
		if err := tx.CreateSCIMGroup(g); err != nil {
			return err
		}
	} else if err := tx.UpdateSCIMGroup(g); err != nil {
		return err
	}
	had := map[int64]bool{}
	for _, u := range old {
		had[u.ID] = true
		if want[u.ID] == nil {
			if err := tx.RemoveSCIMGroupMember(g.ID, u.ID); err != nil {
				return err
			}
			c.removed = append(c.removed, u.Login)
			if err := s.regroup(tx, u, c); err != nil {
				return err
			}
		} else if c.renamed {
			if err := s.regroup(tx, u, c); err != nil {
				return err
			}
		}
	}
	ids := make([]int64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if had[id] {
			continue
		}
		if err := tx.AddSCIMGroupMember(g.ID, id); err != nil {
			return err
		}
		c.added = append(c.added, want[id].Login)
		if err := s.regroup(tx, want[id], c); err != nil {
			return err
		}
	}
	return nil
}

func sameMembers(old []*lanyard.User, want map[int64]*lanyard.User) bool {
	if len(old) != len(want) {
		return false
	}
	for _, u := range old {
		if want[u.ID] == nil {
			return false
		}
	}
	return true
}

// regroup sets u's groups to the names of the SCIM groups it is in.
func (s *Provisioning) regroup(tx lanyard.Tx, u *lanyard.User, c *groupChange) error {
	gs, err := tx.SCIMGroupsOfUser(u.ID)
	if err != nil {
		return err
	}
	names := groupNames(gs)
	if slices.Equal(names, u.Groups) {
		return nil
	}
	u.Groups, u.UpdatedAt = names, s.rec.Clock()
	c.usersRegrouped++
	if err := tx.UpdateUser(u); err != nil {
		return err
	}
	return lanyard.NotifyIDs(tx, lanyard.NoticeUser, u.ID)
}

func (s *Provisioning) renderGroup(tx lanyard.Tx, g *lanyard.SCIMGroup, members bool) (*scim.Group, error) {
	var ms []*lanyard.User
	if members {
		var err error
		if ms, err = tx.SCIMGroupMembers(g.ID); err != nil {
			return nil, err
		}
	}
	return s.renderGroupWith(tx, g, ms)
}

func (s *Provisioning) renderGroupWith(_ lanyard.Tx, g *lanyard.SCIMGroup, members []*lanyard.User) (*scim.Group, error) {
	out := &scim.Group{Schemas: []string{scim.GroupSchema}, ID: g.ResourceID, ExternalID: g.ExternalID, DisplayName: g.DisplayName,
		Meta: &scim.Meta{ResourceType: "Group", Created: stamp(g.CreatedAt), LastModified: stamp(g.UpdatedAt), Location: s.base + "/Groups/" + g.ResourceID}}
	for _, u := range members {
		out.Members = append(out.Members, scim.Ref{Value: u.ExternalID, Ref: s.base + "/Users/" + u.ExternalID, Display: u.DisplayName, Type: "User"})
	}
	return out, nil
}

// ListGroups answers a query on groups; displayName and id equality are
// looked up by index, other filters evaluated over all groups. Only p's
// client's groups are seen.
func (s *Provisioning) ListGroups(ctx context.Context, p *lanyard.Principal, filter string, startIndex, count int, members bool) (*scim.ListResponse, error) {
	client := clientOf(p)
	f, err := parseFilter(filter)
	if err != nil {
		return nil, err
	}
	startIndex, count = max(startIndex, 1), min(count, scim.MaxResults)
	var out *scim.ListResponse
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var gs []*lanyard.SCIMGroup
		name, v, ok := eqString(f, scim.GroupSchema)
		switch {
		case ok && name == "displayname":
			if g, err := tx.SCIMGroupByName(v); err == nil && g.Client == client {
				gs = append(gs, g)
			}
		case ok && name == "id":
			if g, err := tx.SCIMGroupByResourceID(v); err == nil && g.Client == client {
				gs = append(gs, g)
			}
		default:
			var err error
			if gs, err = tx.ListSCIMGroups(client); err != nil {
				return err
			}
			if f != nil {
				if err := s.tooMany(len(gs), "groups"); err != nil {
					return err
				}
			}
		}
		var match []*scim.Group
		for _, g := range gs {
			// A filter on members needs them, whatever is returned.
			r, err := s.renderGroup(tx, g, members || f != nil)
			if err != nil {
				return err
			}
			if f == nil || scim.Groups.Match(f, scim.ToMap(r)) {
				if !members {
					r.Members = nil
				}
				match = append(match, r)
			}
		}
		out = scim.NewListResponse(match, startIndex, count)
		return nil
	})
	return out, err
}
