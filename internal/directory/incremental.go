package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Incremental reads what changed since st (see Delta) and returns the next
// State. Like Full, it returns no Delta on any error, including ctx being
// cancelled; st stays valid and the next call reads the same changes again.
//
// Cost, for c changed users, g changed groups holding m members in all, G
// groups and d deleted or moved-out users:
//   - one search of the users whose changed attribute passed the mark
//     (O(c) entries, all mapped attributes);
//   - one search of every group's DN, ID, memberOf and changed attribute
//     (O(G) small entries, no member lists: G is small next to the users)
//     and one read of the member list of each changed group (O(m): a
//     change to a 10,000-member group reads its 10,000 member DNs once);
//   - one base-object read per user whose transitive groups changed
//     without the user entry changing (members added to or removed from a
//     changed group, or below a group whose nesting changed), and for the
//     direct reports of each manager whose mail changed (AD: read from
//     directReports; elsewhere one search of the manager attribute per 50
//     such managers);
//   - AD: one Show Deleted search (1.2.840.113556.1.4.417, MS-ADTS
//     3.1.1.3.4.1.14) of user tombstones newer than the mark, and one
//     search of the person objects in the naming context that changed,
//     each one not in scope read once more to confirm it left (O(d));
//   - OpenLDAP, which keeps no tombstones: with the syncprov overlay, one
//     RFC 4533 refreshOnly search with the last cookie, answered from the
//     provider's session log (O(deleted); a present phase, one small entry
//     per user, when the log no longer covers the cookie); without it, an
//     entryUUID-only sweep of the users (one attribute per user, about 60
//     bytes each on the wire: then the one part proportional to the
//     directory's size rather than the changes).
//
// The mark is exact on AD (uSNChanged) and on OpenLDAP with syncprov
// (entryCSN against contextCSN): nothing unchanged is returned. Without
// syncprov it is modifyTimestamp (see openLDAPMark): entries changed within
// one read's duration of the latest change are returned again, unchanged.
func Incremental(ctx context.Context, cfg Config, st State) (*Delta, State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, State{}, err
	}
	old := st.s
	base, _ := NormalizeDN(cfg.BaseDN)
	if old == nil || old.Kind != cfg.Kind || old.BaseDN != base || old.Mark == "" {
		return nil, State{}, ErrStateKind
	}
	c, err := connect(ctx, &cfg)
	if err != nil {
		return nil, State{}, err
	}
	defer c.Close()
	r := &reader{cfg: &cfg, m: &cfg.Mapping, c: c, managerMail: map[string]manager{}}
	start := time.Now()
	r.clock = old.Clock
	if r.clock == "" {
		r.clock = map[string]string{KindAD: clockUSN, KindOpenLDAP: clockTime}[cfg.Kind]
	}
	ns := &state{Version: stateVersion, Kind: cfg.Kind, BaseDN: base, Clock: r.clock}
	switch r.clock {
	case clockUSN:
		dse, err := c.rootDSE(ctx, "highestCommittedUSN", "dsServiceName")
		if err != nil {
			return nil, State{}, err
		}
		ns.Mark = dse.GetAttributeValue("highestCommittedUSN")
		if ns.Server, err = c.adServer(ctx, dse); err != nil {
			return nil, State{}, err
		}
		if ns.Server != old.Server {
			return nil, State{}, fmt.Errorf("%w: another domain controller (or a restored one) answers: its change numbers are not the ones the last read counted (%s, was %s)", ErrStateKind, ns.Server, old.Server)
		}
	case clockCSN:
		// Read before the searches, as AD's USN is.
		if ns.Mark, err = r.contextCSN(ctx); err != nil {
			return nil, State{}, err
		}
		if ns.Mark == "" {
			return nil, State{}, fmt.Errorf("%w: the directory no longer has a contextCSN (syncprov removed?)", ErrStateKind)
		}
	}
	delta := &Delta{}
	oldG := graph(old.Groups)

	// 1. The group graph, and the groups that changed.
	newG, changedGroups, probs, err := r.readGroupsSince(ctx, old.Mark, oldG)
	if err != nil {
		return nil, State{}, err
	}
	delta.Problems = append(delta.Problems, probs...)
	affected := map[string]bool{}
	for _, n := range changedGroups {
		var before []string
		if o := oldG[n]; o != nil {
			before = o.Members
		}
		for _, m := range diff(before, newG[n].Members) {
			if isGroup(m, []graph{oldG, newG}) {
				membersUnder(m, affected, map[string]bool{}, oldG, newG)
			} else {
				affected[m] = true
			}
		}
	}
	for n, o := range oldG {
		nw := newG[n]
		if nw == nil || !slices.Equal(o.Parents, nw.Parents) {
			membersUnder(n, affected, map[string]bool{}, oldG, newG)
		}
	}

	// 2. Users that changed, then those whose groups changed under them,
	// then the direct reports of changed users.
	users := map[string]*user{} // by normalized DN
	var order []string
	add := func(e *ldap.Entry) {
		u, p := r.user(e)
		if p != nil {
			delta.Problems = append(delta.Problems, *p)
		}
		if u == nil {
			return
		}
		n, err := NormalizeDN(u.e.DN)
		if err != nil || users[n] != nil {
			return
		}
		users[n] = u
		order = append(order, n)
	}
	filter := fmt.Sprintf("(&%s%s)", cfg.UserFilter, r.changedFilter(old.Mark))
	if err := c.search(ctx, cfg.BaseDN, ldap.ScopeWholeSubtree, filter, r.userAttrs(), cfg.PageSize, nil, func(e *ldap.Entry) error {
		add(e)
		return nil
	}); err != nil {
		return nil, State{}, err
	}
	changedIDs := map[string]bool{}
	for _, n := range order {
		changedIDs[users[n].e.ExternalID] = true
		// Keep the cached member lists of unchanged groups true for a
		// user that was renamed or moved (its old DN stays until the
		// group's list is next read; reading it finds nothing).
		for _, d := range users[n].direct {
			if gs := newG[d]; gs != nil && !slices.Contains(gs.Members, n) {
				gs.Members = append(gs.Members, n)
				slices.Sort(gs.Members)
			}
		}
	}
	baseDN, _ := ldap.ParseDN(cfg.BaseDN)
	// A user whose groups changed may have left the user filter with
	// them (a filter on group membership: memberOf is a backlink, so the
	// user's own change number did not move, and the removed-users search
	// below does not see them): such a person is gone from scope.
	var outOfScope []string
	for _, n := range sortedKeys(affected) {
		if users[n] != nil || !under(baseDN, n) {
			continue
		}
		e, err := c.one(ctx, n, cfg.UserFilter, r.userAttrs())
		if err != nil {
			return nil, State{}, err
		}
		if e != nil {
			add(e)
			continue
		}
		if r.m.PersonFilter == "" {
			continue
		}
		p, err := c.one(ctx, n, r.m.PersonFilter, []string{r.m.ExternalID})
		if err != nil {
			return nil, State{}, err
		}
		if p != nil {
			if id, err := r.externalID(p); err == nil {
				outOfScope = append(outOfScope, id)
			}
		}
	}
	// Managers whose mail changed: their direct reports' ManagerEmail
	// follows. AD lists them in directReports (a backlink, no search);
	// elsewhere one search per 50 managers on the (indexed) manager
	// attribute.
	var mailChanged []string
	for _, n := range order {
		u := users[n]
		if mail, ok := old.Managers[u.e.ExternalID]; ok && mail != u.e.Email {
			mailChanged = append(mailChanged, n)
		}
	}
	if cfg.Mapping.Reports != "" {
		var reports []string
		for _, n := range mailChanged {
			for _, d := range users[n].reports {
				if rn, err := NormalizeDN(d); err == nil && users[rn] == nil && under(baseDN, rn) {
					reports = append(reports, rn)
				}
			}
		}
		for _, rn := range sortedSet(reports) {
			e, err := c.one(ctx, rn, cfg.UserFilter, r.userAttrs())
			if err != nil {
				return nil, State{}, err
			}
			if e != nil {
				add(e)
			}
		}
	} else if cfg.Mapping.Manager != "" {
		for i := 0; i < len(mailChanged); i += 50 {
			var or strings.Builder
			for _, n := range mailChanged[i:min(i+50, len(mailChanged))] {
				fmt.Fprintf(&or, "(%s=%s)", cfg.Mapping.Manager, ldap.EscapeFilter(users[n].e.DN))
			}
			f := fmt.Sprintf("(&%s(|%s))", cfg.UserFilter, or.String())
			if err := c.search(ctx, cfg.BaseDN, ldap.ScopeWholeSubtree, f, r.userAttrs(), cfg.PageSize, nil, func(e *ldap.Entry) error {
				add(e)
				return nil
			}); err != nil {
				return nil, State{}, err
			}
		}
	}

	// 3. Removed users.
	removed, present, cookie, err := r.removed(ctx, old, changedIDs)
	if err != nil {
		return nil, State{}, err
	}
	removed = sortedSet(append(removed, outOfScope...))
	gone := map[string]bool{}
	for _, id := range removed {
		gone[id] = true
	}
	delta.Removed = removed

	// 4. Whole entries.
	ns.Managers = make(map[string]string, len(old.Managers))
	for id, mail := range old.Managers {
		if !gone[id] {
			ns.Managers[id] = mail
		}
	}
	for _, n := range order {
		u := users[n]
		if gone[u.e.ExternalID] {
			continue
		}
		u.e.Groups = newG.closure(u.direct)
		p, err := r.resolveManager(ctx, u, users)
		if err != nil {
			return nil, State{}, err
		}
		if u.managerID != "" {
			ns.Managers[u.managerID] = u.e.ManagerEmail
		}
		if _, ok := ns.Managers[u.e.ExternalID]; ok {
			ns.Managers[u.e.ExternalID] = u.e.Email
		}
		if p != nil {
			delta.Problems = append(delta.Problems, *p)
		}
		delta.Changed = append(delta.Changed, u.e)
	}
	if err := ctx.Err(); err != nil {
		return nil, State{}, err
	}
	delta.Problems = append(delta.Problems, dedupe(delta.Changed)...)
	sortEntries(delta.Changed)
	ns.Groups = newG
	if cfg.Kind == KindOpenLDAP {
		if present == nil { // sync mode: the known users, updated
			present = slices.Clone(old.Users)
			for _, e := range delta.Changed {
				present = append(present, e.ExternalID)
			}
			present = slices.DeleteFunc(sortedSet(present), func(id string) bool { return gone[id] })
		}
		ns.Users = present
		ns.Cookie = cookie
	}
	if r.clock == clockTime {
		ns.Mark = openLDAPMark(old.Mark, r.maxSeen, time.Since(start))
	}
	return delta, State{s: ns}, nil
}

