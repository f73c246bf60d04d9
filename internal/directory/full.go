package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Full reads every user and group (see the package doc). It returns an
// error and no Snapshot when anything fails, including ctx being cancelled
// half-way: a partial read would look like mass deletion to a sync.
//
// Cost: one paged search of the groups (DN, ExternalID, memberOf, changed:
// no member lists, the graph's edges come from memberOf), one paged search
// of the users (the mapped attributes, memberOf included), and one
// base-object read per distinct manager outside the users read; the
// transitive closure is computed in memory, O(memberships). On AD the
// closure equals an LDAP_MATCHING_RULE_IN_CHAIN search per user, without
// its per-user query.
func Full(ctx context.Context, cfg Config) (*Snapshot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c, err := connect(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &reader{cfg: &cfg, m: &cfg.Mapping, c: c, managerMail: map[string]manager{}}
	start := time.Now()
	st := &state{Version: stateVersion, Kind: cfg.Kind, Groups: map[string]*groupState{}}
	st.BaseDN, _ = NormalizeDN(cfg.BaseDN)
	if cfg.Kind == KindAD {
		// Read before the searches: whatever changes during them has a
		// higher USN and is read again by the next Incremental.
		dse, err := c.rootDSE(ctx, "highestCommittedUSN", "dsServiceName")
		if err != nil {
			return nil, err
		}
		st.Mark = dse.GetAttributeValue("highestCommittedUSN")
		if st.Mark == "" {
			return nil, fmt.Errorf("directory %s: the root DSE has no highestCommittedUSN; is this Active Directory?", c.addr)
		}
		if st.Server, err = c.adServer(ctx, dse); err != nil {
			return nil, err
		}
	}
	if cfg.Kind == KindAD {
		r.clock = clockUSN
	} else {
		csn, err := r.contextCSN(ctx)
		if err != nil {
			return nil, err
		}
		r.clock, st.Mark = clockTime, ""
		if csn != "" {
			r.clock, st.Mark = clockCSN, csn
		}
	}
	st.Clock = r.clock
	if cfg.Kind == KindOpenLDAP {
		// A cookie taken before the reads: deletions during them are
		// reported by the next Incremental. A filter matching nothing
		// makes it cost one round trip.
		res, err := r.syncRefresh(ctx, "(!(objectClass=*))", nil)
		switch {
		case err == nil:
			st.Cookie = res.cookie
		case !errors.Is(err, errNoSync):
			return nil, err
		}
	}
	snap := &Snapshot{}
	g, probs, err := r.readGroups(ctx)
	if err != nil {
		return nil, err
	}
	st.Groups = g
	snap.Problems = append(snap.Problems, probs...)

	var users []*user
	err = c.search(ctx, cfg.BaseDN, ldap.ScopeWholeSubtree, cfg.UserFilter, r.userAttrs(), cfg.PageSize, nil, func(e *ldap.Entry) error {
		u, p := r.user(e)
		if p != nil {
			snap.Problems = append(snap.Problems, *p)
		}
		if u != nil {
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	known := make(map[string]*user, len(users))
	for _, u := range users {
		if n, err := NormalizeDN(u.e.DN); err == nil {
			known[n] = u
			// A group's direct members, from the users' memberOf.
			for _, d := range u.direct {
				if gs := g[d]; gs != nil {
					gs.Members = append(gs.Members, n)
				}
			}
		}
	}
	for _, gs := range g {
		gs.Members = sortedSet(gs.Members)
	}
	snap.Entries = make([]Entry, 0, len(users))
	for _, u := range users {
		u.e.Groups = g.closure(u.direct)
		p, err := r.resolveManager(ctx, u, known)
		if err != nil {
			return nil, err
		}
		if u.managerID != "" {
			if st.Managers == nil {
				st.Managers = map[string]string{}
			}
			st.Managers[u.managerID] = u.e.ManagerEmail
		}
		if p != nil {
			snap.Problems = append(snap.Problems, *p)
		}
		snap.Entries = append(snap.Entries, u.e)
		if cfg.Kind == KindOpenLDAP {
			st.Users = append(st.Users, u.e.ExternalID)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap.Problems = append(snap.Problems, dedupe(snap.Entries)...)
	sortEntries(snap.Entries)
	slices.Sort(st.Users)
	if r.clock == clockTime {
		st.Mark = openLDAPMark("", r.maxSeen, time.Since(start))
	}
	snap.State = State{s: st}
	return snap, nil
}

// readGroups reads every group's DN, ExternalID and memberOf (the graph's
// edges, child to parent) and makes each parent list its nested groups as
// members.
func (r *reader) readGroups(ctx context.Context) (graph, []Problem, error) {
	g := graph{}
	var probs []Problem
	err := r.scanGroups(ctx, &probs, func(_ *ldap.Entry, n string, gs *groupState) {
		g[n] = gs
	})
	if err != nil {
		return nil, nil, err
	}
	for n, gs := range g {
		for _, p := range gs.Parents {
			if ps := g[p]; ps != nil {
				ps.Members = append(ps.Members, n)
			}
		}
	}
	return g, probs, nil
}

// scanGroups reads every group's DN, ExternalID and memberOf, and hands
// each readable one to fn (groupOf); a group whose DN or identifier
// cannot be read is a Problem and is skipped.
func (r *reader) scanGroups(ctx context.Context, probs *[]Problem, fn func(e *ldap.Entry, n string, gs *groupState)) error {
	return r.c.search(ctx, r.cfg.BaseDN, ldap.ScopeWholeSubtree, r.cfg.GroupFilter, r.groupAttrs(), r.cfg.PageSize, nil, func(e *ldap.Entry) error {
		r.seen(e)
		n, gs, err := r.groupOf(e)
		if err != nil {
			*probs = append(*probs, Problem{DN: e.DN, Message: fmt.Sprintf("group skipped: %v", err)})
			return nil
		}
		fn(e, n, gs)
		return nil
	})
}

// groupOf is group entry e's normalized DN and its node of the graph: its
// identifier and its parents (memberOf, the graph's edges, child to
// parent), members not yet filled in.
func (r *reader) groupOf(e *ldap.Entry) (string, *groupState, error) {
	n, err := NormalizeDN(e.DN)
	if err != nil {
		return "", nil, err
	}
	id, err := r.externalID(e)
	if err != nil {
		return "", nil, err
	}
	gs := &groupState{ID: id}
	for _, p := range e.GetEqualFoldAttributeValues(r.m.MemberOf) {
		if pn, err := NormalizeDN(p); err == nil {
			gs.Parents = append(gs.Parents, pn)
		}
	}
	gs.Parents = sortedSet(gs.Parents)
	return n, gs, nil
}

// openLDAPMark is the next OpenLDAP high-water mark. modifyTimestamp has
// one-second resolution and the client's clock is not the server's, so the
// mark is the latest stamp seen minus the read's duration and a second:
// anything changed while the read ran was stamped after the server's clock
// passed that point, and is read again next time (RFC 4512 3.4's
// modifyTimestamp is set by the server). It never goes back.
func openLDAPMark(prev string, maxSeen time.Time, elapsed time.Duration) string {
	if maxSeen.IsZero() {
		if prev == "" {
			return "19700101000000Z"
		}
		return prev
	}
	m := maxSeen.Add(-elapsed - time.Second).Truncate(time.Second)
	if prev != "" {
		if p, err := ParseGeneralizedTime(prev); err == nil && !m.After(p) {
			return prev
		}
	}
	return formatGeneralizedTime(m)
}