// readGroupsSince reads the group graph as readGroups does, then the
// member list of each group that changed since mark or is new; the other
// groups keep their cached members.
func (r *reader) readGroupsSince(ctx context.Context, mark string, oldG graph) (graph, []string, []Problem, error) {
	var changed []*ldap.Entry
	g := graph{}
	var probs []Problem
	err := r.scanGroups(ctx, &probs, func(e *ldap.Entry, n string, gs *groupState) {
		g[n] = gs
		if o := oldG[n]; o == nil || o.ID != gs.ID || r.changedSince(e, mark) {
			changed = append(changed, e)
		} else {
			gs.Members = slices.Clone(o.Members)
		}
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var names []string
	for _, e := range changed {
		n, _ := NormalizeDN(e.DN)
		full, err := r.c.one(ctx, e.DN, "(objectClass=*)", []string{r.m.Member})
		if err != nil {
			return nil, nil, nil, err
		}
		if full == nil {
			delete(g, n) // deleted since the graph was read
			continue
		}
		vals, err := r.c.members(ctx, full, r.m.Member)
		if err != nil {
			return nil, nil, nil, err
		}
		var ms []string
		for _, v := range vals {
			if mn, err := NormalizeDN(v); err == nil {
				ms = append(ms, mn)
			}
		}
		g[n].Members = sortedSet(ms)
		names = append(names, n)
	}
	return g, names, probs, nil
}

// removed finds the users deleted or gone out of scope since the mark
// (see Incremental's cost). present is the OpenLDAP sweep's user IDs.
func (r *reader) removed(ctx context.Context, old *state, changedIDs map[string]bool) (removed, present []string, cookie []byte, err error) {
	cfg := r.cfg
	if cfg.Kind == KindOpenLDAP && len(old.Cookie) > 0 {
		res, err := r.syncRefresh(ctx, cfg.UserFilter, old.Cookie)
		switch {
		case err == nil:
			return syncRemoved(res, old.Users), nil, res.cookie, nil
		case !errors.Is(err, errNoSync):
			return nil, nil, nil, err
		}
		// The provider went away: sweep.
	}
	if cfg.Kind == KindOpenLDAP {
		present = make([]string, 0, len(old.Users))
		err := r.c.search(ctx, cfg.BaseDN, ldap.ScopeWholeSubtree, cfg.UserFilter, []string{r.m.ExternalID}, cfg.PageSize, nil, func(e *ldap.Entry) error {
			if id, err := r.externalID(e); err == nil {
				present = append(present, id)
			}
			return nil
		})
		if err != nil {
			return nil, nil, nil, err
		}
		slices.Sort(present)
		for _, id := range old.Users {
			if _, found := slices.BinarySearch(present, id); !found {
				removed = append(removed, id)
			}
		}
		return removed, present, nil, nil
	}
	nc, err := r.namingContext(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	since := r.changedFilter(old.Mark)
	// Tombstones keep objectClass, objectGUID and uSNChanged but lose
	// objectCategory (MS-ADTS 3.1.1.5.5.1.1), so the person filter would
	// miss them.
	tomb := fmt.Sprintf("(&(isDeleted=TRUE)(objectClass=user)%s)", since)
	err = r.c.search(ctx, nc, ldap.ScopeWholeSubtree, tomb, []string{r.m.ExternalID}, cfg.PageSize,
		[]ldap.Control{ldap.NewControlMicrosoftShowDeleted()}, func(e *ldap.Entry) error {
			if id, err := r.externalID(e); err == nil {
				removed = append(removed, id)
			}
			return nil
		})
	if err != nil {
		return nil, nil, nil, err
	}
	var candidates []*ldap.Entry
	err = r.c.search(ctx, nc, ldap.ScopeWholeSubtree, fmt.Sprintf("(&%s%s)", r.m.PersonFilter, since), []string{r.m.ExternalID}, cfg.PageSize, nil, func(e *ldap.Entry) error {
		if id, err := r.externalID(e); err == nil && !changedIDs[id] {
			candidates = append(candidates, e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	baseDN, _ := ldap.ParseDN(cfg.BaseDN)
	for _, e := range candidates {
		// Confirm: an entry changed after the users' search would
		// otherwise look gone until the next read.
		if n, err := NormalizeDN(e.DN); err == nil && under(baseDN, n) {
			still, err := r.c.one(ctx, e.DN, cfg.UserFilter, []string{r.m.ExternalID})
			if err != nil {
				return nil, nil, nil, err
			}
			if still != nil {
				continue
			}
		}
		id, _ := r.externalID(e)
		removed = append(removed, id)
	}
	return sortedSet(removed), nil, nil, nil
}

// under reports whether dn is base or below it.
func under(base *ldap.DN, dn string) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && (base.EqualFold(d) || base.AncestorOfFold(d))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
